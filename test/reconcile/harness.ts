// The whole orchestrator in-process against the local environment: webhooks registered with the
// real API server, the leader-elected reconciler with a short resync, moto as AWS and the load
// balancer stand-in programming ALBs for the pool. Each harness has its own pool and orchestrator
// namespaces, so runs and tests never share Gateways or the leader lease.
import type { PlatformConfig } from '../../policy/config.js';
import type { GatewayHostnameRequest, DomainClaim, HostnameGrant, Gateway, LoadBalancerConfiguration } from '../../policy/api.js';
import { claimNameFor } from '../../policy/hostname.js';
import { KubeRest, isNotFound, paths } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';
import { localPlatformConfig, requireLocalEnv, startLocalOrchestrator, type LocalOrchestrator } from '../../server/dev/local.js';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import { startReconciler, type RunningReconciler, type StartOptions } from '../../reconcile/start.js';
import type { AwsPorts } from '../../reconcile/ports.js';
import type { Caches } from '../../server/caches.js';
import { AwsLoadBalancerControllerStandIn } from '../lbc-standin/standin.js';
import { adminKubeConfig, hostedZoneId, uniqueName, waitFor } from '../helpers/index.js';

export interface Harness {
  config: PlatformConfig;
  orchestrator: LocalOrchestrator;
  running: RunningReconciler;
  admin: KubeRest;
  /** Read-side ports for checking moto (these calls are counted too: read counters around them with care). */
  ports: AwsPorts;
  standIn: AwsLoadBalancerControllerStandIn;
  zoneId: string;
  /** Namespaces this harness created; its reconciler serves only these. */
  namespaces: Set<string>;
  stop(options?: { keepStandIn?: boolean }): Promise<void>;
  /** Stops the orchestrator, runs `between` (with nobody reconciling), starts a new one. */
  restart(between?: () => Promise<void>): Promise<void>;
}

export interface HarnessOptions {
  pool?: Partial<PlatformConfig['pool']>;
  reconcile?: Partial<PlatformConfig['reconcile']>;
  start?: StartOptions;
  /** What the reconciler reads instead of the orchestrator's caches (the webhooks keep the real ones). */
  reconcilerCaches?: (caches: Caches) => Caches;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const state = requireLocalEnv();
  const poolNs = uniqueName('edge');
  const config = localPlatformConfig(state, {
    pool: { namespace: poolNs, ...options.pool },
    orchestrator: { namespace: uniqueName('gwo'), breakGlassGroups: ['system:masters', 'gateway-orchestrator:break-glass'] },
    reconcile: { resyncSeconds: 3600, claimGraceSeconds: 3, concurrency: 4, ...options.reconcile },
  });
  const kubeConfig = await adminKubeConfig();
  const admin = await KubeRest.fromKubeConfig(kubeConfig);
  const ports = createAwsPorts(config.aws);
  const standIn = new AwsLoadBalancerControllerStandIn({
    kubeConfig,
    aws: { region: config.aws.region, ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}) },
    namespace: poolNs,
    gatewayClassNames: [config.defaults.gatewayClass],
    intervalMs: 300,
    log: createLogger('warn'),
  });
  const namespaces = new Set<string>();
  const startOptions: StartOptions = {
    // Other test files share the cluster: serve only this harness's namespaces.
    namespaces: (ns) => namespaces.has(ns),
    // moto accepts a CREATE over an existing record (real Route53 refuses the batch, and the
    // reconciler then re-reads the zone); re-reading before every CREATE keeps the test honest.
    zoneFreshMs: 0,
    leaseDurationMs: 4_000,
    renewIntervalMs: 1_000,
    batchWindowMs: 100,
    observer: { describeBaseMs: 1_000, listenerBaseMs: 500, loadBalancerMinIntervalMs: 1_000 },
    ...options.start,
  };
  const launch = async () => {
    let running: RunningReconciler | undefined;
    const orchestrator = await startLocalOrchestrator({
      config,
      log: createLogger(process.env['LOG_LEVEL'] ?? 'warn'),
      startReconciler: async (deps) =>
        (running = await startReconciler(options.reconcilerCaches ? { ...deps, caches: options.reconcilerCaches(deps.caches) } : deps, startOptions)),
    });
    if (!running) throw new Error('reconciler did not start');
    await waitFor(() => running!.isLeader, { description: 'the reconciler to hold the leader lease', timeoutMs: 20_000 });
    return { orchestrator, running };
  };
  const first = await launch();
  standIn.start();
  const h: Harness = {
    config,
    orchestrator: first.orchestrator,
    running: first.running,
    admin,
    ports,
    standIn,
    zoneId: await hostedZoneId('opendi.com'),
    namespaces,
    async stop(o = {}) {
      await cleanUp(h);
      await h.orchestrator.stop();
      if (!o.keepStandIn) await standIn.stop();
    },
    async restart(between) {
      await h.orchestrator.stop();
      await between?.();
      const next = await launch();
      h.orchestrator = next.orchestrator;
      h.running = next.running;
    },
  };
  return h;
}

