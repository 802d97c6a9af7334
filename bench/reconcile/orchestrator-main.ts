// The orchestrator of the reconcile benchmark in a process of its own (compiled with the production
// build, so its RSS is the orchestrator's alone): webhooks and the leader-elected reconciler, wired
// by server/orchestrator.ts exactly as `node dist/server/main.js` wires them, with the platform
// config the driver wrote. Usage: node dist/bench/reconcile/orchestrator-main.js <settings.json>
//
// Prints one JSON line {port, caBundle} when serving. Over IPC it answers:
//   {type:'stats'}   requests Ready / claimed, AWS call counters, memory
//   {type:'heap-snapshot', path}   writes a V8 heap snapshot there (Chrome DevTools opens it)
//   {type:'idle'}    once the work queue is empty
//   {type:'resync'}  after one full resync and the work it queued: the AWS calls it made
//   {type:'series'}  the per-second samples (AWS calls so far, RSS) taken since start
//   {type:'breakdown'} what the process holds: objects and JSON bytes per informer cache, the AWS
//                    snapshot's sizes, heap statistics
import { readFileSync } from 'node:fs';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { connectionFromKubeconfigFile } from '../../server/kube/connection.js';
import type { GatewayHostnameRequest } from '../../policy/api.js';
import type { PlatformConfig } from '../../policy/config.js';
import { createLogger } from '../../server/log.js';
import { startOrchestrator } from '../../server/orchestrator.js';
import { startReconciler } from '../../reconcile/start.js';
import type { Reconciler } from '../../reconcile/reconciler.js';
import { awsCallCounts, diffAwsCallCounts, type AwsCallCounts } from '../../reconcile/aws/index.js';
import { kubeRequestCounts } from '../../server/kube/rest.js';

interface Settings {
  config: PlatformConfig;
  kubeconfig: string;
  logLevel?: string;
  /** Serve only requests in namespaces starting with this (the reconciler's test scope), so a run
   *  and the tests sharing its environment never reconcile each other's requests. */
  namespacePrefix?: string;
}

export interface Sample {
  atMs: number;
  rss: number;
  heapUsed: number;
  /** The V8 heap as committed (what of it counts towards RSS), and memory outside it. */
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Calls so far by "service.Operation" (all outcomes). */
  calls: Record<string, number>;
}

const settings = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Settings;
const kube = await connectionFromKubeconfigFile(settings.kubeconfig);
let reconciler: Reconciler | undefined;
const orchestrator = await startOrchestrator({
  config: settings.config,
  kube,
  log: createLogger(settings.logLevel ?? process.env['LOG_LEVEL'] ?? 'info'),
  startReconciler: (deps) =>
    startReconciler(deps, {
      onReconciler: (r) => (reconciler = r),
      ...(settings.namespacePrefix ? { namespaces: (ns: string) => ns.startsWith(settings.namespacePrefix!) } : {}),
    }),
  webhook: { host: '127.0.0.1', port: 0, metricsPort: 0, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] },
});

