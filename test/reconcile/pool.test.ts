// Desired pool objects: Gateway listener and allowedRoutes, LoadBalancerConfiguration certificates,
// and the "already up to date" comparison that keeps steady state free of writes.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, LABEL_POOL, type PoolPlacement } from '../../policy/api.js';
import { DEFAULT_CONFIG } from '../../policy/config.js';
import type { PoolGateway } from '../../reconcile/placement.js';
import { desiredGateway, desiredLbConfig, isSubset, upToDate } from '../../reconcile/pool.js';

const cfg = { pool: { ...DEFAULT_CONFIG.pool, namespace: 'edge' } };
const p = (n: number, namespace = 'team-a'): PoolPlacement => ({ hostname: `h${n}.opendi.com`, namespace, request: `r${n}`, requestUID: `u${n}`, certificateArn: `arn:c/${n}` });
const gw = (placements: PoolPlacement[], visibility: 'internet-facing' | 'internal' = 'internet-facing'): PoolGateway => ({
  name: 'gw-01',
  key: { gatewayClass: 'aws-alb', visibility, environment: 'production' },
  placements,
});

t.test('LoadBalancerConfiguration: default certificate of the earliest placement, the others sorted', async (t) => {
  const lbc = desiredLbConfig(gw([p(3), p(1), p(2)]), cfg);
  t.same(lbc.spec.listenerConfigurations, [{ protocolPort: 'HTTPS:443', defaultCertificate: 'arn:c/3', certificates: ['arn:c/1', 'arn:c/2'] }]);
  t.equal(lbc.spec.scheme, 'internet-facing');
  t.equal(lbc.spec.ipAddressType, 'ipv4');
  t.same(JSON.parse(lbc.metadata.annotations![ANNOTATION_PLACEMENTS]!), [p(3), p(1), p(2)]);
  t.ok(lbc.metadata.labels![LABEL_POOL]);
  t.same(desiredLbConfig(gw([p(1)]), cfg).spec.listenerConfigurations, [{ protocolPort: 'HTTPS:443', defaultCertificate: 'arn:c/1' }], 'no empty certificates list');
  t.same(desiredLbConfig(gw([], 'internal'), cfg).spec, { scheme: 'internal', ipAddressType: 'ipv4', listenerConfigurations: [{ protocolPort: 'HTTPS:443' }] });
});

t.test('Gateway: parametersRef to its LBConfig, one HTTPS listener, allowedRoutes by namespace', async (t) => {
  const extra: Record<string, string[]> = { r2: ['team-c', 'team-a'] };
  const g = desiredGateway(gw([p(1, 'team-b'), p(2, 'team-a')]), cfg, (x) => extra[x.request] ?? []);
  t.same(g.spec.infrastructure, { parametersRef: { group: 'gateway.k8s.aws', kind: 'LoadBalancerConfiguration', name: 'gw-01' } });
  t.equal(g.metadata.namespace, 'edge');
  t.equal(g.spec.gatewayClassName, 'aws-alb');
  t.same(g.spec.listeners, [
    {
      name: 'https',
      port: 443,
      protocol: 'HTTPS',
      allowedRoutes: {
        namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b', 'team-c'] }] } },
      },
    },
  ]);
  const empty = desiredGateway(gw([]), cfg, () => []);
  t.same(empty.spec.listeners[0]!.allowedRoutes, { namespaces: { from: 'Same' } }, 'no namespace left: Same');
});

t.test('isSubset: API server defaults are fine, missing or different values are not', async (t) => {
  const cases: Array<[unknown, unknown, boolean, string]> = [
    [{ a: 1 }, { a: 1, b: 2 }, true, 'extra keys in actual'],
    [{ a: 1 }, { a: 2 }, false, 'different value'],
    [{ a: [1, 2] }, { a: [1, 2] }, true, 'equal arrays'],
    [{ a: [1, 2] }, { a: [1, 2, 3] }, false, 'longer array'],
    [{ a: [{ x: 1 }] }, { a: [{ x: 1, kinds: [] }] }, true, 'defaulted fields inside array elements'],
    [{ a: { b: 1 } }, {}, false, 'missing object'],
    [{ a: undefined }, {}, true, 'undefined in desired is ignored'],
  ];
  for (const [desired, actual, want, name] of cases) t.equal(isSubset(desired, actual), want, name);
});

t.test('upToDate compares labels, annotations and spec only', async (t) => {
  const desired = desiredLbConfig(gw([p(1), p(2)]), cfg);
  const actual = structuredClone(desired);
  actual.metadata = { ...actual.metadata, resourceVersion: '5', annotations: { ...actual.metadata.annotations, other: 'x' } };
  t.ok(upToDate(desired, actual));
  t.notOk(upToDate(desired, undefined));
  const changed = structuredClone(actual);
  changed.spec.listenerConfigurations![0]!.certificates = [];
  t.notOk(upToDate(desired, changed), 'a removed certificate is drift');
});
