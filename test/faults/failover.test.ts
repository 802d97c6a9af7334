// Leader failover: two orchestrator processes share the lease; the leader is SIGKILLed in the
// middle of provisioning (right after it requested the certificate of one of three new requests,
// before writing that request's status). The other replica takes over once the lease runs out
// and finishes the work: every request Ready with exactly one certificate, nothing provisioned
// twice, and the follower wrote nothing while the leader lived.
//
// The takeover time (crash to the follower leading) is measured and reported, not asserted:
// only a generous deadline applies. FAULTS_TRIALS repeats it (the replicas swap roles).
import t from 'tap';
import { isAlreadyExists, paths } from '../../server/kube/rest.js';
import { uniqueHostname } from '../helpers/index.js';
import { converge, getRequest, goneProblems, readyProblems, type RequestRef } from './converge.js';
import { requestManifest, startFaultEnv, trials, within, type FaultEnv } from './process-harness.js';

const LEASE_MS = 4_000;
const RENEW_MS = 1_000;
const lease = { leaseDurationMs: LEASE_MS, renewIntervalMs: RENEW_MS };

let env: FaultEnv;
let ns: string;

t.before(async () => {
  env = await startFaultEnv();
  ns = await env.createNamespace('failover');
});
t.teardown(() => env?.stop());

const takeovers: number[] = [];

/**
 * Creates a request as a client would: the leader may die (the crash this test sets up) while it
 * answers the admission of a sibling create, and the API server then reports the webhook call
 * failed (EOF); the client tries again, and the other replica answers.
 */
async function createWithRetry(r: RequestRef): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await env.admin.create(paths.requests(r.namespace), requestManifest(r.namespace, r.name, r.hostname, env.zoneId));
      return;
    } catch (err) {
      if (isAlreadyExists(err)) return;
      if (attempt >= 10 || !String(err).includes('failed calling webhook')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

for (let trial = 1; trial <= trials(1); trial++) {
  t.test(`trial ${trial}: the leader dies mid-provisioning, the follower takes over, nothing is provisioned twice`, async (t) => {
    const [leaderSlot, followerSlot] = trial % 2 === 1 ? ['a', 'b'] : ['b', 'a'];
    const refs: RequestRef[] = [0, 1, 2].map((i) => ({ namespace: ns, name: `fo-${trial}-${i}`, hostname: uniqueHostname('opendi.com', `fo${trial}`) }));
    const victim = refs[1]!;
    const leader = await env.spawn(leaderSlot, { ...lease, crash: { step: 'request-certificate', hostname: victim.hostname } });
    const follower = await env.spawn(followerSlot, { ...lease, waitForLeader: false });
    t.notOk(follower.events.some((e) => e.event === 'leader'), 'the second replica follows');

    const since = Date.now();
    await Promise.all(refs.map((r) => createWithRetry(r)));
    const crash = await within(leader.crashed, 120_000, 'the leader to crash after requesting the certificate');
    const exit = await leader.exited;
    t.equal(exit.signal, 'SIGKILL', `the leader was SIGKILLed after ${crash.detail}`);
    t.notOk((await getRequest(env, victim.namespace, victim.name))?.status?.certificateArn, 'the victim\'s status did not name its certificate yet');

    const led = await within(follower.leader, 60_000, 'the follower to take the lease');
    const takeoverMs = led - crash.at;
    takeovers.push(takeoverMs);
    t.pass(`the follower leads ${(takeoverMs / 1000).toFixed(2)}s after the crash (lease ${LEASE_MS / 1000}s, retry every ${RENEW_MS / 1000}s)`);
    const early = follower.events.filter((e) => e.event === 'step' && e.at < led);
    t.same(early, [], 'the follower wrote nothing before it led');

    await Promise.all(refs.map((r) => converge(() => readyProblems(env, r), `${r.name} Ready after the failover`)));
    t.pass('every request Ready with exactly one certificate tagged with its UID, nothing leaked');
    const requested = (host: string) =>
      [leader, follower].flatMap((r) => r.events).filter((e) => e.event === 'step' && e.step === `acm.requestCertificate ${host}`).length;
    const sent = env.proxy.calls.filter((c) => c.at >= since && c.operation === 'RequestCertificate').length;
    t.comment(`RequestCertificate calls that reached AWS: ${sent} for ${refs.length} requests`);
    t.comment(`RequestCertificate answers received per request (leader + follower; a call in flight when the leader died creates its certificate without an answer): ${refs.map((r) => requested(r.hostname)).join(', ')}`);

    const arns = await Promise.all(refs.map(async (r) => (await getRequest(env, r.namespace, r.name))?.status?.certificateArn ?? ''));
    await Promise.all(refs.map((r) => env.admin.delete(paths.requests(r.namespace, r.name))));
    await Promise.all(refs.map((r, i) => converge(() => goneProblems(env, r, [arns[i]!]), `${r.name} gone`)));
    await follower.stop('SIGTERM');
  });
}

t.test('takeover times', async (t) => {
  t.comment(`takeover after a SIGKILLed leader (ms): ${takeovers.join(', ')}; lease ${LEASE_MS}ms`);
  t.pass();
});
