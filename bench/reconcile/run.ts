// Reconcile at scale: N GatewayHostnameRequests created through the webhooks, provisioned by the
// leader-elected reconciler against moto, with the load-balancer stand-in programming ALBs; time
// until all are Ready, the AWS calls it took by operation (from the orchestrator's own counters),
// the per-second peaks against the configured budgets, peak RSS, and the calls of one
// steady-state resync.
//
// The orchestrator runs as its own process (dist build, see orchestrator-main.ts), the stand-in as
// another (test/lbc-standin/main.ts). Webhooks: the shipped request and route webhooks under the
// bench's own names, scoped to its namespaces (bench/lib/webhooks.ts); the bench's users carry the
// break-glass group, so no test's orchestrator is asked about them; the bench's reconciler serves
// only the bench's namespaces (the reconciler's namespace scope, as the tests use it). The API
// server, etcd and moto are still shared, and so is the CPU: run big sizes in an environment of
// their own (see docs/BENCHMARKS.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsCallCounts } from '../../reconcile/aws/index.js';
import { KubeRest, isAlreadyExists, paths } from '../../server/kube/rest.js';
import { localPlatformConfig, requireLocalEnv } from '../../server/dev/local.js';
import { createTenant } from '../../test/helpers/tenants.js';
import { uniqueName } from '../../test/helpers/names.js';
import { REPO_ROOT, buildProduction } from '../lib/build.js';
import { loadAverageNow } from '../lib/machine.js';
import { processCpuSeconds, processMemory } from '../lib/proc.js';
import { BENCH_LABEL, BREAK_GLASS_GROUP, registerBenchWebhooks, unregisterBenchWebhooks } from '../lib/webhooks.js';
import { fmt, formatTable } from '../lib/stats.js';
import type { Sample } from './orchestrator-main.js';
import { describeProductionRuntime, productionNodeFlags, productionRuntimeEnv } from '../lib/production-flags.js';

export interface ReconcileBenchOptions {
  requests: number;
  /** Requests per tenant namespace. */
  perNamespace?: number;
  /** Creates in flight at once. */
  createConcurrency?: number;
  /** Give up waiting for Ready after this long. */
  timeoutMs?: number;
  /** The stand-in's pass interval (it lists every Gateway and ALB each pass). */
  standInIntervalMs?: number;
  /**
   * Certificates per pool Gateway besides the default. Default 24, one under the AWS quota the
   * platform default (25) is made for: moto 5.2 counts the listener's default certificate towards
   * its limit of 25, so the 26th certificate on a Gateway is refused there (not in AWS) and stalls
   * that Gateway's listener update.
   */
  certificatesPerGateway?: number;
  /** Overrides config.reconcile.concurrency (default: the platform default, 16). */
  concurrency?: number;
  /** Write a CPU profile of the orchestrator process into this directory (when it stops). */
  cpuProfileDir?: string;
  /** Write a V8 heap snapshot of the orchestrator here after the steady-state resync. */
  heapSnapshotDir?: string;
  /** Delete everything the run created and wait for it (default true). */
  cleanup?: boolean;
}

export interface ServiceFigures {
  calls: number;
  mutating: number;
  read: number;
  ratePerSecond: number;
  peakPerSecond: number;
  /** Seconds the budget needs at least for these calls (calls beyond the burst / rate). */
  budgetSeconds: number;
}

export interface ReconcileResult {
  requests: number;
  namespaces: number;
  ready: number;
  createSeconds: number;
  /** From the first create until every request was Ready. */
  readySeconds: number | undefined;
  timedOut: boolean;
  timeoutSeconds: number;
  bulk: AwsCallCounts;
  /** The orchestrator's requests to the API server from its start to the end of the bulk, by "VERB resource". */
  kubeBulk: Record<string, number>;
  /** CPU seconds (user + system) of each process from the first create until all were Ready (or the timeout). */
  bulkCpuSeconds: Record<string, number>;
  bulkWallSeconds: number;
  services: Record<string, ServiceFigures>;
  /** The largest of budgetSeconds: how fast the budgets allow the bulk at best. */
  budgetSeconds: number;
  concurrency: number;
  peakRssBytes: number;
  /** The peak (VmHWM) when the last request turned Ready, before the steady-state resync. */
  peakRssBulkBytes: number;
  /** The sample (every 1 s, bulk and steady-state resync) with the highest RSS: what the peak is made of. */
  highestRssSample?: Sample;
  /** After the steady-state resync: informer cache sizes (objects, JSON bytes), AWS snapshot sizes, heap. */
  memoryBreakdown: Record<string, unknown>;
  steady: { diff: AwsCallCounts; kube: Record<string, number>; ms: number } | undefined;
  gateways: number;
  standInIntervalMs: number;
  cleanupSeconds: number | undefined;
  /** Requests still there when the clean-up wait ended. */
  cleanupLeft: number | undefined;
  loadAverage: string[];
  logFile: string;
}

