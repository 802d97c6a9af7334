// The reconciler's indexes (pure): grants by request, requests by hostname and by the validation
// names they still need, and the write overlay's index; each checked against a brute-force scan.
import t from 'tap';
import type { GatewayHostnameRequest, HostnameGrant } from '../../policy/api.js';
import { WriteOverlay } from '../../reconcile/apply.js';
import { GrantsByRequest, RequestIndex, SetIndex, grantRequestKey } from '../../reconcile/indexes.js';

function grant(name: string, ns?: string, request?: string): HostnameGrant {
  return {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'HostnameGrant',
    metadata: { name },
    spec: { hostname: `${name}.opendi.com`, namespace: ns ?? 'other', ...(ns && request ? { requestRef: { namespace: ns, name: request } } : {}) },
  } as HostnameGrant;
}

function request(ns: string, name: string, opts: { hostname?: string; uid?: string; deleting?: boolean; validation?: string[] } = {}): GatewayHostnameRequest {
  return {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { namespace: ns, name, uid: opts.uid ?? `uid-${ns}-${name}`, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { hostname: opts.hostname ?? `${name}.opendi.com` },
    ...(opts.validation ? { status: { validationRecords: opts.validation.map((n) => ({ domainName: 'x', name: n, type: 'CNAME', value: 'v' })) } } : {}),
  } as unknown as GatewayHostnameRequest;
}

t.test('SetIndex files keys under values and replaces them', async (t) => {
  const i = new SetIndex();
  i.set('k1', ['a', 'b']);
  i.set('k2', ['b']);
  t.same([...i.keysOf('b')].sort(), ['k1', 'k2']);
  i.set('k1', ['c']);
  t.same([...i.keysOf('a')], []);
  t.same([...i.keysOf('b')], ['k2']);
  t.same([...i.keysOf('c')], ['k1']);
  i.delete('k2');
  i.delete('missing');
  t.same([...i.keysOf('b')], []);
  i.set('k1', []);
  t.equal(i.keyCount, 0);
  t.equal(i.valueCount, 0, 'nothing left behind');
});

t.test('GrantsByRequest agrees with a scan over random adds, updates and deletes', async (t) => {
  const index = new GrantsByRequest();
  const truth = new Map<string, HostnameGrant>();
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let step = 0; step < 3000; step++) {
    const name = `g${rnd(200)}`;
    if (rnd(4) === 0) {
      const old = truth.get(name);
      truth.delete(name);
      index.update('delete', old ?? grant(name));
    } else {
      const g = rnd(5) === 0 ? grant(name) : grant(name, `ns${rnd(3)}`, `r${rnd(20)}`);
      index.update(truth.has(name) ? 'update' : 'add', g);
      truth.set(name, g);
    }
  }
  for (let ns = 0; ns < 3; ns++) {
    for (let r = 0; r < 20; r++) {
      const key = `ns${ns}/r${r}`;
      const expected = [...truth.values()].filter((g) => grantRequestKey(g) === key).map((g) => g.metadata.name!).sort();
      t.same([...index.namesOf(key)].sort(), expected, key);
    }
  }
  t.equal(index.size, [...truth.values()].filter((g) => g.spec.requestRef).length);
});

t.test('RequestIndex: by hostname, and validation names other live requests need', async (t) => {
  const i = new RequestIndex<GatewayHostnameRequest>();
  i.update('add', request('a', 'one', { hostname: 'x.opendi.com', validation: ['_v1', '_shared'] }));
  i.update('add', request('b', 'two', { hostname: 'x.opendi.com', validation: ['_shared'] }));
  i.update('add', request('c', 'three', { hostname: 'y.opendi.com', validation: ['_v3'], deleting: true }));
  t.same([...i.keysWithHostname('x.opendi.com')].sort(), ['a/one', 'b/two']);
  t.same([...i.keysWithHostname('nobody.opendi.com')], []);
  t.same([...i.validationNamesInUse(['_v1', '_shared', '_v3'], 'uid-a-one')], ['_shared'], 'its own name is not counted, a deleting request does not count');
  t.same([...i.validationNamesInUse(['_v1', '_shared'], 'uid-other')].sort(), ['_shared', '_v1']);
  // b/two starts deleting: its name is no longer needed by it.
  i.update('update', request('b', 'two', { hostname: 'x.opendi.com', validation: ['_shared'], deleting: true }));
  t.same([...i.validationNamesInUse(['_shared'], 'uid-a-one')], []);
  // A successor of a/one (same key, new UID, new hostname) replaces it.
  i.update('update', request('a', 'one', { hostname: 'z.opendi.com', uid: 'uid-new' }));
  t.same([...i.keysWithHostname('x.opendi.com')], ['b/two']);
  t.same([...i.keysWithHostname('z.opendi.com')], ['a/one']);
  t.same([...i.validationNamesInUse(['_v1'], 'uid-x')], []);
  i.update('delete', request('a', 'one'));
  t.equal(i.get('a/one'), undefined);
  t.same([...i.keysWithHostname('z.opendi.com')], []);
  t.equal(i.size, 2);
  t.same([...i.values()].map((r) => r.metadata.name).sort(), ['three', 'two']);
});

t.test('WriteOverlay files written values by key, forgets nulls, expires and sweeps entries', async (t) => {
  const realNow = Date.now;
  let now = 1_000_000;
  Date.now = () => now;
  t.teardown(() => {
    Date.now = realNow;
  });
  const o = new WriteOverlay<HostnameGrant>(1_000, grantRequestKey);
  o.set('g1', grant('g1', 'ns', 'r'));
  o.set('g2', grant('g2', 'ns', 'r'));
  o.set('g3', grant('g3', 'ns', 'other'));
  t.same(o.namesFiledUnder('ns/r').sort(), ['g1', 'g2']);
  o.set('g2', null);
  t.same(o.namesFiledUnder('ns/r'), ['g1'], 'a deletion is not filed');
  t.equal(o.get('g2'), null);
  now += 1_001;
  t.equal(o.get('g1'), undefined, 'expired');
  t.same(o.namesFiledUnder('ns/r'), [], 'and unfiled');
  t.equal(o.size, 2, 'g2 and g3 wait for the sweep');
  o.set('g4', grant('g4', 'ns', 'r'));
  t.equal(o.size, 1, 'the next write after a TTL sweeps expired entries');
  t.same(o.namesFiledUnder('ns/other'), []);
});
