// The ownership index keeps namespaces as small ids packed with a count into its Map entries, and
// reuses an id once its namespace holds nothing. Checked against a naive model with many
// namespaces coming and going, namespace names as fresh string copies, and counts past the packing.
import t from 'tap';
import fc from 'fast-check';
import { HostnameOwnershipIndex } from '../../policy/ownership.js';

interface Entry {
  name: string;
  hostname: string;
  namespace: string;
}

const below = (name: string, domain: string) => name !== domain && name.endsWith(`.${domain}`);

class Model {
  claims: Entry[] = [];
  grants: Entry[] = [];
  isGrantedTo(route: string, ns: string): boolean {
    const all = [...this.claims, ...this.grants];
    if (all.some((e) => e.hostname === route)) return all.some((e) => e.hostname === route && e.namespace === ns);
    const base = route.startsWith('*.') ? route.slice(2) : route;
    const covering = all.filter((e) => e.hostname.startsWith('*.') && e.hostname.slice(2).includes('.') && below(base, e.hostname.slice(2)));
    if (covering.length === 0) return false;
    const nearest = Math.max(...covering.map((e) => e.hostname.length));
    return covering.some((e) => e.hostname.length === nearest && e.namespace === ns);
  }
  wildcardConflictsBelow(domain: string, ns: string): boolean {
    return this.claims.some((c) => c.namespace !== ns && below(c.hostname, domain));
  }
}

/** A copy of the string that is a different object, as names parsed from two JSON bodies are. */
const copy = (s: string) => s.split('').join('');

const hostnames = ['a.example.com', 'b.example.com', '*.example.com', 'x.a.example.com', '*.a.example.com', 'example.com', '*.b.example.com'];
const routes = [...hostnames, 'y.a.example.com', 'z.example.com', 'q.x.a.example.com', '*.x.a.example.com', 'other.org'];
const domains = ['example.com', 'a.example.com', 'b.example.com', 'com'];
const namespaces = Array.from({ length: 12 }, (_, i) => `ns-${i}`);

const op = fc.record({
  kind: fc.constantFrom('setClaim', 'setGrant', 'deleteClaim', 'deleteGrant'),
  name: fc.integer({ min: 0, max: 15 }).map((i) => `o${i}`),
  hostname: fc.constantFrom(...hostnames),
  namespace: fc.constantFrom(...namespaces),
});

t.test('index and model agree while namespaces come, go and reuse ids', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const index = new HostnameOwnershipIndex();
      const model = new Model();
      for (const o of ops) {
        const list = o.kind === 'setClaim' || o.kind === 'deleteClaim' ? 'claims' : 'grants';
        model[list] = model[list].filter((e) => e.name !== o.name);
        if (o.kind === 'setClaim' || o.kind === 'setGrant') model[list].push({ name: o.name, hostname: o.hostname, namespace: o.namespace });
        if (o.kind === 'setClaim') index.setClaim(o.name, { hostname: o.hostname, namespace: copy(o.namespace), request: o.name });
        else if (o.kind === 'setGrant') index.setGrant(o.name, { hostname: o.hostname, namespace: copy(o.namespace) });
        else if (o.kind === 'deleteClaim') index.deleteClaim(o.name);
        else index.deleteGrant(o.name);
        for (const ns of [...namespaces, 'never-seen']) {
          const asked = copy(ns);
          for (const route of routes) {
            if (index.isGrantedTo(copy(route), asked) !== model.isGrantedTo(route, ns)) throw new Error(`isGrantedTo(${route}, ${ns}) after ${JSON.stringify(o)}`);
          }
          for (const domain of domains) {
            if (index.wildcardConflictsBelow(domain, asked) !== model.wildcardConflictsBelow(domain, ns)) throw new Error(`wildcardConflictsBelow(${domain}, ${ns})`);
          }
        }
        for (const hostname of hostnames) {
          const holder = index.holderOf(hostname);
          const expected = model.claims.find((c) => c.hostname === hostname);
          if (holder?.name !== expected?.name || holder?.namespace !== expected?.namespace) throw new Error(`holderOf(${hostname})`);
        }
      }
      return index.claimCount === model.claims.length && index.grantCount === model.grants.length;
    }),
    { numRuns: 400 },
  );
  t.pass('agree');
});

t.test('counts beyond what packs into one entry', async (t) => {
  const index = new HostnameOwnershipIndex();
  // 1,500 claims of one namespace below example.com: more than the packed count holds.
  for (let i = 0; i < 1500; i++) index.setClaim(`c${i}`, { hostname: `h${i}.example.com`, namespace: 'team-a', request: `r${i}` });
  // 1,500 grants of one name to one namespace (hand-made duplicates).
  for (let i = 0; i < 1500; i++) index.setGrant(`g${i}`, { hostname: 'dup.example.com', namespace: 'team-a' });
  t.equal(index.wildcardConflictsBelow('example.com', 'team-a'), false);
  t.equal(index.wildcardConflictsBelow('example.com', 'team-b'), true);
  t.equal(index.isGrantedTo('dup.example.com', 'team-a'), true);
  index.setGrant('other', { hostname: 'dup.example.com', namespace: 'team-b' });
  t.equal(index.isGrantedTo('dup.example.com', 'team-b'), true);
  t.equal(index.isGrantedTo('dup.example.com', 'team-c'), false);
  index.deleteGrant('other');
  for (let i = 0; i < 1499; i++) index.deleteGrant(`g${i}`);
  t.equal(index.isGrantedTo('dup.example.com', 'team-a'), true, 'one grant left');
  index.deleteGrant('g1499');
  t.equal(index.isGrantedTo('dup.example.com', 'team-a'), false, 'none left');
  for (let i = 0; i < 1499; i++) index.deleteClaim(`c${i}`);
  t.equal(index.wildcardConflictsBelow('example.com', 'team-b'), true, 'one claim left');
  index.deleteClaim('c1499');
  t.equal(index.wildcardConflictsBelow('example.com', 'team-b'), false, 'drained');
  // team-a's id is free again; a new namespace taking it must not inherit anything.
  index.setGrant('n', { hostname: 'new.example.com', namespace: 'team-new' });
  t.equal(index.isGrantedTo('h3.example.com', 'team-new'), false);
  t.equal(index.isGrantedTo('new.example.com', 'team-a'), false);
  t.equal(index.isGrantedTo('new.example.com', 'team-new'), true);
});
