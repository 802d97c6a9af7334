// The informer caches' string pool (server/kube/string-pool.ts): sharing strings changes no value,
// skips the values unique per version, and the pool stays within its bound.
import t from 'tap';
import fc from 'fast-check';
import { StringPool } from '../../server/kube/string-pool.js';

t.test('any JSON value is left equal to what it was', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const copy = structuredClone(value);
      const pool = new StringPool(8);
      t.same(pool.share(copy), value);
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random JSON values unchanged');
});

t.test('pools the repeated text of an object, not its resourceVersion, uid or condition message', async (t) => {
  const pool = new StringPool();
  const request = (rv: string, uid: string) => ({
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name: 'shop', namespace: 'team-a', resourceVersion: rv, uid, finalizers: ['gateway-orchestrator.io/cleanup'] },
    spec: { hostname: 'shop.example.com', zoneId: 'Z1' },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Serving', message: `Serving shop.example.com (version ${rv}).`, lastTransitionTime: '2026-11-25T07:00:00Z' }] },
  });
  pool.share(request('1', 'u-1'));
  const first = pool.size;
  t.equal(first, 11, 'apiVersion, kind, name, namespace, finalizer, hostname, zone, and the condition type, status, reason and time');
  for (let version = 2; version < 100; version++) pool.share(request(String(version), `u-${version}`));
  t.equal(pool.size, first, 'a hundred versions of the same object add nothing: resourceVersion, uid and message are not pooled');
});

t.test('strings longer than 256 characters are not pooled', async (t) => {
  const pool = new StringPool();
  pool.share({ message: 'x'.repeat(257), reason: 'y'.repeat(256) });
  t.equal(pool.size, 1);
});

t.test('forgets everything at its bound, then pools anew', async (t) => {
  const pool = new StringPool(3);
  pool.share(['a', 'b', 'c']);
  t.equal(pool.size, 3);
  pool.share(['a', 'd']);
  t.equal(pool.size, 1, '"a" was found; "d" found the pool full, cleared it and is all it holds');
  pool.share(['a']);
  t.equal(pool.size, 2, 'then pools anew');
});
