// The orchestrator as a child process the fault tests can SIGKILL: webhooks and the
// leader-elected reconciler against the local environment, configured by the parent with a
// ChildConfig (JSON in FAULTS_CHILD, or else the first line on stdin: the harness starts spare
// processes that load their modules and wait). It does not register webhooks (the parent does,
// once, for the fixed port every incarnation listens on) and serves only the parent's namespaces.
//
//   FAULTS_CHILD='{...}' node --import=tsx test/faults/orchestrator-process.ts
//
// On stdout, one line per event (CHILD_EVENT_PREFIX and JSON): {"event":"ready",...} once it
// serves, {"event":"leader"} when it gains the lease, {"event":"step",...} after every write the
// reconciler makes (AWS and Kubernetes, leases and Events left out), and {"event":"crash",...}
// just before it kills itself with SIGKILL after the step named in `crash` (a wrapper around the
// AWS ports and the Kubernetes client: reconcile/ itself knows nothing of this). It exits when
// its stdin closes (the parent is gone), and stops cleanly on SIGTERM.
import { pino } from 'pino';
import type { AwsPorts } from '../../reconcile/ports.js';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import { startReconciler, type RunningReconciler } from '../../reconcile/start.js';
import type { KubeRest } from '../../server/kube/rest.js';
import { startOrchestrator, type Orchestrator } from '../../server/orchestrator.js';
import { localConnection, localPlatformConfig, requireLocalEnv, useLocalAwsCredentials } from '../../server/dev/local.js';
import { laggingCache } from '../helpers/lagging-cache.js';
import { CHILD_EVENT_PREFIX, crashesAt, describeWrite, type ChildConfig, type ChildEvent, type Write } from './child-protocol.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const emit = (e: ChildEvent) => process.stdout.write(`${CHILD_EVENT_PREFIX}${JSON.stringify(e)}\n`);

/**
 * The configuration: FAULTS_CHILD, or else the first line on stdin. A parent starts spare
 * processes that way, so their modules are loaded by the time it needs them.
 */
function readConfig(): Promise<ChildConfig> {
  const text = process.env['FAULTS_CHILD'];
  if (text) return Promise.resolve(JSON.parse(text) as ChildConfig);
  return new Promise((resolve) => {
    let buffer = '';
    const onData = (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      process.stdin.off('data', onData);
      resolve(JSON.parse(buffer.slice(0, nl)) as ChildConfig);
    };
    process.stdin.setEncoding('utf8').on('data', onData);
  });
}