// Which of the benchmark's requests are claimed and Ready, kept from the cache's events (walking
// every cached request per question costs the orchestrator CPU at 5,000), and when the set of
// Ready requests last grew: the benchmark asks every 2 s, and takes the time from here.
const prefix = settings.namespacePrefix ?? '';
const allKeys = new Set<string>();
const readyKeys = new Set<string>();
const claimedKeys = new Set<string>();
let lastReadyAtMs = 0;
const isTrue = (r: GatewayHostnameRequest, type: string) => (r.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
orchestrator.caches.requests.on((event, r) => {
  if (!(r.metadata.namespace ?? '').startsWith(prefix)) return;
  const key = `${r.metadata.namespace}/${r.metadata.name}`;
  if (event === 'delete') allKeys.delete(key);
  else allKeys.add(key);
  const ready = event !== 'delete' && isTrue(r, 'Ready') && r.status?.observedGeneration === r.metadata.generation;
  if (ready && !readyKeys.has(key)) lastReadyAtMs = Date.now();
  if (ready) readyKeys.add(key);
  else readyKeys.delete(key);
  if (event !== 'delete' && isTrue(r, 'Claimed')) claimedKeys.add(key);
  else claimedKeys.delete(key);
});

function requestCounts(): { total: number; ready: number; claimed: number; lastReadyAtMs: number } {
  return { total: allKeys.size, ready: readyKeys.size, claimed: claimedKeys.size, lastReadyAtMs };
}

const flatten = (counts: AwsCallCounts): Record<string, number> =>
  Object.fromEntries(Object.entries(counts.byOperation).map(([k, op]) => [k, op.success + op.error + op.throttled]));

const started = Date.now();
const series: Sample[] = [];
const sampler = setInterval(() => {
  void awsCallCounts().then((counts) => {
    const memory = process.memoryUsage();
    series.push({
      atMs: Date.now() - started,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      calls: flatten(counts),
    });
  });
}, 1_000);

process.on('message', (message: { type: string; id: number; path?: string }) => {
  const reply = (body: Record<string, unknown>) => process.send?.({ id: message.id, ...body });
  const fail = (err: unknown) => reply({ error: String(err instanceof Error ? err.stack : err) });
  switch (message.type) {
    case 'stats':
      void Promise.all([awsCallCounts(), kubeRequestCounts()]).then(
        ([calls, kube]) => reply({ requests: requestCounts(), calls, kube, memory: process.memoryUsage(), resyncs: reconciler?.resyncs ?? 0, leader: !!reconciler }),
        fail,
      );
      break;
    case 'idle':
      void (reconciler ? reconciler.idle() : Promise.resolve()).then(() => reply({}), fail);
      break;
    case 'resync':
      void (async () => {
        if (!reconciler) throw new Error('the reconciler has not started (not leader?)');
        await reconciler.idle();
        // A periodic resync in flight would be joined and counted from its middle: let it finish,
        // so the one measured is a whole resync of its own.
        await reconciler.resync();
        await reconciler.idle();
        const before = await awsCallCounts();
        const kubeBefore = await kubeRequestCounts();
        const resyncsBefore = reconciler.resyncs;
        const t0 = Date.now();
        await reconciler.resync();
        await reconciler.idle();
        const ms = Date.now() - t0;
        const kubeAfter = await kubeRequestCounts();
        const kube = Object.fromEntries(Object.entries(kubeAfter).map(([k, v]) => [k, v - (kubeBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
        return { diff: diffAwsCallCounts(before, await awsCallCounts()), kube, resyncs: reconciler.resyncs - resyncsBefore, ms, requests: requestCounts() };
      })().then(reply, fail);
      break;
    case 'series':
      reply({ series });
      break;
    case 'heap-snapshot':
      reply({ file: writeHeapSnapshot(message.path) });
      break;
    case 'breakdown': {
      const caches: Record<string, { objects: number; jsonBytes: number }> = {};
      for (const [name, cache] of Object.entries(orchestrator.caches)) {
        if (!cache || typeof (cache as { list?: unknown }).list !== 'function') continue;
        const objects = (cache as { list(): ReadonlyArray<unknown> }).list();
        caches[name] = { objects: objects.length, jsonBytes: objects.reduce<number>((a, o) => a + JSON.stringify(o).length, 0) };
      }
      const observer = reconciler?.observer;
      let records = 0;
      for (const zone of observer?.zones.values() ?? []) records += zone.records.size;
      reply({
        caches,
        snapshot: { certificates: observer?.certificates.size ?? 0, zoneRecords: records, loadBalancers: observer?.loadBalancers.size ?? 0 },
        memory: process.memoryUsage(),
        heap: getHeapStatistics(),
      });
      break;
    }
    default:
      fail(new Error(`unknown message ${message.type}`));
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    clearInterval(sampler);
    void orchestrator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
process.stdout.write(`BENCH-READY ${JSON.stringify({ port: orchestrator.port, caBundle: orchestrator.tls.caBundle() })}\n`);
