// The pool writer gathers placements that arrive together and writes each Gateway they touch once,
// deciding them in arrival order (first-fit sees the ones before it), and keeps in memory only
// what a successful write put in the cluster. The API server is a recording fake here: what is
// tested is which applies the writer makes and what it promises its callers; the applies
// themselves are tested against the real API server in e2e-pool.test.ts.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, type PoolPlacement } from '../../policy/api.js';
import { parsePlatformConfig } from '../../policy/config.js';
import { createLogger } from '../../server/log.js';
import type { KubeRest } from '../../server/kube/rest.js';
import { PoolWriter } from '../../reconcile/pool-writer.js';
import type { PoolKey } from '../../reconcile/placement.js';

interface Apply {
  path: string;
  body: { kind: string; metadata: { name: string; annotations?: Record<string, string> } };
}

/** Records every apply and answers with the object as written; `refuse` names objects whose apply fails. */
function fakeRest(refuse: (path: string) => boolean = () => false) {
  const applies: Apply[] = [];
  let version = 1;
  const rest = {
    patch: async (path: string, _type: string, body: Apply['body']) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (refuse(path)) throw new Error(`apply of ${path} refused (test)`);
      applies.push({ path, body });
      return { ...body, metadata: { ...body.metadata, resourceVersion: String(version++) } };
    },
  } as unknown as KubeRest;
  return { rest, applies };
}

// 2 certificates besides the default one: 3 requests per Gateway.
const config = parsePlatformConfig({ clusterId: 'test', allowedDomains: [{ domain: 'example.com' }], pool: { namespace: 'edge', certificatesPerGateway: 2 } });
const key: PoolKey = { gatewayClass: config.defaults.gatewayClass, visibility: 'internet-facing', environment: config.defaults.environment };
const placement = (i: number): PoolPlacement => ({
  hostname: `app${i}.example.com`,
  namespace: 'team',
  request: `app${i}`,
  requestUID: `uid-${i}`,
  certificateArn: `arn:aws:acm:eu-central-1:111122223333:certificate/c-${i}`,
});

function writer(rest: KubeRest, onLbConfigWritten?: (gateway: string) => void) {
  return new PoolWriter({
    ...(onLbConfigWritten ? { onLbConfigWritten } : {}),
    rest,
    config,
    log: createLogger('silent'),
    namespacesOf: (p) => [p.namespace],
    gatewayFromCache: () => undefined,
    lbConfigFromCache: () => undefined,
  });
}

const lbConfigApplies = (applies: Apply[]) => applies.filter((a) => a.body.kind === 'LoadBalancerConfiguration');
const placementsIn = (a: Apply) => (JSON.parse(a.body.metadata.annotations?.[ANNOTATION_PLACEMENTS] ?? '[]') as PoolPlacement[]).map((p) => p.requestUID);

t.test('placements that arrive together are written with one apply per Gateway, in arrival order', async (t) => {
  const { rest, applies } = fakeRest();
  const written: string[] = [];
  const pool = writer(rest, (name) => written.push(name));
  const gateways = await Promise.all([1, 2, 3, 4, 5].map((i) => pool.place(key, placement(i))));
  t.same(written, ['gw-01', 'gw-02'], 'each written configuration is announced (the reconciler then watches that listener closely)');
  t.same(gateways, ['gw-01', 'gw-01', 'gw-01', 'gw-02', 'gw-02'], 'first-fit over the batch: the fourth request overflows to a new Gateway');
  const lbc = lbConfigApplies(applies);
  t.same(
    lbc.map((a) => a.body.metadata.name),
    ['gw-01', 'gw-02'],
    'one LoadBalancerConfiguration apply per Gateway, not one per request',
  );
  t.same(placementsIn(lbc[0]!), ['uid-1', 'uid-2', 'uid-3']);
  t.same(placementsIn(lbc[1]!), ['uid-4', 'uid-5']);
  t.same(
    pool.all.map((g) => [g.name, g.placements.map((p) => p.requestUID)]),
    [
      ['gw-01', ['uid-1', 'uid-2', 'uid-3']],
      ['gw-02', ['uid-4', 'uid-5']],
    ],
    'the memory holds what was written',
  );
  // A later placement is its own batch and sees the earlier ones.
  t.equal(await pool.place(key, placement(6)), 'gw-02');
  t.same(lbConfigApplies(applies).map((a) => a.body.metadata.name), ['gw-01', 'gw-02', 'gw-02']);
});

t.test('a Gateway whose write fails: its placements are refused and left out of memory, the others stand', async (t) => {
  let refusing = true;
  const { rest, applies } = fakeRest((path) => refusing && path.includes('/gw-02'));
  const pool = writer(rest);
  const results = await Promise.allSettled([1, 2, 3, 4].map((i) => pool.place(key, placement(i))));
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
    'the request placed on the failing Gateway is told so (it retries); the others are placed',
  );
  t.match((results[3] as PromiseRejectedResult).reason, /refused \(test\)/);
  t.same(
    pool.all.map((g) => [g.name, g.placements.map((p) => p.requestUID)]),
    [['gw-01', ['uid-1', 'uid-2', 'uid-3']]],
    'gw-02 is not in memory: the cluster does not have it',
  );
  refusing = false;
  t.equal(await pool.place(key, placement(4)), 'gw-02', 'the retry is decided again and written');
  t.same(placementsIn(lbConfigApplies(applies).at(-1)!), ['uid-4']);
});

t.test('placing a request again (a new certificate) updates its entry on the same Gateway', async (t) => {
  const { rest, applies } = fakeRest();
  const pool = writer(rest);
  await pool.place(key, placement(1));
  const renewed = { ...placement(1), certificateArn: 'arn:aws:acm:eu-central-1:111122223333:certificate/c-1-new' };
  t.equal(await pool.place(key, renewed), 'gw-01');
  t.same(pool.all[0]?.placements, [renewed]);
  t.equal(lbConfigApplies(applies).length, 2);
});
