// Found by the race storm: the cleanup of a deleted request can release the claim of its
// successor, a new request of the same namespace and name admitted a moment after the old one
// was gone; a request of another namespace is then admitted for the same hostname too, and the
// successor (first come) ends Denied.
//
// How: the old request's last cleanup pass releases its claim and removes its finalizer. The
// tenant creates the same name again at once; the webhook claims the hostname for it (the claim
// names namespace/name, not the UID) and admits it. The claim's add event makes the reconciler
// look at every request of that hostname in its cache; a watch that is a little behind still
// shows the OLD request there, deleting with its finalizer, so planDeletion (reconcile/plan.ts)
// runs for it again: the claim names the same namespace/name and is not bound to a UID yet, so
// `releaseClaim` passes its check (`!claim.status?.requestUID || claim.status.requestUID === uid`)
// and ClaimStore.release (which compares namespace/name only) deletes the successor's claim.
//
// The storm hit it with an ordinary watch (the successor's create lands within milliseconds);
// this test makes the watch of requests 2 s late for the reconciler (a slow watch, see the
// child's requestWatchLagMs), which makes it certain. Fixed in reconcile/reconciler.ts: a
// deleting request's pass first reads the request from the API server and stops when that UID is
// gone.
//
// moto and AWS differ at the very end: the successor re-creates the same alias (same name, same
// ALB) its predecessor created and deleted. Route53 accepts that CREATE (the name is free).
// moto 5.2.1 refuses it ("already exists") when an identical CREATE is in its change journal and
// any record sorts after the name in the zone, although it no longer lists the record. So here the
// successor ends Ready, or with exactly that refusal and everything before it done.
import t from 'tap';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname } from '../helpers/index.js';
import { converge, getClaim, getRequest, readyProblems } from './converge.js';
import { requestManifest, startFaultEnv, type FaultEnv } from './process-harness.js';

let env: FaultEnv;
t.before(async () => {
  env = await startFaultEnv();
});
t.teardown(() => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('deleting a request and creating it again at once: the new one keeps the claim, no other namespace gets in', async (t) => {
  const ns = await env.createNamespace('succ');
  const other = await env.createNamespace('succ-other');
  const hostname = uniqueHostname('opendi.com', 'succ');
  await env.spawn('a', { requestWatchLagMs: 2_000 });
  await env.admin.create(paths.requests(ns), requestManifest(ns, 'web', hostname, env.zoneId));
  await converge(() => readyProblems(env, { namespace: ns, name: 'web', hostname }), 'the first request Ready', 90_000);
  const oldUid = (await getRequest(env, ns, 'web'))?.metadata.uid;

  await env.admin.delete(paths.requests(ns, 'web'));
  // The tenant re-creates it as soon as the old one is gone (a retry loop would).
  await converge(async () => ((await getRequest(env, ns, 'web')) ? ['old request still there'] : []), 'the old request to be gone', 60_000);
  await env.admin.create(paths.requests(ns), requestManifest(ns, 'web', hostname, env.zoneId));
  const newUid = (await getRequest(env, ns, 'web'))?.metadata.uid;
  t.not(newUid, oldUid, `the successor ${ns}/web is admitted (a new UID)`);

  // Another namespace keeps asking for the hostname for a few seconds.
  let competitor = 'denied';
  for (let i = 0; i < 40 && competitor === 'denied'; i++) {
    competitor = await env.admin.create(paths.requests(other), requestManifest(other, 'web', hostname, env.zoneId)).then(
      () => 'admitted',
      (err: unknown) => (String(err).includes('already claimed') ? 'denied' : String(err)),
    );
    await sleep(100);
  }
  t.equal(competitor, 'denied', `another namespace is never admitted while the successor lives`);

  // The verdict, once settled: the successor holds the claim and is Ready (Route53), or stops
  // only at moto's journal refusal of the alias (see the top).
  const motoRefusal = (c: { type: string; status: string; message?: string } | undefined) =>
    c?.type === 'DnsAliasReady' && c.status === 'False' && /CREATE A .* already exists/.test(c.message ?? '');
  let verdict = '';
  await converge(
    async () => {
      const r = await getRequest(env, ns, 'web');
      const claim = await getClaim(env, hostname);
      const ours = claim?.spec.requestRef.namespace === ns && claim.spec.requestRef.name === 'web';
      const is = (type: string) => r?.status?.conditions?.some((c) => c.type === type && c.status === 'True');
      const alias = r?.status?.conditions?.find((c) => c.type === 'DnsAliasReady');
      if (is('Denied')) verdict = 'Denied';
      else if (ours && is('Ready')) verdict = 'Ready';
      else if (ours && is('ListenerAttached') && motoRefusal(alias)) verdict = 'moto refused the alias';
      else verdict = '';
      if (verdict) return [];
      const conditions = (r?.status?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason ?? ''}: ${c.message ?? ''}`);
      return [`no settled verdict yet (claim held by ${claim ? `${claim.spec.requestRef.namespace}/${claim.spec.requestRef.name}` : 'nobody'})`, ...conditions];
    },
    'the successor to be reconciled',
    90_000,
  );
  t.not(verdict, 'Denied', `the successor is not Denied (verdict: ${verdict})`);
  t.ok(verdict === 'Ready' || verdict === 'moto refused the alias', `the successor is Ready, or everything up to moto's alias refusal is done (${verdict})`);
  const successor = await getRequest(env, ns, 'web');
  t.equal(successor?.metadata.uid, newUid, 'the same successor, never deleted');
  const claim = await getClaim(env, hostname);
  t.same(claim?.spec.requestRef, { namespace: ns, name: 'web' }, 'the successor holds the claim');
  t.equal(claim?.status?.requestUID, newUid, 'and it is bound to the successor\'s UID');
  const releases = env.replicas.flatMap((r) => r.events).filter((e) => e.event === 'step' && e.step.startsWith('kube.delete') && e.step.includes('/domainclaims/'));
  t.comment(`claim deletions by the reconciler: ${releases.length} (one is the old request's own); competitor: ${competitor}`);
});
