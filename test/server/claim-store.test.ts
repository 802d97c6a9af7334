// ClaimStore against the real API server, with the claim changing hands in the one gap the
// "already ours" path has: between reading the claim and stamping it as just admitted.
// Found by CI (test/faults/races.test.ts, storm): the reconciler released the claim of a deleted
// request of the same name in that gap, and the stamp's 404 failed the admission with a 500.
import t from 'tap';
import { API_VERSION, KIND_CLAIM, type DomainClaim } from '../../policy/api.js';
import { claimNameFor } from '../../policy/hostname.js';
import { ANNOTATION_ADMITTED_AT, ClaimStore } from '../../server/admission/claims.js';
import { KubeRest, paths } from '../../server/kube/rest.js';
import { adminKubeConfig, uniqueHostname } from '../helpers/index.js';

let admin: KubeRest;
t.before(async () => {
  admin = await KubeRest.fromKubeConfig(await adminKubeConfig());
});

const claimFor = (hostname: string, namespace: string, name: string): DomainClaim => ({
  apiVersion: API_VERSION,
  kind: KIND_CLAIM,
  metadata: { name: claimNameFor(hostname) },
  spec: { hostname, requestRef: { namespace, name } },
});

/** A store whose first claim stamp runs `inGap` before it is sent, as if another actor got there first. */
async function storeWithGap(inGap: (hostname: string) => Promise<void>): Promise<{ store: ClaimStore; gaps: () => number }> {
  const rest = await KubeRest.fromKubeConfig(await adminKubeConfig());
  const patch = rest.patch.bind(rest);
  let gaps = 0;
  rest.patch = (async (path: string, type: Parameters<KubeRest['patch']>[1], body: unknown, options?: Parameters<KubeRest['patch']>[3]) => {
    if (gaps === 0 && path.includes('/domainclaims/')) {
      gaps++;
      const hostname = (await admin.get<DomainClaim>(path)).spec.hostname;
      await inGap(hostname);
    }
    return patch(path, type, body, options);
  }) as KubeRest['patch'];
  return { store: new ClaimStore(rest), gaps: () => gaps };
}

const input = (hostname: string, namespace: string, name: string) => ({ hostname, apexDomain: 'opendi.com', namespace, name, dryRun: false });

t.test('claim released between read and stamp: claimed afresh, not a 500', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'gap-released');
  await admin.create(paths.claims(), claimFor(hostname, 'team-a', 'web'));
  const { store, gaps } = await storeWithGap(async (h) => {
    await admin.delete(paths.claims(claimNameFor(h)));
  });
  const outcome = await store.claim(input(hostname, 'team-a', 'web'));
  t.equal(gaps(), 1, 'the release landed in the gap');
  t.same(outcome, { kind: 'claimed' });
  const claim = await store.read(hostname);
  t.same(claim?.spec.requestRef, { namespace: 'team-a', name: 'web' }, 'the claim is there again, held by the request');
});

t.test('claim taken by another namespace between read and stamp: held by them, theirs untouched', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'gap-taken');
  await admin.create(paths.claims(), claimFor(hostname, 'team-a', 'web'));
  const { store, gaps } = await storeWithGap(async (h) => {
    await admin.delete(paths.claims(claimNameFor(h)));
    await admin.create(paths.claims(), claimFor(h, 'team-b', 'site'));
  });
  const outcome = await store.claim(input(hostname, 'team-a', 'web'));
  t.equal(gaps(), 1);
  t.same(outcome, { kind: 'held', holder: { namespace: 'team-b', name: 'site', hostname } }, 'the admission is told who holds it');
  const claim = await store.read(hostname);
  t.same(claim?.spec.requestRef, { namespace: 'team-b', name: 'site' });
  t.notOk(claim?.metadata.annotations?.[ANNOTATION_ADMITTED_AT], "the other namespace's claim was not stamped");
});

t.test('claim changed (not moved) between read and stamp: read again, stamped, already ours', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'gap-changed');
  await admin.create(paths.claims(), claimFor(hostname, 'team-a', 'web'));
  const { store, gaps } = await storeWithGap(async (h) => {
    await admin.patch(paths.claims(claimNameFor(h)), 'merge', { metadata: { labels: { touched: 'yes' } } });
  });
  const outcome = await store.claim(input(hostname, 'team-a', 'web'));
  t.equal(gaps(), 1);
  t.same(outcome, { kind: 'already-ours' });
  const claim = await store.read(hostname);
  t.ok(claim?.metadata.annotations?.[ANNOTATION_ADMITTED_AT], 'stamped as just admitted');
  t.equal(claim?.metadata.labels?.touched, 'yes', "the other writer's change is kept");
});
