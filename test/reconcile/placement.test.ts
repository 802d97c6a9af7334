// Placement: stable first-fit per pool key, capacity, naming, recovery from the LBConfigs alone.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, type PoolPlacement } from '../../policy/api.js';
import { DEFAULT_CONFIG, type PlatformConfig } from '../../policy/config.js';
import {
  capacityPerGateway,
  gatewayNameFor,
  placeRequest,
  poolFromLbConfigs,
  poolKeyOf,
  readPlacements,
  withPlacement,
  withoutPlacement,
  type PoolGateway,
  type PoolKey,
} from '../../reconcile/placement.js';
import { desiredLbConfig, poolLabels } from '../../reconcile/pool.js';

const config = (certificatesPerGateway = 2, rulesPerGateway = 100): Pick<PlatformConfig, 'defaults' | 'pool'> => ({
  defaults: DEFAULT_CONFIG.defaults,
  pool: { ...DEFAULT_CONFIG.pool, certificatesPerGateway, rulesPerGateway },
});
const defaultKey: PoolKey = { gatewayClass: 'aws-alb', visibility: 'internet-facing', environment: 'production' };
const internalKey: PoolKey = { gatewayClass: 'aws-alb', visibility: 'internal', environment: 'staging' };

const entry = (n: number): PoolPlacement => ({ hostname: `h${n}.opendi.com`, namespace: 'team', request: `r${n}`, requestUID: `uid-${n}`, certificateArn: `arn:cert/${n}` });

/** Places requests 1..n one after another, returning the pool and where each went. */
function placeAll(numbers: number[], cfg = config(), start: PoolGateway[] = [], key = defaultKey): { pool: PoolGateway[]; where: Record<number, string> } {
  let pool = start;
  const where: Record<number, string> = {};
  for (const n of numbers) {
    const d = placeRequest(pool, key, `uid-${n}`, cfg);
    pool = withPlacement(pool, d.gateway, key, entry(n));
    where[n] = d.gateway;
  }
  return { pool, where };
}

t.test('capacity: the default certificate plus certificatesPerGateway, at most the rules', async (t) => {
  const cases: Array<[number, number, number]> = [
    [25, 100, 26],
    [24, 100, 25],
    [2, 100, 3],
    [25, 10, 10],
  ];
  for (const [certs, rules, want] of cases) t.equal(capacityPerGateway({ certificatesPerGateway: certs, rulesPerGateway: rules }), want, `${certs} certs, ${rules} rules`);
});

t.test('names: gw-NN for the default key, env/visibility/class otherwise', async (t) => {
  const cfg = config();
  t.equal(gatewayNameFor(defaultKey, 1, cfg), 'gw-01');
  t.equal(gatewayNameFor(defaultKey, 12, cfg), 'gw-12');
  t.equal(gatewayNameFor(internalKey, 3, cfg), 'gw-staging-internal-03');
  t.equal(gatewayNameFor({ ...defaultKey, environment: 'dev' }, 1, cfg), 'gw-dev-public-01');
  t.equal(gatewayNameFor({ ...defaultKey, gatewayClass: 'alb-waf' }, 1, cfg), 'gw-production-public-alb-waf-01');
});

t.test('pool key from the request spec, defaults filled', async (t) => {
  const request = { spec: { hostname: 'a.opendi.com', zoneId: 'Z', visibility: 'internal' as const } } as Parameters<typeof poolKeyOf>[0];
  t.same(poolKeyOf(request, DEFAULT_CONFIG.defaults), { gatewayClass: 'aws-alb', visibility: 'internal', environment: 'production' });
});

t.test('first-fit fills gw-01, then opens gw-02', async (t) => {
  const { pool, where } = placeAll([1, 2, 3, 4, 5, 6, 7]);
  t.same(where, { 1: 'gw-01', 2: 'gw-01', 3: 'gw-01', 4: 'gw-02', 5: 'gw-02', 6: 'gw-02', 7: 'gw-03' });
  t.same(pool.map((g) => g.placements.length), [3, 3, 1]);
});

t.test('keys never share Gateways', async (t) => {
  const a = placeAll([1, 2]);
  const d = placeRequest(a.pool, internalKey, 'uid-9', config());
  t.same(d, { kind: 'new', gateway: 'gw-staging-internal-01' });
});

t.test('placed hostnames never move: not when others leave, not when capacity changes', async (t) => {
  const { pool, where } = placeAll([1, 2, 3, 4, 5, 6]);
  // 2 leaves gw-01: the next newcomer fills the hole; nobody else moves.
  const after = withoutPlacement(pool, 'uid-2');
  const d = placeRequest(after, defaultKey, 'uid-7', config());
  t.same(d, { kind: 'fit', gateway: 'gw-01' });
  for (const n of [1, 3, 4, 5, 6]) t.same(placeRequest(after, defaultKey, `uid-${n}`, config()), { kind: 'existing', gateway: where[n] }, `request ${n} stays`);
  // Capacity shrinks to 1 per Gateway: existing placements stay where they are.
  for (const n of [1, 3, 4]) t.equal(placeRequest(after, defaultKey, `uid-${n}`, config(0)).gateway, where[n]);
  t.same(placeRequest(after, defaultKey, 'uid-8', config(0)), { kind: 'new', gateway: 'gw-03' }, 'newcomers go to a new Gateway');
});

t.test('an updated entry (new certificate) keeps its place and order', async (t) => {
  const { pool } = placeAll([1, 2, 3]);
  const updated = withPlacement(pool, 'gw-01', defaultKey, { ...entry(1), certificateArn: 'arn:cert/new' });
  t.same(updated[0]!.placements.map((p) => p.certificateArn), ['arn:cert/new', 'arn:cert/2', 'arn:cert/3']);
});

t.test('recovery from the LoadBalancerConfigurations alone', async (t) => {
  const { pool } = placeAll([1, 2, 3, 4, 5]);
  const lbcs = pool.map((g) => desiredLbConfig(g, config()));
  const recovered = poolFromLbConfigs(lbcs);
  t.same(recovered, pool, 'same Gateways, keys and placements in order');
  t.same(placeRequest(recovered, defaultKey, 'uid-6', config()), { kind: 'fit', gateway: 'gw-02' });
});

t.test('recovery tolerates junk and never places a request twice', async (t) => {
  const g1: PoolGateway = { name: 'gw-01', key: defaultKey, placements: [entry(1)] };
  const meta = (name: string, annotation: string | undefined, labels = poolLabels(g1)) => ({
    metadata: { name, labels, ...(annotation !== undefined ? { annotations: { [ANNOTATION_PLACEMENTS]: annotation } } : {}) },
  });
  t.same(readPlacements(meta('x', 'not json')), []);
  t.same(readPlacements(meta('x', '{"a":1}')), []);
  t.same(readPlacements(meta('x', JSON.stringify([entry(1), { hostname: 'x' }, entry(1)]))), [entry(1)], 'malformed and duplicate entries skipped');
  const pool = poolFromLbConfigs([meta('gw-02', JSON.stringify([entry(1), entry(2)])), meta('gw-01', JSON.stringify([entry(1)])), meta('foreign', '[]', {})]);
  t.same(
    pool.map((g) => [g.name, g.placements.map((p) => p.requestUID)]),
    [
      ['gw-01', ['uid-1']],
      ['gw-02', ['uid-2']],
    ],
    'the lower-numbered Gateway keeps a doubly placed request; unlabelled objects are ignored',
  );
});
