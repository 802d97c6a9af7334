import t from 'tap';
import { claimNameFor, grantNameFor } from '../../policy/hostname.js';
import { HostnameOwnershipIndex, claimsConflict, wildcardClaimsCovering } from '../../policy/ownership.js';

t.test('claimsConflict: wildcard overlap table', async (t) => {
  // [a, b, conflict when held by different namespaces]
  const table: Array<[a: string, b: string, conflict: boolean]> = [
    ['example.com', 'example.com', true],
    ['*.example.com', '*.example.com', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true], // Gateway API: any depth
    ['*.example.com', '*.a.example.com', true],
    ['*.example.com', 'example.com', false], // the apex is its own name
    ['*.a.example.com', 'example.com', false],
    ['*.a.example.com', 'a.example.com', false],
    ['*.a.example.com', 'b.example.com', false],
    ['*.a.example.com', 'x.a.example.com', true],
    ['*.a.example.com', '*.b.example.com', false],
    ['*.example.com', 'badexample.com', false],
    ['*.example.com', 'a.badexample.com', false],
    ['*.example.com', '*.example.org', false],
    ['a.example.com', 'b.example.com', false],
    ['a.example.com', 'b.a.example.com', false], // literal names never cover others
    ['example.com', 'a.example.com', false],
  ];
  for (const [a, b, conflict] of table) {
    t.equal(claimsConflict({ hostname: a, namespace: 'team-a' }, { hostname: b, namespace: 'team-b' }), conflict, `${a} vs ${b}`);
    t.equal(claimsConflict({ hostname: b, namespace: 'team-a' }, { hostname: a, namespace: 'team-b' }), conflict, `${b} vs ${a}`);
    t.equal(claimsConflict({ hostname: a, namespace: 'team-a' }, { hostname: b, namespace: 'team-a' }), false, `${a} vs ${b}, one namespace`);
  }
});

t.test('wildcardClaimsCovering', async (t) => {
  const table: Array<[hostname: string, covering: string[]]> = [
    ['a.b.example.com', ['*.b.example.com', '*.example.com']],
    ['a.example.com', ['*.example.com']],
    ['example.com', []],
    ['*.example.com', []],
    ['*.b.example.com', ['*.example.com']],
    ['*.a.b.example.com', ['*.b.example.com', '*.example.com']],
    ['x.y.z.example.co.uk', ['*.y.z.example.co.uk', '*.z.example.co.uk', '*.example.co.uk', '*.co.uk']],
  ];
  for (const [hostname, covering] of table) {
    t.same(wildcardClaimsCovering(hostname), covering, hostname);
    for (const wildcard of covering) {
      t.ok(claimsConflict({ hostname, namespace: 'a' }, { hostname: wildcard, namespace: 'b' }), `${wildcard} conflicts with ${hostname}`);
    }
  }
});

function sampleIndex(): HostnameOwnershipIndex {
  const index = new HostnameOwnershipIndex();
  index.setClaim(claimNameFor('app.example.com'), { hostname: 'app.example.com', namespace: 'team-a', request: 'app' });
  index.setClaim(claimNameFor('*.wild.example.com'), { hostname: '*.wild.example.com', namespace: 'team-b', request: 'wild' });
  index.setClaim(claimNameFor('example.com'), { hostname: 'example.com', namespace: 'team-c', request: 'apex' });
  index.setGrant(grantNameFor('app.example.com', 'team-a2'), { hostname: 'app.example.com', namespace: 'team-a2' });
  index.setGrant('legacy-grant', { hostname: '*.shared.example.com', namespace: 'team-d' });
  return index;
}

t.test('HostnameOwnershipIndex.holderOf', async (t) => {
  const index = sampleIndex();
  t.same(index.holderOf('app.example.com'), { name: claimNameFor('app.example.com'), hostname: 'app.example.com', namespace: 'team-a', request: 'app' });
  t.equal(index.holderOf('*.wild.example.com')?.namespace, 'team-b');
  t.equal(index.holderOf('x.wild.example.com'), undefined, 'exact names only');
  t.equal(index.holderOf('*.shared.example.com'), undefined, 'grants are not claims');
  t.equal(index.claimCount, 3);
  t.equal(index.grantCount, 2);
});

