// Found by the fault tests: the release of an orphan claim can take the claim away from a request
// that was admitted with it a moment earlier, and then a second request for the same hostname is
// admitted too; the first one (first come) ends Denied.
//
// An orphan claim is a DomainClaim whose request does not exist: the webhook claimed, then the
// create failed later in admission (e.g. AlreadyExists). The tenant retries the same create, the
// webhook finds the claim already theirs ("already-ours") and admits it. Meanwhile
// Reconciler.reconcileClaim (reconcile/reconciler.ts) has found the claim older than the grace
// period, GET the request (404, not created yet) and goes on to ClaimStore.release, which reads
// and deletes the claim (precondition: the claim's uid only). Nothing ties the delete to "the
// request still does not exist", so the claim of a live, admitted request is deleted, even after
// the reconciler has bound it to that request's UID (bindClaim does not change the uid); the next
// create of the hostname in another namespace is admitted, and the reconciler's attempt to claim
// again for the first request finds it taken: Denied.
//
// The window is two API round trips wide; the test widens it with a slow API server (the
// child's delayed writes: the claim DELETE and the reconciler's claim re-create wait 3 s each).
// Fixed: the webhook marks a claim it finds already its own as just admitted (an annotation
// write), and the orphan release counts its grace from that mark and deletes only the claim
// version it read (resourceVersion precondition), so the admission wins either way.
import t from 'tap';
import { claimNameFor } from '../../policy/hostname.js';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname, waitFor } from '../helpers/index.js';
import { converge, getClaim, getRequest } from './converge.js';
import { requestManifest, startFaultEnv, type FaultEnv } from './process-harness.js';

let env: FaultEnv;
t.before(async () => {
  env = await startFaultEnv();
});
t.teardown(() => env?.stop());

t.test('a request admitted with an orphan claim keeps it, and no second request for the hostname is admitted', async (t) => {
  const ns1 = await env.createNamespace('orphan-1');
  const ns2 = await env.createNamespace('orphan-2');
  const hostname = uniqueHostname('opendi.com', 'orphan');
  const replica = await env.spawn('a', {
    delays: [
      { method: 'delete', pathIncludes: `/domainclaims/${claimNameFor(hostname)}`, ms: 3_000 },
      { method: 'create', pathIncludes: '/domainclaims', ms: 3_000 },
    ],
  });
  // The orphan: claimed for ns1/web, but the request was never stored.
  await env.admin.create(paths.claims(), {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'DomainClaim',
    metadata: { name: claimNameFor(hostname) },
    spec: { hostname, requestRef: { namespace: ns1, name: 'web' } },
  });
  // After the grace period (3 s) the reconciler found no request and is about to delete it.
  await waitFor(() => replica.events.some((e) => e.event === 'delay' && e.step.includes('/domainclaims/')), {
    description: 'the reconciler to start releasing the orphan claim',
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  // The tenant's retry lands now: the webhook finds the claim theirs and admits the request.
  await env.admin.create(paths.requests(ns1), requestManifest(ns1, 'web', hostname, env.zoneId));
  t.pass(`${ns1}/web admitted with the claim`);
  const uid = (await getRequest(env, ns1, 'web'))?.metadata.uid;
  const bound = await converge(async () => ((await getClaim(env, hostname))?.status?.requestUID === uid ? [] : ['not bound']), 'the claim to be bound', 2_500).then(
    () => true,
    () => false,
  );
  t.comment(`before the delayed release went through, the claim was ${bound ? `bound to ${ns1}/web (uid ${uid})` : 'not bound yet'}`);

  await converge(async () => ((await getClaim(env, hostname)) ? ['claim still there'] : []), 'the delayed release to go through', 15_000).catch(() => undefined);
  const claimAfter = await getClaim(env, hostname);
  t.ok(claimAfter, `the claim of the admitted ${ns1}/web is still there`);

  // Another namespace asks for the hostname while the claim is gone.
  const second = await env.admin.create(paths.requests(ns2), requestManifest(ns2, 'web', hostname, env.zoneId)).then(
    () => 'admitted',
    (err: unknown) => (String(err).includes('already claimed') ? 'denied' : String(err)),
  );
  t.equal(second, 'denied', `a second request in ${ns2} is denied`);

  // The verdict, once the reconciler has settled: its status agrees with who holds the claim.
  await converge(
    async () => {
      const r = await getRequest(env, ns1, 'web');
      const claim = await getClaim(env, hostname);
      const ours = claim?.spec.requestRef.namespace === ns1 && claim.spec.requestRef.name === 'web';
      const is = (type: string) => r?.status?.conditions?.some((c) => c.type === type && c.status === 'True');
      return (ours && is('Claimed')) || (claim && !ours && is('Denied')) ? [] : ['no settled verdict yet'];
    },
    `${ns1}/web to be reconciled`,
    30_000,
  );
  const first = await getRequest(env, ns1, 'web');
  const denied = first?.status?.conditions?.find((c) => c.type === 'Denied');
  t.notOk(denied?.status === 'True', `the first admitted request ${ns1}/web is not Denied (${denied?.message ?? 'no Denied condition'})`);
  t.comment(`claim now held by ${JSON.stringify((await getClaim(env, hostname))?.spec.requestRef)}; second create: ${second}`);
});
