// Runs the orchestrator against the local environment (npm run env:up): the admin kubeconfig in
// .local/, moto as AWS, webhooks registered by URL on loopback. Used by `npm run dev`, the demo
// and the end-to-end tests, so all three exercise the same wiring as production.
import { readState, type EnvState } from '../../test/env/state.js';
import { parsePlatformConfig, type PlatformConfig } from '../../policy/config.js';
import { connectionFromKubeconfigFile, type KubeConnection } from '../kube/connection.js';
import { KubeRest, isAlreadyExists, paths } from '../kube/rest.js';
import { createLogger, type Logger } from '../log.js';
import { startOrchestrator, type Orchestrator, type OrchestratorOptions } from '../orchestrator.js';
import { registerLocalWebhooks, unregisterLocalWebhooks, type LocalWebhookOptions } from './register-webhooks.js';

export const LOCAL_DOMAINS = ['opendi.com', 'in-muenchen.de'];

export function requireLocalEnv(): EnvState {
  const state = readState();
  if (!state?.ready) throw new Error('the local environment is not running: start it with `npm run env:up`');
  return state;
}

/** The platform config for the local environment; `overrides` is merged over it (one level deep). */
export function localPlatformConfig(state: EnvState, overrides: Record<string, unknown> = {}): PlatformConfig {
  const base: Record<string, Record<string, unknown> | unknown> = {
    clusterId: 'local',
    allowedDomains: LOCAL_DOMAINS.map((domain) => ({ domain })),
    aws: { region: state.aws.region, endpoint: state.aws.endpoint, rates: { route53: 50, acm: 50, elbv2: 50 } },
    // Locally the admin user (system:masters) acts as platform admin.
    orchestrator: { breakGlassGroups: ['system:masters', 'gateway-orchestrator:break-glass'] },
    reconcile: { resyncSeconds: 30, claimGraceSeconds: 20 },
    // Named per process, so concurrent local processes (tests, dev) never overwrite each other.
    webhook: {
      port: 0,
      metricsPort: 0,
      validatingConfigurationName: `gateway-orchestrator-local-${process.pid}`,
      mutatingConfigurationName: `gateway-orchestrator-local-${process.pid}`,
    },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null && !Array.isArray(current)
        ? { ...current, ...value }
        : value;
  }
  return parsePlatformConfig(merged);
}

export function localConnection(state: EnvState): Promise<KubeConnection> {
  return connectionFromKubeconfigFile(state.kubeconfig);
}

/** The AWS SDK reads credentials from the environment; point it at moto. */
export function useLocalAwsCredentials(state: EnvState): void {
  process.env['AWS_ACCESS_KEY_ID'] = state.aws.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = state.aws.secretAccessKey;
  process.env['AWS_REGION'] = state.aws.region;
}

export async function ensureNamespaces(rest: KubeRest, names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}

export const webhookNames = (config: PlatformConfig) => ({
  validating: config.webhook.validatingConfigurationName,
  mutating: config.webhook.mutatingConfigurationName,
});

export function localWebhookOptions(config: PlatformConfig, urlBase: string, caBundlePem: string): LocalWebhookOptions {
  return {
    urlBase,
    caBundlePem,
    names: webhookNames(config),
    poolNamespace: config.pool.namespace,
    orchestratorNamespace: config.orchestrator.namespace,
  };
}

export interface LocalOrchestrator extends Orchestrator {
  config: PlatformConfig;
}

/** Starts an orchestrator on 127.0.0.1 and registers its webhooks; stop() unregisters them. */
export async function startLocalOrchestrator(
  options: {
    config?: PlatformConfig;
    log?: Logger;
    startReconciler?: OrchestratorOptions['startReconciler'];
    webhook?: OrchestratorOptions['webhook'];
  } = {},
): Promise<LocalOrchestrator> {
  const state = requireLocalEnv();
  useLocalAwsCredentials(state);
  const config = options.config ?? localPlatformConfig(state);
  const kube = await localConnection(state);
  const rest = KubeRest.connect(kube);
  await ensureNamespaces(rest, [config.orchestrator.namespace, config.pool.namespace]);
  const orchestrator = await startOrchestrator({
    config,
    kube,
    log: options.log ?? createLogger(process.env['LOG_LEVEL'] ?? 'warn'),
    ...(options.startReconciler ? { startReconciler: options.startReconciler } : {}),
    webhook: { host: '127.0.0.1', port: 0, metricsPort: 0, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], ...options.webhook },
  });
  await registerLocalWebhooks(rest, localWebhookOptions(config, `https://127.0.0.1:${orchestrator.port}`, orchestrator.tls.caBundle()));
  await waitForWebhooks(rest, orchestrator.port);
  return {
    ...orchestrator,
    config,
    async stop() {
      await unregisterLocalWebhooks(rest, webhookNames(config));
      await orchestrator.stop();
    },
  };
}

/**
 * The API server picks up new webhook configurations through its own informers (one per kind), so
 * both must show: a dry-run create answered by our mutating webhook (hostname normalised) and one
 * denied by our validating webhook (a domain outside the allowlist).
 */
export async function waitForWebhooks(rest: KubeRest, port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  const probe = (hostname: string) => ({
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name: 'webhook-probe', namespace: 'default', annotations: { 'gateway-orchestrator.io/probe-port': String(port) } },
    spec: { hostname, zoneId: 'ZPROBE' },
  });
  let mutating = false;
  let validating = false;
  for (;;) {
    if (!mutating) {
      const created = await rest.create<{ spec: { hostname: string } }>(paths.requests('default'), probe('WEBHOOK-PROBE.opendi.com'), { dryRun: true }).catch(() => undefined);
      mutating = created?.spec.hostname === 'webhook-probe.opendi.com';
    }
    if (!validating) {
      const denied = await rest.create(paths.requests('default'), probe('webhook-probe.not-allowlisted.invalid'), { dryRun: true }).then(
        () => false,
        (err: unknown) => String(err).includes('Allowed domains'),
      );
      validating = denied;
    }
    if (mutating && validating) return;
    if (Date.now() > deadline) throw new Error(`webhooks registered but the API server does not call them yet (mutating ${mutating}, validating ${validating})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