t.test('HostnameOwnershipIndex.isGrantedTo', async (t) => {
  const index = sampleIndex();
  const table: Array<[route: string, namespace: string, granted: boolean, why: string]> = [
    ['app.example.com', 'team-a', true, 'holds the claim'],
    ['app.example.com', 'team-a2', true, 'holds a grant naming it'],
    ['app.example.com', 'team-b', false, 'someone else holds it'],
    ['example.com', 'team-c', true, 'apex claim'],
    ['example.com', 'team-a', false, 'apex held by team-c'],
    ['x.example.com', 'team-c', false, 'the apex claim covers only the apex'],
    ['x.wild.example.com', 'team-b', true, 'wildcard claim covers one label down'],
    ['a.b.c.wild.example.com', 'team-b', true, 'and any depth (Gateway API)'],
    ['*.x.wild.example.com', 'team-b', true, 'a narrower wildcard route'],
    ['*.wild.example.com', 'team-b', true, 'the wildcard itself'],
    ['wild.example.com', 'team-b', false, 'not the wildcard parent'],
    ['x.wild.example.com', 'team-a', false, 'wildcard of another namespace'],
    ['x.shared.example.com', 'team-d', true, 'wildcard grant'],
    ['*.y.shared.example.com', 'team-d', true, 'wildcard grant covers a deeper wildcard route'],
    ['*.example.com', 'team-a', false, 'a route *.example.com is not covered by a.example.com'],
    ['*.example.com', 'team-c', false, 'nor by the apex'],
    ['unrelated.org', 'team-a', false, 'nobody holds it'],
  ];
  for (const [route, namespace, granted, why] of table) {
    t.equal(index.isGrantedTo(route, namespace), granted, `${route} for ${namespace}: ${why}`);
  }
});

t.test('isGrantedTo: the most specific holder decides', async (t) => {
  const index = new HostnameOwnershipIndex();
  index.setClaim('w', { hostname: '*.example.com', namespace: 'team-a', request: 'wild' });
  index.setGrant('legacy', { hostname: 'legacy.example.com', namespace: 'team-old' });
  index.setGrant('sub', { hostname: '*.sub.example.com', namespace: 'team-sub' });
  t.equal(index.isGrantedTo('anything.example.com', 'team-a'), true);
  t.equal(index.isGrantedTo('legacy.example.com', 'team-a'), false, 'a name held elsewhere is not taken by the wildcard');
  t.equal(index.isGrantedTo('legacy.example.com', 'team-old'), true);
  t.equal(index.isGrantedTo('deep.legacy.example.com', 'team-a'), true, 'the literal legacy grant covers only itself');
  t.equal(index.isGrantedTo('x.sub.example.com', 'team-a'), false, 'the nearer wildcard shadows the wider one');
  t.equal(index.isGrantedTo('x.sub.example.com', 'team-sub'), true);
  t.equal(index.isGrantedTo('*.example.com', 'team-sub'), false);
  // Granting team-a the legacy name too makes both holders.
  index.setGrant('legacy-a', { hostname: 'legacy.example.com', namespace: 'team-a' });
  t.equal(index.isGrantedTo('legacy.example.com', 'team-a'), true);
  t.equal(index.isGrantedTo('legacy.example.com', 'team-old'), true);
});

t.test('HostnameOwnershipIndex.wildcardConflictsBelow', async (t) => {
  const index = sampleIndex();
  t.equal(index.wildcardConflictsBelow('example.com', 'team-z'), true, 'team-a holds app.example.com');
  t.equal(index.wildcardConflictsBelow('example.com', 'team-a'), true, 'team-b holds *.wild.example.com');
  t.equal(index.wildcardConflictsBelow('wild.example.com', 'team-b'), false, 'only team-b below wild.example.com');
  t.equal(index.wildcardConflictsBelow('wild.example.com', 'team-a'), true, '*.wild.example.com is strictly below');
  t.equal(index.wildcardConflictsBelow('app.example.com', 'team-z'), false, 'the name itself is not below itself');
  t.equal(index.wildcardConflictsBelow('shared.example.com', 'team-z'), false, 'grants do not count');
  t.equal(index.wildcardConflictsBelow('example.org', 'team-z'), false);

  const single = new HostnameOwnershipIndex();
  single.setClaim('a', { hostname: 'a.example.com', namespace: 'team-a', request: 'r' });
  t.equal(single.wildcardConflictsBelow('example.com', 'team-a'), false, 'own claims are fine');
  t.equal(single.wildcardConflictsBelow('example.com', 'team-b'), true);
});

