// One process, two halves: every replica serves the admission webhooks from its caches; the
// elected leader also runs the reconciler. This module wires them; main.ts is the CLI around it.
import type { FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type { PlatformConfig } from '../policy/config.js';
import { createCaches, type Caches } from './caches.js';
import type { KubeConnection } from './kube/connection.js';
import { KubeRest } from './kube/rest.js';
import { createLogger, type Logger } from './log.js';
import { WebhookTls } from './tls.js';
import { buildMetricsServer, buildWebhookServer, reloadTls } from './webhook-server.js';
import { ClaimStore } from './admission/claims.js';
import { EventRecorder } from './admission/events.js';
import {
  mutateRequestHandler,
  validateProtectedHandler,
  validateRequestHandler,
  validateRouteHandler,
  type AdmissionState,
  type Handler,
} from './admission/handlers.js';
import { withAudit, withErrors, withMetrics } from './admission/review.js';

export interface OrchestratorOptions {
  config: PlatformConfig;
  /** The API server and credentials (kube/connection.ts: in-cluster, or a kubeconfig file). */
  kube: KubeConnection;
  log?: Logger;
  webhook?: {
    host?: string;
    /** Overrides config.webhook.port; 0 picks a free port. */
    port?: number;
    /** Overrides config.webhook.metricsPort; 0 picks a free port, -1 disables. */
    metricsPort?: number;
    /** Extra names for the serving certificate (the Service names are always included). */
    dnsNames?: string[];
    ipAddresses?: string[];
    tlsCheckIntervalMs?: number;
    tlsOverlapMs?: number;
  };
  /** Starts the leader-elected reconciler; absent: webhooks only. */
  startReconciler?: (deps: ReconcilerDeps) => Promise<{ stop(): Promise<void> }>;
}

export interface ReconcilerDeps {
  config: PlatformConfig;
  rest: KubeRest;
  caches: Caches;
  log: Logger;
  /** Zone names learned from Route53; the admission side reads them to check request zones. */
  zoneNames: Map<string, string>;
}

export interface Orchestrator {
  port: number;
  metricsPort: number | undefined;
  tls: WebhookTls;
  caches: Caches;
  events: EventRecorder;
  rest: KubeRest;
  zoneNames: Map<string, string>;
  /** Forces a TLS step (tests, operators): renew the serving certificate or start a CA rotation. */
  rotateTls(options: { ca?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const { config } = options;
  const log = options.log ?? createLogger();
  const rest = KubeRest.connect(options.kube);
  const caches = createCaches(rest, config, log);
  const zoneNames = new Map<string, string>();
  const events = new EventRecorder(rest, log.child({ component: 'events' }));

  const service = config.webhook.serviceName;
  const ns = config.orchestrator.namespace;
  const tls = new WebhookTls({
    rest,
    log: log.child({ component: 'tls' }),
    namespace: ns,
    secretName: config.webhook.tlsSecretName,
    dnsNames: [`${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`, ...(options.webhook?.dnsNames ?? [])],
    ipAddresses: options.webhook?.ipAddresses ?? [],
    ...(options.webhook?.tlsOverlapMs !== undefined ? { overlapMs: options.webhook.tlsOverlapMs } : {}),
  });
  await tls.sync();
  const bundle = tls.bundle;
  if (!bundle) throw new Error('webhook TLS could not be loaded');

  const state: AdmissionState = {
    config,
    index: caches.index,
    claims: new ClaimStore(rest),
    zoneNameOf: (zoneId) => zoneNames.get(zoneId),
  };
  const wrap = (webhook: string, handler: Handler): Handler =>
    withMetrics(webhook, withAudit(webhook, withErrors(handler, log), { log, events }));
  const ready = () => {
    const unsynced = caches.all.filter((c) => !c.synced).length;
    if (unsynced > 0) return { ready: false, detail: `${unsynced} caches not synced yet` };
    return { ready: true, detail: 'caches synced, TLS loaded' };
  };

  const app: FastifyInstance<HttpsServer> = await buildWebhookServer({
    log,
    tls: { cert: bundle.cert, key: bundle.key },
    ready,
    serveMetrics: true,
    routes: {
      '/mutate/gatewayhostnamerequests': wrap('mutate-requests', mutateRequestHandler(state)),
      '/validate/gatewayhostnamerequests': wrap('validate-requests', validateRequestHandler(state)),
      '/validate/routes': wrap('validate-routes', validateRouteHandler(state)),
      '/validate/protected': wrap('validate-protected', validateProtectedHandler(state)),
    },
  });

  await Promise.all(caches.all.map((c) => c.start()));
  await Promise.all(caches.all.map((c) => c.waitForSync()));

  const host = options.webhook?.host ?? '0.0.0.0';
  await app.listen({ host, port: options.webhook?.port ?? config.webhook.port });
  const port = (app.server.address() as { port: number }).port;

  const metricsPortSetting = options.webhook?.metricsPort ?? config.webhook.metricsPort;
  let metricsApp: FastifyInstance | undefined;
  let metricsPort: number | undefined;
  if (metricsPortSetting >= 0) {
    metricsApp = await buildMetricsServer(ready);
    await metricsApp.listen({ host, port: metricsPortSetting });
    metricsPort = (metricsApp.server.address() as { port: number }).port;
  }

  const webhookNames = { validating: config.webhook.validatingConfigurationName, mutating: config.webhook.mutatingConfigurationName };
  const applyTls = async (step: { forceCaRotation?: boolean; forceCertRenewal?: boolean } = {}) => {
    const changed = await tls.sync(step);
    // Bundle first: the API server must trust a new CA before any certificate it signed is served.
    await tls.injectCaBundle(webhookNames);
    if (changed && tls.bundle) {
      reloadTls(app, { cert: tls.bundle.cert, key: tls.bundle.key });
      log.info('webhook serving certificate reloaded');
    }
  };
  await applyTls();
  const tlsTimer = setInterval(() => {
    applyTls().catch((err: unknown) => log.warn({ err: String(err) }, 'webhook TLS check failed'));
  }, options.webhook?.tlsCheckIntervalMs ?? 60_000);
  tlsTimer.unref();

  const reconciler = options.startReconciler
    ? await options.startReconciler({ config, rest, caches, log: log.child({ component: 'reconcile' }), zoneNames })
    : undefined;

  log.info({ port, metricsPort, reconciler: !!reconciler }, 'gateway-orchestrator started');
  return {
    port,
    metricsPort,
    tls,
    caches,
    events,
    rest,
    zoneNames,
    rotateTls: (o) => applyTls(o.ca ? { forceCaRotation: true } : { forceCertRenewal: true }),
    async stop() {
      clearInterval(tlsTimer);
      await reconciler?.stop();
      await app.close();
      await metricsApp?.close();
      await Promise.all(caches.all.map((c) => c.stop()));
      await events.drain();
    },
  };
}
