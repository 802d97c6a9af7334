// End to end through the real API server (local environment): a tenant creates HTTPRoutes one at a
// time, alternately with the orchestrator's route webhook registered and without it, in the same
// run; the difference in create latency is what the webhook adds.
//
// Isolation from tests running at the same time against the same API server: see
// bench/lib/webhooks.ts. The tenant creating the routes is an ordinary tenant (RBAC through a
// RoleBinding in its namespace) that also carries the break-glass group, so only the bench's copy
// of the route webhook is ever called for its routes, and only while the bench registers it.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { grantNameFor } from '../../policy/hostname.js';
import { connectionFromClientKubeConfig } from '../../server/kube/connection.js';
import { KubeRest, paths } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';
import { startOrchestrator, type Orchestrator } from '../../server/orchestrator.js';
import { ensureNamespaces, localPlatformConfig, requireLocalEnv, useLocalAwsCredentials } from '../../server/dev/local.js';
import { createNamespace } from '../../test/helpers/kube.js';
import { createTenant } from '../../test/helpers/tenants.js';
import { uniqueName } from '../../test/helpers/names.js';
import { loadAverageNow } from '../lib/machine.js';
import { BENCH_LABEL, BREAK_GLASS_GROUP, registerBenchWebhooks, unregisterBenchWebhooks } from '../lib/webhooks.js';
import { fmt, formatTable, summarise, type Summary } from '../lib/stats.js';

export interface E2eBenchOptions {
  /** Routes created in total, half with the webhook registered and half without. */
  routes: number;
  /** Alternations: without, with, without, with, ... (2 x blocks phases). */
  blocks: number;
  /** Creates at the start of each phase that are not counted (connection set-up, caches). */
  warmup: number;
}

export interface E2eResult {
  routes: number;
  without: Summary;
  with: Summary;
  addedP50Ms: number;
  addedP99Ms: number;
  addedP50: number;
  addedP99: number;
  errors: number;
  /**
   * Mean duration of the route webhook call as the API server measured it (its histogram
   * apiserver_admission_webhook_admission_duration_seconds, sum / count over the "with" blocks).
   */
  apiServerWebhookMeanMs: number;
  apiServerWebhookCalls: number;
  loadAverage: string[];
  /** The local etcd synced writes to disk, as a real cluster's does (GATEWAY_ORCHESTRATOR_ETCD_FSYNC=1). */
  etcdFsync: boolean;
}

/** The API server's own measure of one webhook: [sum seconds, count], from its /metrics. */
async function webhookDuration(kubeConfig: KubeConfig, webhookName: string): Promise<[number, number]> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no cluster');
  const options: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(new URL('/metrics', cluster.server), { ...options, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_admission_webhook_admission_duration_seconds_') || !line.includes(`name="${webhookName}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('apiserver_admission_webhook_admission_duration_seconds_sum')) sum += value;
    else if (line.startsWith('apiserver_admission_webhook_admission_duration_seconds_count')) count += value;
  }
  return [sum, count];
}

const HTTPROUTES = (ns: string, name?: string) => `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes${name ? `/${name}` : ''}`;

function routeManifest(namespace: string, name: string, hostnames: string[], poolNamespace: string) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': name } },
    spec: {
      parentRefs: [{ name: 'gw-01', namespace: poolNamespace }],
      hostnames,
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name, port: 8080 }] }],
    },
  };
}