export function requestManifest(namespace: string, name: string, hostname: string, zoneId: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name, namespace },
    spec: { hostname, zoneId, ...spec },
  };
}

export async function getRequest(h: Harness, namespace: string, name: string): Promise<GatewayHostnameRequest | undefined> {
  try {
    return await h.admin.get<GatewayHostnameRequest>(paths.requests(namespace, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function conditionOf(r: GatewayHostnameRequest | undefined, type: string) {
  return r?.status?.conditions?.find((c) => c.type === type);
}

const describeConditions = (r: GatewayHostnameRequest | undefined) =>
  JSON.stringify(r?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`), null, 1);

/** Waits until `test` holds for the request; on timeout the error shows its conditions. */
export async function waitRequest(
  h: Harness,
  namespace: string,
  name: string,
  description: string,
  test: (r: GatewayHostnameRequest) => boolean,
  timeoutMs = 90_000,
): Promise<GatewayHostnameRequest> {
  return waitFor(
    async () => {
      const r = await getRequest(h, namespace, name);
      return r && test(r) ? r : undefined;
    },
    { description: `${namespace}/${name}: ${description}`, timeoutMs, intervalMs: 500 },
  ).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}\nconditions: ${describeConditions(await getRequest(h, namespace, name))}`);
  });
}

export async function waitReady(h: Harness, namespace: string, name: string, timeoutMs = 90_000): Promise<GatewayHostnameRequest> {
  return waitFor(
    async () => {
      const r = await getRequest(h, namespace, name);
      return conditionOf(r, 'Ready')?.status === 'True' && r?.status?.observedGeneration === r?.metadata.generation ? r : undefined;
    },
    {
      description: `GatewayHostnameRequest ${namespace}/${name} to be Ready`,
      timeoutMs,
      intervalMs: 500,
    },
  ).catch(async (err: unknown) => {
    const r = await getRequest(h, namespace, name);
    throw new Error(`${(err as Error).message}\nconditions: ${JSON.stringify(r?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`), null, 1)}`);
  });
}

export async function waitGone(h: Harness, namespace: string, name: string, timeoutMs = 90_000): Promise<void> {
  await waitFor(async () => (await getRequest(h, namespace, name)) === undefined, { description: `GatewayHostnameRequest ${namespace}/${name} to be gone`, timeoutMs, intervalMs: 500 }).catch(
    async (err: unknown) => {
      const r = await getRequest(h, namespace, name);
      throw new Error(`${(err as Error).message}\nconditions: ${JSON.stringify(r?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`), null, 1)}`);
    },
  );
}

export async function getClaim(h: Harness, hostname: string): Promise<DomainClaim | undefined> {
  try {
    return await h.admin.get<DomainClaim>(paths.claims(claimNameFor(hostname)));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function grantsFor(h: Harness, namespace: string, name: string): Promise<HostnameGrant[]> {
  const list = await h.admin.list<HostnameGrant>(paths.grants());
  return list.items.filter((g) => g.spec.requestRef?.namespace === namespace && g.spec.requestRef.name === name);
}

export async function poolGateway(h: Harness, name: string): Promise<Gateway | undefined> {
  try {
    return await h.admin.get<Gateway>(paths.gateways(h.config.pool.namespace, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function poolLbConfigs(h: Harness): Promise<LoadBalancerConfiguration[]> {
  return (await h.admin.list<LoadBalancerConfiguration>(paths.lbConfigs(h.config.pool.namespace))).items;
}

export async function createNamespaces(h: Harness, names: string[]): Promise<void> {
  for (const name of names) {
    await h.admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    h.namespaces.add(name);
  }
}

/**
 * Deletes what the tests left (requests go through the reconciler's cleanup), then the
 * namespaces; a request still there after a minute loses its finalizer so nothing lingers.
 */
async function cleanUp(h: Harness): Promise<void> {
  const left: Array<{ namespace: string; name: string }> = [];
  for (const namespace of h.namespaces) {
    const list = await h.admin.list<GatewayHostnameRequest>(paths.requests(namespace)).catch(() => ({ items: [] as GatewayHostnameRequest[] }));
    for (const r of list.items) {
      left.push({ namespace, name: r.metadata.name ?? '' });
      await h.admin.delete(paths.requests(namespace, r.metadata.name)).catch(() => undefined);
    }
  }
  const deadline = Date.now() + 60_000;
  for (const { namespace, name } of left) {
    while (Date.now() < deadline && (await getRequest(h, namespace, name))) await new Promise((r) => setTimeout(r, 500));
    if (await getRequest(h, namespace, name)) {
      await h.admin.patch(paths.requests(namespace, name), 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
    }
  }
  for (const namespace of h.namespaces) await h.admin.delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
}
