// The fault tests' world: orchestrator replicas as child processes (orchestrator-process.ts) that
// can be SIGKILLed and started again, the AWS fault proxy between them and moto, the load
// balancer stand-in (in this process, talking to moto directly, so faults hit only the
// orchestrator), a TCP forwarder in front of the replicas' fixed webhook ports, and webhook
// configurations that intercept only this run's namespaces (a dead replica must never block
// other tests sharing the API server). Everything has this run's own namespaces and lease.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayHostnameRequest } from '../../policy/api.js';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import type { AwsPorts } from '../../reconcile/ports.js';
import { localWebhookConfigurations } from '../../server/dev/register-webhooks.js';
import { requireLocalEnv, useLocalAwsCredentials } from '../../server/dev/local.js';
import { KubeRest, isNotFound, paths } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';
import type { EnvState } from '../env/state.js';
import { AwsLoadBalancerControllerStandIn } from '../lbc-standin/standin.js';
import { adminKubeConfig, hostedZoneId, uniqueName, waitFor } from '../helpers/index.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './aws-fault-proxy.js';
import { CHILD_EVENT_PREFIX, type ChildConfig, type ChildEvent, type CrashStep } from './child-protocol.js';

const CHILD_ENTRY = fileURLToPath(new URL('./orchestrator-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let childArgs: Promise<string[]> | undefined;

/**
 * How to run the child: bundled once per test process with esbuild (which tsx brings along) into
 * .local/faults/, two levels below the checkout like the sources, so paths derived from
 * import.meta.url still resolve; node_modules stay external. A start then costs about a third of
 * the CPU of `--import=tsx`, which matters on a two-core machine that restarts the child a dozen
 * times. Without esbuild (or with FAULTS_CHILD_TSX=1): tsx.
 */
function childCommand(): Promise<string[]> {
  childArgs ??= (async () => {
    if (process.env['FAULTS_CHILD_TSX'] === '1') return ['--import=tsx', CHILD_ENTRY];
    try {
      const esbuild = (await import('esbuild' as string)) as { build(options: Record<string, unknown>): Promise<unknown> };
      const outfile = join(REPO_ROOT, '.local', 'faults', `child-${process.pid}.mjs`);
      mkdirSync(dirname(outfile), { recursive: true });
      await esbuild.build({ entryPoints: [CHILD_ENTRY], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'inline', logLevel: 'error' });
      process.once('exit', () => rmSync(outfile, { force: true }));
      return [outfile];
    } catch {
      return ['--import=tsx', CHILD_ENTRY];
    }
  })();
  return childArgs;
}
/** Namespaces of one run carry this label; only they are intercepted by the run's webhooks. */
export const RUN_LABEL = 'gateway-orchestrator.io/fault-run';

/** How many times to repeat a scenario: FAULTS_TRIALS (default `fallback`). */
export function trials(fallback = 1): number {
  const n = Number(process.env['FAULTS_TRIALS'] ?? fallback);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export interface Replica {
  slot: string;
  process: ChildProcess;
  pid: number;
  port: number;
  metricsPort: number;
  events: ChildEvent[];
  /** Resolves when the replica prints that it leads (with the time it did). */
  leader: Promise<number>;
  /** Resolves with the crash event when it kills itself at its crash step. */
  crashed: Promise<Extract<ChildEvent, { event: 'crash' }>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly alive: boolean;
  stderrTail(): string;
  /** SIGTERM (clean stop) or SIGKILL; resolves once it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** gateway_orchestrator_aws_calls_total from its /metrics, summed. */
  awsCalls(): Promise<AwsCallSummary>;
}

export interface AwsCallSummary {
  mutating: number;
  read: number;
  throttled: number;
  error: number;
  byOperation: Record<string, number>;
}

export interface SpawnOptions {
  crash?: { step: CrashStep; hostname: string };
  delays?: ChildConfig['delays'];
  requestWatchLagMs?: number;
  rates?: ChildConfig['rates'];
  leaseDurationMs?: number;
  renewIntervalMs?: number;
  /** Wait until it leads before returning (default true). */
  waitForLeader?: boolean;
}

export interface FaultEnv {
  runId: string;
  state: EnvState;
  admin: KubeRest;
  proxy: FaultProxy;
  /** Ports straight to moto for checking, outside the call counters. */
  check: AwsPorts;
  standIn: AwsLoadBalancerControllerStandIn;
  zoneId: string;
  orchestratorNamespace: string;
  poolNamespace: string;
  namespacePrefix: string;
  replicas: Replica[];
  /** A tenant namespace of this run (labelled, served by the run's reconciler). */
  createNamespace(name: string): Promise<string>;
  /** Starts a replica in `slot` (same webhook port and leader identity at every start). */
  spawn(slot: string, options?: SpawnOptions): Promise<Replica>;
  /** Deletes the run's requests through a live replica, then stops everything. */
  stop(): Promise<void>;
}

export interface FaultEnvOptions {
  rules?: FaultRule[];
  seed?: number;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** TCP forwarder: each connection goes to the first backend that accepts it. */
async function startForwarder(backends: () => number[]): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0 };
  const server = net.createServer((client) => {
    state.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const ports = backends();
    const attempt = (i: number) => {
      if (i >= ports.length) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: ports[i]! });
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (!connected) attempt(i + 1); // refused: that replica is down, try the next
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return {
    get port() {
      return state.port;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function parseAwsCalls(text: string): AwsCallSummary {
  const out: AwsCallSummary = { mutating: 0, read: 0, throttled: 0, error: 0, byOperation: {} };
  for (const line of text.split('\n')) {
    const m = /^gateway_orchestrator_aws_calls_total\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const value = Number(m[2]);
    if (labels['mutating'] === 'true') out.mutating += value;
    else out.read += value;
    if (labels['outcome'] === 'throttled') out.throttled += value;
    if (labels['outcome'] === 'error') out.error += value;
    const key = `${labels['service']}.${labels['operation']}`;
    out.byOperation[key] = (out.byOperation[key] ?? 0) + value;
  }
  return out;
}

export async function startFaultEnv(options: FaultEnvOptions = {}): Promise<FaultEnv> {
  const state = requireLocalEnv();
  useLocalAwsCredentials(state);
  const runId = uniqueName('flt').slice(4);
  const orchestratorNamespace = `gwo-${runId}`;
  const poolNamespace = `edge-${runId}`;
  const namespacePrefix = `flt-${runId}-`;
  const webhookName = `gateway-orchestrator-faults-${runId}`;
  const admin = await KubeRest.fromKubeConfig(await adminKubeConfig());
  for (const name of [orchestratorNamespace, poolNamespace]) await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const proxy = await startFaultProxy({ target: state.aws.endpoint, rules: options.rules ?? [], seed: options.seed ?? 1 });
  const check = createAwsPorts({ region: state.aws.region, endpoint: state.aws.endpoint, rates: { route53: 50, acm: 50, elbv2: 50 } }, { countCalls: false });
  const standIn = new AwsLoadBalancerControllerStandIn({
    kubeConfig: await adminKubeConfig(),
    aws: { region: state.aws.region, endpoint: state.aws.endpoint },
    namespace: poolNamespace,
    gatewayClassNames: ['aws-alb'],
    intervalMs: 300,
    log: createLogger('warn'),
  });
  standIn.start();
  const slots = new Map<string, number>();
  const replicas: Replica[] = [];
  const namespaces: string[] = [];
  const forwarder = await startForwarder(() => [...slots.values()]);
  let registered = false;
  let stopping = false;
  const register = async (caBundlePem: string) => {
    const docs = localWebhookConfigurations({
      urlBase: `https://127.0.0.1:${forwarder.port}`,
      caBundlePem,
      names: { validating: webhookName, mutating: webhookName },
      poolNamespace,
      orchestratorNamespace,
    });
    for (const doc of docs) {
      // Only the request webhooks, only for this run's namespaces: the admission side has its own
      // fault tests; here it must add the finalizer and claim, and never block anyone else.
      const webhooks = (doc.webhooks as unknown as Array<{ name: string; namespaceSelector?: unknown }>).filter((w) => w.name.startsWith('requests.'));
      for (const w of webhooks) w.namespaceSelector = { matchLabels: { [RUN_LABEL]: runId } };
      const path = doc.kind === 'ValidatingWebhookConfiguration' ? paths.validatingWebhooks() : paths.mutatingWebhooks();
      await admin.create(path, { apiVersion: 'admissionregistration.k8s.io/v1', ...doc, webhooks });
    }
    registered = true;
  };

  const waitForWebhooks = async (namespace: string) => {
    const probe = (hostname: string) => ({
      apiVersion: 'gateway-orchestrator.io/v1alpha1',
      kind: 'GatewayHostnameRequest',
      metadata: { name: 'webhook-probe', namespace },
      spec: { hostname, zoneId: 'ZPROBE' },
    });
    await waitFor(
      async () => {
        const created = await admin.create<{ metadata: { finalizers?: string[] } }>(paths.requests(namespace), probe('webhook-probe.opendi.com'), { dryRun: true });
        const denied = await admin.create(paths.requests(namespace), probe('webhook-probe.not-allowlisted.invalid'), { dryRun: true }).then(
          () => false,
          (err: unknown) => String(err).includes('Allowed domains'),
        );
        return (created.metadata.finalizers ?? []).length > 0 && denied && forwarder.connections > 0;
      },
      { description: 'the API server to call the run\'s webhooks', timeoutMs: 20_000, intervalMs: 200 },
    );
  };

  /**
   * A child process with its modules loaded, waiting on stdin for its configuration. Loading
   * them (tsx, @kubernetes/client-node, the AWS SDK) is most of a start, so one spare waits per
   * slot and a restart after a crash takes about as long as the orchestrator's own start.
   */
  const command = await childCommand();
  const launch = () => {
    const child = spawn(process.execPath, command, { cwd: REPO_ROOT, env: { ...process.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const events: ChildEvent[] = [];
    const state = { stderr: '', alive: true };
    let resolveReady!: (e: Extract<ChildEvent, { event: 'ready' }>) => void;
    let resolveLeader!: (at: number) => void;
    let resolveCrash!: (e: Extract<ChildEvent, { event: 'crash' }>) => void;
    const ready = new Promise<Extract<ChildEvent, { event: 'ready' }>>((r) => (resolveReady = r));
    const leader = new Promise<number>((r) => (resolveLeader = r));
    const crashed = new Promise<Extract<ChildEvent, { event: 'crash' }>>((r) => (resolveCrash = r));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.on('exit', (code, signal) => {
        state.alive = false;
        resolve({ code, signal, at: Date.now() });
      }),
    );
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith(CHILD_EVENT_PREFIX)) continue;
        const e = JSON.parse(line.slice(CHILD_EVENT_PREFIX.length)) as ChildEvent;
        events.push(e);
        if (e.event === 'ready') resolveReady(e);
        if (e.event === 'leader') resolveLeader(e.at);
        if (e.event === 'crash') resolveCrash(e);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      state.stderr = (state.stderr + chunk).slice(-8_000);
    });
    child.stdin!.on('error', () => undefined);
    return { child, events, state, ready, leader, crashed, exited };
  };
  type Launched = ReturnType<typeof launch>;
  const spares = new Map<string, Launched>();

  const spawnReplica = async (slot: string, o: SpawnOptions = {}): Promise<Replica> => {
    let port = slots.get(slot);
    if (port === undefined) {
      port = await freePort();
      slots.set(slot, port);
    }
    const config: ChildConfig = {
      identity: `faults-${runId}-${slot}`,
      webhookPort: port,
      awsEndpoint: proxy.url,
      orchestratorNamespace,
      poolNamespace,
      namespacePrefix,
      webhookConfigurationName: webhookName,
      ...(o.rates ? { rates: o.rates } : {}),
      ...(o.leaseDurationMs !== undefined ? { leaseDurationMs: o.leaseDurationMs } : {}),
      ...(o.renewIntervalMs !== undefined ? { renewIntervalMs: o.renewIntervalMs } : {}),
      ...(o.crash ? { crash: o.crash } : {}),
      ...(o.delays ? { delays: o.delays } : {}),
      ...(o.requestWatchLagMs !== undefined ? { requestWatchLagMs: o.requestWatchLagMs } : {}),
    };
    let launched = spares.get(slot);
    spares.delete(slot);
    if (!launched?.state.alive) launched = launch();
    const { child, events, state, ready, leader, crashed, exited } = launched;
    child.stdin!.write(`${JSON.stringify(config)}\n`);
    if (!stopping) spares.set(slot, launch());
    const replica: Replica = {
      slot,
      process: child,
      pid: child.pid ?? 0,
      port,
      metricsPort: 0,
      events,
      leader,
      crashed,
      exited,
      get alive() {
        return state.alive;
      },
      stderrTail: () => state.stderr,
      async stop(signal = 'SIGTERM') {
        if (!state.alive) return;
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      },
      async awsCalls() {
        const res = await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`);
        return parseAwsCalls(await res.text());
      },
    };
    replicas.push(replica);
    const started = await Promise.race([ready, exited.then(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 90_000).unref())]);
    if (!started) {
      await replica.stop('SIGKILL');
      throw new Error(`replica ${slot} did not start:\n${state.stderr}`);
    }
    replica.metricsPort = started.metricsPort;
    if (!registered) await register(started.caBundle);
    if (o.waitForLeader !== false) {
      const led = await Promise.race([leader, exited.then(() => 'exited' as const), new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000).unref())]);
      if (led === undefined || led === 'exited') throw new Error(`replica ${slot} did not become leader (${led ?? 'timeout'}):\n${state.stderr}`);
    }
    return replica;
  };

  const env: FaultEnv = {
    runId,
    state,
    admin,
    proxy,
    check,
    standIn,
    zoneId: await hostedZoneId('opendi.com'),
    orchestratorNamespace,
    poolNamespace,
    namespacePrefix,
    replicas,
    async createNamespace(name) {
      const full = `${namespacePrefix}${name}`;
      await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: full, labels: { [RUN_LABEL]: runId } } });
      namespaces.push(full);
      if (registered) await waitForWebhooks(full);
      return full;
    },
    spawn: async (slot, o) => {
      const first = !registered;
      const replica = await spawnReplica(slot, o);
      if (first && namespaces[0]) await waitForWebhooks(namespaces[0]);
      return replica;
    },
    async stop() {
      // Requests left behind go through a live replica's cleanup; what remains after a minute
      // loses its finalizer so nothing lingers in the shared API server.
      const left: GatewayHostnameRequest[] = [];
      for (const ns of namespaces) {
        const list = await admin.list<GatewayHostnameRequest>(paths.requests(ns)).catch(() => ({ items: [] as GatewayHostnameRequest[] }));
        left.push(...list.items);
      }
      if (left.length > 0 && !replicas.some((r) => r.alive)) await spawnReplica('cleanup').catch(() => undefined);
      for (const r of left) await admin.delete(paths.requests(r.metadata.namespace, r.metadata.name)).catch(() => undefined);
      const deadline = Date.now() + 60_000;
      const waitGone = async (path: string, until: number) => {
        while (Date.now() < until && (await admin.get(path).then(() => true, (err: unknown) => !isNotFound(err)))) await new Promise((x) => setTimeout(x, 500));
      };
      for (const r of left) {
        const path = paths.requests(r.metadata.namespace, r.metadata.name);
        await waitGone(path, deadline);
        await admin.patch(path, 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
      }
      stopping = true;
      for (const r of replicas) await r.stop('SIGTERM');
      for (const spare of spares.values()) spare.child.kill('SIGTERM');
      spares.clear();
      for (const path of [paths.validatingWebhooks(webhookName), paths.mutatingWebhooks(webhookName)]) await admin.delete(path).catch(() => undefined);
      // Gateways gone, the stand-in deletes their ALBs on its next pass.
      const gateways = await admin.list<{ metadata: { name: string } }>(paths.gateways(poolNamespace)).catch(() => ({ items: [] }));
      for (const g of gateways.items) await admin.delete(paths.gateways(poolNamespace, g.metadata.name)).catch(() => undefined);
      await standIn.syncOnce().catch(() => undefined);
      await standIn.stop();
      await forwarder.close();
      await proxy.close();
      for (const ns of [...namespaces, poolNamespace, orchestratorNamespace]) await admin.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
    },
  };
  return env;
}

export function requestManifest(namespace: string, name: string, hostname: string, zoneId: string) {
  return {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name, namespace },
    spec: { hostname, zoneId },
  };
}

/** Waits for `until` with a deadline; a throw means "not yet". Rejects with `description`. */
export async function within<T>(promise: Promise<T>, ms: number, description: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${(ms / 1000).toFixed(0)}s waiting for ${description}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