export async function benchEndToEnd(options: E2eBenchOptions): Promise<E2eResult> {
  const state = requireLocalEnv();
  useLocalAwsCredentials(state);
  const id = uniqueName('bench');
  const config = localPlatformConfig(state, {
    orchestrator: { namespace: `gwo-${id}`, breakGlassGroups: ['system:masters', 'gateway-orchestrator:break-glass'] },
    pool: { namespace: `edge-${id}` },
    webhook: { port: 0, metricsPort: 0, validatingConfigurationName: `gateway-orchestrator-${id}`, mutatingConfigurationName: `gateway-orchestrator-${id}` },
  });
  // The orchestrator and the set-up act as a break-glass admin: no test's webhook is asked about
  // their writes, and the bench's copy skips the orchestrator's own (as production skips its ServiceAccount).
  const orchestratorUser = `bench-orchestrator-${id}`;
  const breakGlass = await createTenant(config.orchestrator.namespace, { user: orchestratorUser, groups: ['system:masters', BREAK_GLASS_GROUP], clusterRole: null });
  const kubeConfig = breakGlass.kubeConfig();
  const admin = await KubeRest.fromKubeConfig(kubeConfig);
  await ensureNamespaces(admin, [config.pool.namespace]);
  const namespace = await createNamespace(id, { [BENCH_LABEL]: id });
  const tenant = await createTenant(namespace, { groups: ['tenants', BREAK_GLASS_GROUP] });
  const client = await KubeRest.fromKubeConfig(tenant.kubeConfig());

  // What the tenant owns: one wildcard and a few exact names, as the reconciler would grant them.
  const apex = `${id}.opendi.com`;
  const exact = Array.from({ length: 8 }, (_, i) => `svc-${i}.${apex}`);
  const granted = [`*.${apex}`, ...exact];
  const grantNames = granted.map((h) => grantNameFor(h, namespace));
  let orchestrator: Orchestrator | undefined;
  const created: string[] = [];
  let errors = 0;
  try {
    for (const [i, hostname] of granted.entries()) {
      await admin.create(paths.grants(), {
        apiVersion: 'gateway-orchestrator.io/v1alpha1',
        kind: 'HostnameGrant',
        metadata: { name: grantNames[i], labels: { 'gateway-orchestrator.io/bench': 'true' } },
        spec: { hostname, namespace },
      });
    }
    orchestrator = await startOrchestrator({
      config,
      kube: await connectionFromClientKubeConfig(kubeConfig),
      log: createLogger(process.env['LOG_LEVEL'] ?? 'warn'),
      webhook: { host: '127.0.0.1', port: 0, metricsPort: -1, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] },
    });
    const index = orchestrator.caches.index;
    await until(() => granted.every((h) => index.isGrantedTo(h.replace('*', 'x'), namespace)), 'the grants to reach the webhook cache');
    const webhooks = { runId: id, urlBase: `https://127.0.0.1:${orchestrator.port}`, caBundlePem: orchestrator.tls.caBundle(), only: ['routes.'], orchestratorUser };

    // A dry-run route with a hostname nobody granted: denied exactly when our webhook is called.
    const probe = () =>
      client.create(HTTPROUTES(namespace), routeManifest(namespace, 'webhook-probe', [`probe-${id}.opendi.com`], config.pool.namespace), { dryRun: true }).then(
        () => false,
        (err: unknown) => String(err).includes('RouteHostnameNotGranted') || String(err).includes('is not granted'),
      );
    const setRegistered = async (on: boolean) => {
      if (on) await registerBenchWebhooks(admin, webhooks);
      else await unregisterBenchWebhooks(admin, id);
      // The API server applies configuration changes through its informer: wait until it does.
      await until(async () => (await probe()) === on, `the API server to ${on ? 'call' : 'stop calling'} the webhook`);
    };

    const samples = { with: [] as number[], without: [] as number[] };
    const webhookName = 'routes.validate.gateway-orchestrator.io';
    const apiServer = { seconds: 0, calls: 0 };
    const perPhase = Math.max(1, Math.round(options.routes / (2 * options.blocks)));
    const loadAverage: string[] = [loadAverageNow()];
    let n = 0;
    for (let block = 0; block < options.blocks; block++) {
      for (const phase of ['without', 'with'] as const) {
        await setRegistered(phase === 'with');
        const before = phase === 'with' ? await webhookDuration(kubeConfig, webhookName) : undefined;
        for (let i = 0; i < perPhase + options.warmup; i++) {
          const k = n++;
          const name = `r-${k}`;
          // 1 to 3 hostnames: exact grants and names below the granted wildcard.
          const hostnames = [exact[k % exact.length]!, `app-${k}.${apex}`, `api-${k}.${apex}`].slice(0, 1 + (k % 3));
          const started = process.hrtime.bigint();
          try {
            await client.create(HTTPROUTES(namespace), routeManifest(namespace, name, hostnames, config.pool.namespace));
            created.push(name);
          } catch (err) {
            errors++;
            if (errors <= 3) process.stderr.write(`e2e: create ${name} failed: ${String(err).slice(0, 300)}\n`);
            continue;
          }
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (i >= options.warmup) samples[phase].push(ms);
        }
        if (before) {
          const after = await webhookDuration(kubeConfig, webhookName);
          apiServer.seconds += after[0] - before[0];
          apiServer.calls += after[1] - before[1];
        }
      }
      loadAverage.push(loadAverageNow());
    }
    const without = summarise(samples.without);
    const withWebhook = summarise(samples.with);
    return {
      routes: samples.with.length + samples.without.length,
      without,
      with: withWebhook,
      addedP50Ms: withWebhook.p50 - without.p50,
      addedP99Ms: withWebhook.p99 - without.p99,
      addedP50: withWebhook.p50 / without.p50 - 1,
      addedP99: withWebhook.p99 / without.p99 - 1,
      errors,
      apiServerWebhookMeanMs: apiServer.calls > 0 ? (apiServer.seconds / apiServer.calls) * 1000 : NaN,
      apiServerWebhookCalls: apiServer.calls,
      loadAverage,
      etcdFsync: state.etcdFsync ?? false,
    };
  } finally {
    await unregisterBenchWebhooks(admin, id).catch(() => undefined);
    await orchestrator?.stop().catch(() => undefined);
    for (const name of created) await admin.delete(HTTPROUTES(namespace, name)).catch(() => undefined);
    for (const name of grantNames) await admin.delete(paths.grants(name)).catch(() => undefined);
    for (const ns of [config.orchestrator.namespace, config.pool.namespace, namespace]) await admin.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function e2eTable(r: E2eResult): string {
  return formatTable([
    ['HTTPRoute create', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
    ['without webhook', r.without.count, fmt.ms(r.without.p50), fmt.ms(r.without.p90), fmt.ms(r.without.p99), fmt.ms(r.without.max), fmt.ms(r.without.mean)],
    ['with webhook', r.with.count, fmt.ms(r.with.p50), fmt.ms(r.with.p90), fmt.ms(r.with.p99), fmt.ms(r.with.max), fmt.ms(r.with.mean)],
    ['added', '', `${fmt.ms(r.addedP50Ms)} (${fmt.pct(r.addedP50)})`, '', `${fmt.ms(r.addedP99Ms)} (${fmt.pct(r.addedP99)})`, '', ''],
  ]) + `\nroute webhook call as the API server measured it: mean ${fmt.ms(r.apiServerWebhookMeanMs)} ms over ${r.apiServerWebhookCalls} calls (includes its probes)` +
    `\netcd ${r.etcdFsync ? 'syncs every write to disk, as in a real cluster' : 'without fsync (--unsafe-no-fsync; GATEWAY_ORCHESTRATOR_ETCD_FSYNC=1 at env:up syncs, as a real cluster does)'}`;
}