async function main(): Promise<void> {
  // The parent holds our stdin: when it goes, so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  const child = await readConfig();
  const state = requireLocalEnv();
  useLocalAwsCredentials(state);
  const config = localPlatformConfig(state, {
    aws: { region: state.aws.region, endpoint: child.awsEndpoint, rates: child.rates ?? { route53: 50, acm: 50, elbv2: 50 } },
    pool: { namespace: child.poolNamespace },
    orchestrator: { namespace: child.orchestratorNamespace, breakGlassGroups: ['system:masters', 'gateway-orchestrator:break-glass'] },
    reconcile: { resyncSeconds: 3600, claimGraceSeconds: 3, concurrency: 4 },
    webhook: {
      port: child.webhookPort,
      metricsPort: 0,
      validatingConfigurationName: child.webhookConfigurationName,
      mutatingConfigurationName: child.webhookConfigurationName,
    },
  });
  // Logs go to stderr: stdout carries the events for the parent.
  const log = pino({ level: process.env['LOG_LEVEL'] ?? 'warn', base: { app: 'gateway-orchestrator', replica: child.identity } }, pino.destination(2));

  const after = (w: Write) => {
    emit({ event: 'step', at: Date.now(), step: describeWrite(w) });
    if (child.crash && crashesAt(child.crash.step, child.crash.hostname, w)) {
      emit({ event: 'crash', at: Date.now(), step: child.crash.step, detail: describeWrite(w) });
      process.kill(process.pid, 'SIGKILL');
    }
  };

  const wrapPorts = (ports: AwsPorts): AwsPorts => ({
    route53: {
      getHostedZone: (id) => ports.route53.getHostedZone(id),
      listRecords: (id) => ports.route53.listRecords(id),
      changeRecords: async (zoneId, changes) => {
        await ports.route53.changeRecords(zoneId, changes);
        after({ kind: 'route53.changeRecords', changes });
      },
    },
    acm: {
      listCertificates: () => ports.acm.listCertificates(),
      describeCertificate: (arn) => ports.acm.describeCertificate(arn),
      listTags: (arn) => ports.acm.listTags(arn),
      requestCertificate: async (input) => {
        const arn = await ports.acm.requestCertificate(input);
        after({ kind: 'acm.requestCertificate', domainName: input.domainName });
        return arn;
      },
      deleteCertificate: async (arn) => {
        const result = await ports.acm.deleteCertificate(arn);
        after({ kind: 'acm.deleteCertificate', arn });
        return result;
      },
    },
    elbv2: ports.elbv2,
  });

  const wrapRest = (rest: KubeRest): KubeRest =>
    new Proxy(rest, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (prop !== 'create' && prop !== 'replace' && prop !== 'patch' && prop !== 'delete') return value.bind(target);
        return async (...args: unknown[]) => {
          const path0 = String(args[0]).split('?')[0] ?? '';
          const delay = (child.delays ?? []).find((d) => d.method === prop && path0.includes(d.pathIncludes) && (d.times ?? 1) > 0);
          if (delay) {
            delay.times = (delay.times ?? 1) - 1;
            emit({ event: 'delay', at: Date.now(), step: `kube.${prop} ${path0}`, ms: delay.ms });
            await new Promise((r) => setTimeout(r, delay.ms));
          }
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const path = String(args[0]).split('?')[0] ?? '';
          if (!path.includes('/leases/') && !path.includes('/leases') && !path.includes('/events')) {
            const body = prop === 'patch' ? args[2] : prop === 'delete' ? undefined : args[1];
            after({ kind: 'kube', method: prop, path, body: body === undefined ? '' : JSON.stringify(body) });
          }
          return result;
        };
      },
    });

  let orchestrator: Orchestrator | undefined;
  let running: RunningReconciler | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code || 1), 10_000);
    timer.unref();
    await orchestrator?.stop().catch(() => undefined);
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
  process.stdin.removeAllListeners('end').on('end', () => void stop(0));
  process.stdin.resume();

  return (async () => {
    orchestrator = await startOrchestrator({
      config,
      kube: await localConnection(state),
      log,
      webhook: { host: '127.0.0.1', port: child.webhookPort, metricsPort: 0, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] },
      startReconciler: async (deps) =>
        (running = await startReconciler(
          {
            ...deps,
            rest: wrapRest(deps.rest),
            ...(child.requestWatchLagMs ? { caches: { ...deps.caches, requests: laggingCache(deps.caches.requests, child.requestWatchLagMs) } } : {}),
          },
          {
            ports: wrapPorts(createAwsPorts(config.aws)),
            identity: child.identity,
            namespaces: (ns) => ns.startsWith(child.namespacePrefix),
            leaseDurationMs: child.leaseDurationMs ?? 4_000,
            renewIntervalMs: child.renewIntervalMs ?? 1_000,
            batchWindowMs: 100,
            // moto accepts a CREATE over an existing record where Route53 refuses the batch:
            // re-reading the zone before every CREATE keeps the test honest (as in the e2e harness).
            zoneFreshMs: 0,
            observer: { describeBaseMs: 1_000, listenerBaseMs: 500, loadBalancerMinIntervalMs: 1_000 },
            ...(child.resyncMs !== undefined ? { resyncMs: child.resyncMs } : {}),
          },
        )),
    });
    emit({ event: 'ready', pid: process.pid, port: orchestrator.port, metricsPort: orchestrator.metricsPort ?? 0, caBundle: orchestrator.tls.caBundle() });
    let leading = false;
    setInterval(() => {
      const now = running?.isLeader ?? false;
      if (now && !leading) emit({ event: 'leader', at: Date.now() });
      leading = now;
    }, 50);
  })();
}

main().catch((err: unknown) => {
  process.stderr.write(`orchestrator-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