t.test('index updates: replace, delete, duplicates, counts', async (t) => {
  const index = new HostnameOwnershipIndex();
  index.setClaim('c1', { hostname: 'a.example.com', namespace: 'team-a', request: 'r1' });
  index.setClaim('c1', { hostname: 'a.example.com', namespace: 'team-a', request: 'r1' }); // informer resync: same object again
  t.equal(index.claimCount, 1);
  index.deleteClaim('c1');
  t.equal(index.holderOf('a.example.com'), undefined, 'one delete undoes any number of sets of one name');
  t.equal(index.isGrantedTo('a.example.com', 'team-a'), false);
  t.equal(index.wildcardConflictsBelow('example.com', 'team-b'), false);

  // An update moving a claim to another hostname forgets the old one.
  index.setClaim('c2', { hostname: 'old.example.com', namespace: 'team-a', request: 'r2' });
  index.setClaim('c2', { hostname: 'new.example.com', namespace: 'team-a', request: 'r2' });
  t.equal(index.holderOf('old.example.com'), undefined);
  t.equal(index.holderOf('new.example.com')?.name, 'c2');

  // The index keeps its own copy of what it was given.
  const entry = { hostname: 'copy.example.com', namespace: 'team-a', request: 'r3' };
  index.setClaim('c3', entry);
  entry.namespace = 'team-evil';
  t.equal(index.holderOf('copy.example.com')?.namespace, 'team-a');

  // A claim and a grant for the same (hostname, namespace) are counted apart.
  index.setGrant('g1', { hostname: 'new.example.com', namespace: 'team-a' });
  index.deleteClaim('c2');
  t.equal(index.isGrantedTo('new.example.com', 'team-a'), true, 'the grant still names it');
  index.deleteGrant('g1');
  t.equal(index.isGrantedTo('new.example.com', 'team-a'), false);

  // Two claims on one hostname (only possible by hand): deleting one keeps the other.
  index.setClaim('dup-1', { hostname: 'dup.example.com', namespace: 'team-a', request: 'r' });
  index.setClaim('dup-2', { hostname: 'dup.example.com', namespace: 'team-b', request: 'r' });
  t.equal(index.holderOf('dup.example.com')?.name, 'dup-1');
  index.deleteClaim('dup-1');
  t.equal(index.holderOf('dup.example.com')?.name, 'dup-2');
  t.equal(index.isGrantedTo('dup.example.com', 'team-a'), false);
  t.equal(index.isGrantedTo('dup.example.com', 'team-b'), true);
  index.setClaim('dup-3', { hostname: 'dup.example.com', namespace: 'team-c', request: 'r' });
  index.setClaim('dup-4', { hostname: 'dup.example.com', namespace: 'team-d', request: 'r' });
  index.deleteClaim('dup-3');
  t.equal(index.holderOf('dup.example.com')?.name, 'dup-2', 'the oldest answers, whichever is deleted');
  index.deleteClaim('dup-2');
  t.equal(index.holderOf('dup.example.com')?.name, 'dup-4');
  index.deleteClaim('dup-4');
  t.equal(index.holderOf('dup.example.com'), undefined, 'none left');

  // Deleting what is not there is harmless.
  index.deleteClaim('never');
  index.deleteGrant('never');
  t.equal(index.grantCount, 0);
});

t.test('index at 100,000 entries behaves the same', async (t) => {
  const index = new HostnameOwnershipIndex();
  const N = 100_000;
  const host = (i: number): string => `h${i}.t${i % 100}.example.com`;
  for (let i = 0; i < N; i++) {
    const hostname = host(i);
    index.setClaim(claimNameFor(hostname), { hostname, namespace: `ns-${i % 1000}`, request: `r${i}` });
  }
  for (let i = 0; i < 1000; i++) {
    index.setGrant(`wild-${i}`, { hostname: `*.w${i}.example.com`, namespace: `ns-${i}` });
  }
  t.equal(index.claimCount, N);
  t.equal(index.grantCount, 1000);
  for (const i of [0, 1, 4_999, 77_777, N - 1]) {
    const hostname = host(i);
    t.equal(index.holderOf(hostname)?.request, `r${i}`, `holder of ${hostname}`);
    t.equal(index.isGrantedTo(hostname, `ns-${i % 1000}`), true, `${hostname} granted to its namespace`);
    t.equal(index.isGrantedTo(hostname, `ns-${(i + 1) % 1000}`), false, `${hostname} not granted to another`);
  }
  t.equal(index.isGrantedTo('deep.x.w123.example.com', 'ns-123'), true, 'wildcard grant among 100k entries');
  t.equal(index.isGrantedTo('deep.x.w123.example.com', 'ns-124'), false);
  t.equal(index.wildcardConflictsBelow('t7.example.com', 'ns-7'), true, 't7 holds names from many namespaces');
  t.equal(index.wildcardConflictsBelow('h7.t7.example.com', 'ns-7'), false);
  t.equal(index.wildcardConflictsBelow('example.com', 'ns-1'), true);

  for (let i = 0; i < N; i++) index.deleteClaim(claimNameFor(host(i)));
  t.equal(index.claimCount, 0);
  t.equal(index.holderOf(host(42)), undefined);
  t.equal(index.wildcardConflictsBelow('example.com', 'ns-1'), false, 'per-parent counts drain to nothing');
  t.equal(index.isGrantedTo('deep.x.w123.example.com', 'ns-123'), true, 'grants untouched');
});