const SERVICES = ['acm', 'route53', 'elbv2'] as const;

interface Child {
  process: ChildProcess;
  ask<T>(type: string, extra?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

function startChild(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, ipc: boolean): Child {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', ipc ? 'pipe' : out, out, ...(ipc ? (['ipc'] as const) : [])] });
  let next = 0;
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id: number; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m as never);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`${command} exited with ${code}`));
    pending.clear();
  });
  return {
    process: child,
    ask: <T>(type: string, extra: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = ++next;
        pending.set(id, { resolve: resolve as (v: never) => void, reject });
        child.send({ ...extra, type, id });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

export async function benchReconcile(options: ReconcileBenchOptions): Promise<ReconcileResult> {
  const n = options.requests;
  const perNamespace = options.perNamespace ?? 50;
  const concurrency = options.createConcurrency ?? 8;
  const timeoutMs = options.timeoutMs ?? Math.max(300_000, n * 600);
  // A pass programs only the Gateways whose inputs changed (a full pass every 30 passes), so a
  // short interval costs two Kubernetes lists and one ALB listing per pass, not calls per Gateway.
  const standInIntervalMs = options.standInIntervalMs ?? (n <= 2_000 ? 1_000 : 2_000);
  await buildProduction();
  const state = requireLocalEnv();
  const id = uniqueName('rb');
  const dir = join(REPO_ROOT, '.local', 'bench');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `reconcile-${n}-${id}.log`);
  const config = localPlatformConfig(state, {
    orchestrator: { namespace: `gwo-${id}`, breakGlassGroups: ['system:masters', 'gateway-orchestrator:break-glass'] },
    pool: { namespace: `edge-${id}`, certificatesPerGateway: options.certificatesPerGateway ?? 24 },
    ...(options.concurrency ? { reconcile: { concurrency: options.concurrency } } : {}),
    webhook: { port: 0, metricsPort: 0, validatingConfigurationName: `gateway-orchestrator-${id}`, mutatingConfigurationName: `gateway-orchestrator-${id}` },
  });
  const zoneId = state.aws.zoneIds['opendi.com'];
  if (!zoneId) throw new Error('the local environment has no opendi.com zone');
  // Two users with the break-glass group (so no test's webhook is asked about them): the
  // orchestrator (the bench's webhooks skip its writes, as production's skip its ServiceAccount),
  // and the tenants' deploy pipeline, whose requests the bench's webhooks do see.
  const orchestratorUser = `bench-orchestrator-${id}`;
  const orchestratorIdentity = await createTenant(`gwo-${id}`, { user: orchestratorUser, groups: ['system:masters', BREAK_GLASS_GROUP], clusterRole: null });
  const admin = await KubeRest.fromKubeConfig(orchestratorIdentity.kubeConfig());
  const pipeline = await createTenant(`gwo-${id}`, { user: `bench-pipeline-${id}`, groups: ['system:masters', BREAK_GLASS_GROUP], clusterRole: null });
  const client = await KubeRest.fromKubeConfig(pipeline.kubeConfig());
  const namespaces = Array.from({ length: Math.ceil(n / perNamespace) }, (_, i) => `${id}-t${i}`);
  for (const ns of [config.orchestrator.namespace, config.pool.namespace, ...namespaces]) {
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [BENCH_LABEL]: id } } }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  }

  const settingsFile = join(dir, `reconcile-${id}.json`);
  writeFileSync(settingsFile, JSON.stringify({ config, kubeconfig: orchestratorIdentity.kubeconfig, namespacePrefix: `${id}-t` }));
  const env = {
    ...process.env,
    KUBECONFIG: state.kubeconfig,
    AWS_ENDPOINT_URL: state.aws.endpoint,
    AWS_REGION: state.aws.region,
    AWS_ACCESS_KEY_ID: state.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: state.aws.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const standIn = startChild(
    process.execPath,
    ['--import', 'tsx', 'test/lbc-standin/main.ts', '--namespace', config.pool.namespace, '--gateway-class', config.defaults.gatewayClass, '--interval-ms', String(standInIntervalMs)],
    // debug: the stand-in's pass lines (Gateways programmed, how long) go into the run's log.
    { ...env, LOG_LEVEL: 'debug' },
    logFile,
    false,
  );
  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const nodeFlags = productionNodeFlags();
  process.stdout.write(`  orchestrator: ${describeProductionRuntime()} (as manifests/deployment.yaml runs it)\n`);
  const orchestrator = startChild(
    process.execPath,
    [...nodeFlags, ...profile, join(REPO_ROOT, 'dist/bench/reconcile/orchestrator-main.js'), settingsFile],
    { ...env, ...productionRuntimeEnv() },
    logFile,
    true,
  );
  const loadAverage = [loadAverageNow()];
  const created: Array<[string, string]> = [];
  try {
    const ready = await new Promise<{ port: number; caBundle: string }>((resolve, reject) => {
      let buffered = '';
      orchestrator.process.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        const line = buffered.split('\n').find((l) => l.startsWith('BENCH-READY '));
        if (line) resolve(JSON.parse(line.slice('BENCH-READY '.length)) as { port: number; caBundle: string });
        if (buffered.length > 1e6) buffered = buffered.slice(-1e5);
      });
      orchestrator.process.once('exit', (code) => reject(new Error(`orchestrator exited with ${code} before serving; see ${logFile}`)));
    });
    orchestrator.process.stdout!.pipe(createWriteStream(logFile, { flags: 'a' }));
    await registerBenchWebhooks(admin, { runId: id, urlBase: `https://127.0.0.1:${ready.port}`, caBundlePem: ready.caBundle, only: ['requests.', 'routes.'], orchestratorUser });
    await waitForBenchWebhooks(client, namespaces[0]!, zoneId);
    await until(async () => (await orchestrator.ask<{ leader: boolean }>('stats')).leader, 'the reconciler to lead', 60_000);

    // Where the 2 cores go during the bulk: CPU seconds of every process of the run, from /proc.
    const cpuNow = (): Record<string, number> => {
      const own = process.cpuUsage();
      return {
        'API server': processCpuSeconds(state.processes.kubeApiserver?.pid ?? -1),
        etcd: processCpuSeconds(state.processes.etcd?.pid ?? -1),
        moto: processCpuSeconds(state.processes.moto?.pid ?? -1),
        orchestrator: processCpuSeconds(orchestrator.process.pid ?? -1),
        'stand-in': processCpuSeconds(standIn.process.pid ?? -1),
        'this benchmark': (own.user + own.system) / 1e6,
      };
    };
    const cpuAtStart = cpuNow();
    // Create: `concurrency` at a time, as the tenants' deploy pipelines would.
    const started = Date.now();
    let nextIndex = 0;
    const worker = async () => {
      for (;;) {
        const i = nextIndex++;
        if (i >= n) return;
        const ns = namespaces[Math.floor(i / perNamespace)]!;
        const name = `r${i}`;
        const body = { apiVersion: 'gateway-orchestrator.io/v1alpha1', kind: 'GatewayHostnameRequest', metadata: { name, namespace: ns }, spec: { hostname: `${id}-${i}.opendi.com`, zoneId } };
        for (let attempt = 1; ; attempt++) {
          try {
            await client.create(paths.requests(ns), body);
            break;
          } catch (err) {
            if (isAlreadyExists(err)) break;
            if (attempt >= 5) throw err;
            await sleep(500 * attempt);
          }
        }
        created.push([ns, name]);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const createSeconds = (Date.now() - started) / 1000;
    process.stdout.write(`  created ${n} requests in ${createSeconds.toFixed(1)} s (load ${loadAverageNow()})\n`);

    // Wait for Ready, reporting progress now and then.
    let readySeconds: number | undefined;
    let lastReport = Date.now();
    let readyCount = 0;
    for (;;) {
      const stats = await orchestrator.ask<{ requests: { ready: number; claimed: number; total: number; lastReadyAtMs: number } }>('stats');
      readyCount = stats.requests.ready;
      if (readyCount >= n) {
        // When the orchestrator's cache saw the last request turn Ready (this machine's clock),
        // not when this 2 s poll noticed it.
        readySeconds = (stats.requests.lastReadyAtMs - started) / 1000;
        break;
      }
      if (Date.now() - started > timeoutMs) break;
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        loadAverage.push(loadAverageNow());
        process.stdout.write(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${stats.requests.claimed} claimed, ${readyCount} Ready of ${n}; orchestrator RSS ${fmt.mib(processMemory(orchestrator.process.pid!).rss)} MiB (load ${loadAverageNow()})\n`);
      }
      await sleep(2_000);
    }
    loadAverage.push(loadAverageNow());
    const cpuAtEnd = cpuNow();
    const bulkCpuSeconds = Object.fromEntries(Object.entries(cpuAtEnd).map(([k, v]) => [k, v - (cpuAtStart[k] ?? 0)]));
    const bulkWallSeconds = (Date.now() - started) / 1000;
    const peakRssBulkBytes = processMemory(orchestrator.process.pid!).peakRss;
    const bulkEndStats = await orchestrator.ask<{ calls: AwsCallCounts; kube: Record<string, number> }>('stats');
    const { series } = await orchestrator.ask<{ series: Sample[] }>('series');

    // Steady state: the queue drains, then one full resync and everything it queued.
    let steady: ReconcileResult['steady'];
    if (readySeconds !== undefined) {
      await orchestrator.ask('idle');
      await sleep(2_000);
      const r = await orchestrator.ask<{ diff: AwsCallCounts; kube: Record<string, number>; ms: number }>('resync');
      steady = { diff: r.diff, kube: r.kube, ms: r.ms };
    }
    const peakRssBytes = processMemory(orchestrator.process.pid!).peakRss;
    const { series: seriesAll } = await orchestrator.ask<{ series: Sample[] }>('series');
    const highestRssSample = seriesAll.reduce<Sample | undefined>((top, s) => (top === undefined || s.rss > top.rss ? s : top), undefined);
    const breakdown = await orchestrator.ask<Record<string, unknown>>('breakdown');
    if (options.heapSnapshotDir) {
      mkdirSync(options.heapSnapshotDir, { recursive: true });
      const { file } = await orchestrator.ask<{ file: string }>('heap-snapshot', { path: join(options.heapSnapshotDir, `reconcile-${n}-${id}.heapsnapshot`) });
      process.stdout.write(`  heap snapshot of the orchestrator after the steady-state resync: ${file}\n`);
    }
    const gateways = (await admin.list(paths.gateways(config.pool.namespace))).items.length;

    const services = serviceFigures(bulkEndStats.calls, series, config.aws.rates);
    const budgetSeconds = Math.max(...Object.values(services).map((s) => s.budgetSeconds));
    let cleanupSeconds: number | undefined;
    let cleanupLeft: number | undefined;
    if (options.cleanup ?? true) ({ seconds: cleanupSeconds, left: cleanupLeft } = await cleanup(admin, created, 120_000 + n * 50));
    return {
      requests: n,
      namespaces: namespaces.length,
      ready: readyCount,
      createSeconds,
      readySeconds,
      timedOut: readySeconds === undefined,
      timeoutSeconds: timeoutMs / 1000,
      bulk: bulkEndStats.calls,
      kubeBulk: bulkEndStats.kube,
      bulkCpuSeconds,
      bulkWallSeconds,
      services,
      budgetSeconds,
      concurrency: config.reconcile.concurrency,
      peakRssBytes,
      peakRssBulkBytes,
      ...(highestRssSample ? { highestRssSample } : {}),
      memoryBreakdown: breakdown,
      steady,
      gateways,
      standInIntervalMs,
      cleanupSeconds,
      cleanupLeft,
      loadAverage,
      logFile,
    };
  } finally {
    await orchestrator.stop();
    await standIn.stop();
    await unregisterBenchWebhooks(admin, id).catch(() => undefined);
  }
}

/** Both webhook kinds answer for the bench's namespaces: a normalised dry-run and an allowlist denial. */
async function waitForBenchWebhooks(admin: KubeRest, namespace: string, zoneId: string): Promise<void> {
  const probe = (hostname: string) => ({ apiVersion: 'gateway-orchestrator.io/v1alpha1', kind: 'GatewayHostnameRequest', metadata: { name: 'webhook-probe', namespace }, spec: { hostname, zoneId } });
  await until(
    async () => {
      const created = await admin.create<{ spec: { hostname: string } }>(paths.requests(namespace), probe('WEBHOOK-PROBE.opendi.com'), { dryRun: true }).catch(() => undefined);
      return created?.spec.hostname === 'webhook-probe.opendi.com';
    },
    'the mutating webhook',
    30_000,
  );
  await until(
    () =>
      admin.create(paths.requests(namespace), probe('webhook-probe.not-allowlisted.invalid'), { dryRun: true }).then(
        () => false,
        (err: unknown) => String(err).includes('Allowed domains'),
      ),
    'the validating webhook',
    30_000,
  );
}

/** Deletes the requests and waits (bounded) until the reconciler has cleaned up after them. */
async function cleanup(admin: KubeRest, created: Array<[string, string]>, timeoutMs: number): Promise<{ seconds: number; left: number }> {
  const started = Date.now();
  const namespaces = [...new Set(created.map(([ns]) => ns))];
  for (const ns of namespaces) await admin.delete(paths.requests(ns)).catch(() => undefined);
  let left = Infinity;
  while (Date.now() - started < timeoutMs) {
    left = 0;
    for (const ns of namespaces) left += (await admin.list(paths.requests(ns))).items.length;
    if (left === 0) break;
    await sleep(1_000);
  }
  return { seconds: (Date.now() - started) / 1000, left };
}

function serviceFigures(calls: AwsCallCounts, series: Sample[], rates: Record<string, number>): Record<string, ServiceFigures> {
  const out: Record<string, ServiceFigures> = {};
  for (const service of SERVICES) {
    const ops = Object.values(calls.byOperation).filter((o) => o.service === service);
    const total = (o: (typeof ops)[number]) => o.success + o.error + o.throttled;
    const all = ops.reduce((a, o) => a + total(o), 0);
    const mutating = ops.filter((o) => o.mutating).reduce((a, o) => a + total(o), 0);
    const perSample = series.map((s) => Object.entries(s.calls).filter(([k]) => k.startsWith(`${service}.`)).reduce((a, [, v]) => a + v, 0));
    let peak = 0;
    for (let i = 1; i < perSample.length; i++) {
      const dt = (series[i]!.atMs - series[i - 1]!.atMs) / 1000;
      if (dt > 0) peak = Math.max(peak, (perSample[i]! - perSample[i - 1]!) / dt);
    }
    const rate = rates[service] ?? NaN;
    const burst = Math.max(1, Math.ceil(rate));
    out[service] = { calls: all, mutating, read: all - mutating, ratePerSecond: rate, peakPerSecond: peak, budgetSeconds: Math.max(0, all - burst) / rate };
  }
  return out;
}

export function reconcileTables(r: ReconcileResult): string {
  const lines: string[] = [];
  lines.push(
    formatTable([
      ['requests', 'namespaces', 'Ready', 'create s', 'all Ready s', 'budget floor s', 'vs floor', 'concurrency', 'Gateways', 'peak RSS MiB', 'stand-in interval'],
      [
        fmt.int(r.requests),
        r.namespaces,
        fmt.int(r.ready),
        r.createSeconds.toFixed(1),
        r.readySeconds === undefined ? `timed out at ${r.timeoutSeconds} s` : r.readySeconds.toFixed(1),
        r.budgetSeconds.toFixed(1),
        r.readySeconds === undefined ? '-' : fmt.ratio(r.readySeconds / Math.max(r.budgetSeconds, 1e-9)),
        r.concurrency,
        r.gateways,
        fmt.mib(r.peakRssBytes),
        `${r.standInIntervalMs} ms`,
      ],
    ]),
  );
  lines.push('');
  lines.push(
    formatTable([
      ['service (bulk)', 'calls', 'mutating', 'read', 'budget /s', 'peak /s', 'floor s'],
      ...Object.entries(r.services).map(([s, f]) => [s, fmt.int(f.calls), fmt.int(f.mutating), fmt.int(f.read), f.ratePerSecond, f.peakPerSecond.toFixed(1), f.budgetSeconds.toFixed(1)]),
    ]),
  );
  lines.push('');
  const ops = (c: AwsCallCounts) => Object.values(c.byOperation).sort((a, b) => `${a.service}.${a.operation}`.localeCompare(`${b.service}.${b.operation}`));
  lines.push(
    formatTable([
      ['operation', 'mutating', 'bulk calls', 'bulk throttled', 'bulk errors', 'steady resync calls'],
      ...ops(r.bulk).map((o) => {
        const s = r.steady?.diff.byOperation[`${o.service}.${o.operation}`];
        return [`${o.service}.${o.operation}`, o.mutating ? 'yes' : 'no', fmt.int(o.success + o.error + o.throttled), o.throttled, o.error, s ? s.success + s.error + s.throttled : 0];
      }),
      ...(r.steady ? ops(r.steady.diff).filter((o) => !r.bulk.byOperation[`${o.service}.${o.operation}`]).map((o) => [`${o.service}.${o.operation}`, o.mutating ? 'yes' : 'no', 0, 0, 0, o.success + o.error + o.throttled]) : []),
    ]),
  );
  const cpu = Object.entries(r.bulkCpuSeconds).sort((a, b) => b[1] - a[1]);
  const cpuTotal = cpu.reduce((sum, [, v]) => sum + (Number.isFinite(v) ? v : 0), 0);
  lines.push('');
  lines.push(
    `CPU seconds during the bulk (${r.bulkWallSeconds.toFixed(0)} s, ${cpuTotal.toFixed(0)} CPU s): ${cpu.map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(1) : 'n/a'}`).join(', ')}`,
  );
  const kubeKeys = [...new Set([...Object.keys(r.kubeBulk), ...Object.keys(r.steady?.kube ?? {})])].sort();
  lines.push('');
  lines.push(
    formatTable([
      ['Kubernetes request (orchestrator)', 'bulk', 'per request', 'steady resync'],
      ...kubeKeys.map((k) => [k, fmt.int(r.kubeBulk[k] ?? 0), ((r.kubeBulk[k] ?? 0) / r.requests).toFixed(2), r.steady?.kube[k] ?? 0]),
    ]),
  );
  lines.push('');
  lines.push(
    r.steady
      ? `steady-state resync: ${r.steady.diff.mutating} mutating, ${r.steady.diff.read} read calls, ${(r.steady.ms / 1000).toFixed(1)} s`
      : 'steady-state resync: not measured (not all requests became Ready)',
  );
  const cleanupText = r.cleanupSeconds === undefined ? 'skipped' : r.cleanupLeft ? `${r.cleanupLeft} requests still deleting after ${r.cleanupSeconds.toFixed(0)} s` : `${r.cleanupSeconds.toFixed(1)} s`;
  const b = r.memoryBreakdown as { caches?: Record<string, { objects: number; jsonBytes: number }>; memory?: NodeJS.MemoryUsage };
  if (b.caches && b.memory) {
    const caches = Object.entries(b.caches).map(([name, c]) => `${name} ${c.objects} (${fmt.mib(c.jsonBytes)} MiB JSON)`).join(', ');
    lines.push(`memory at the end: peak RSS ${fmt.mib(r.peakRssBulkBytes)} MiB in the bulk, ${fmt.mib(r.peakRssBytes)} MiB with the steady-state resync; RSS ${fmt.mib(b.memory.rss)} MiB, heap used ${fmt.mib(b.memory.heapUsed)} MiB, external ${fmt.mib(b.memory.external)} MiB; caches: ${caches}`);
  }
  const top = r.highestRssSample;
  if (top) {
    lines.push(
      `highest RSS sampled (every 1 s): ${fmt.mib(top.rss)} MiB at ${(top.atMs / 1000).toFixed(0)} s: V8 heap committed ${fmt.mib(top.heapTotal)} MiB (used ${fmt.mib(top.heapUsed)}), external ${fmt.mib(top.external)} MiB (array buffers ${fmt.mib(top.arrayBuffers)}), the rest (code, stacks, native) ${fmt.mib(top.rss - top.heapTotal - top.external)} MiB`,
    );
  }
  lines.push(`cleanup: ${cleanupText}; load average ${r.loadAverage.join(' | ')}; orchestrator log ${r.logFile}`);
  return lines.join('\n');
}
