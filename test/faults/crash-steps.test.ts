// A crash at every step: the orchestrator (a child process) kills itself with SIGKILL right after
// each write of a request's life (creation and deletion), is started again, and must converge:
// exactly one certificate per request in moto (by its request-uid tag), no duplicate or orphaned
// record, no leaked claim or grant, the request Ready again, or fully gone after deletion.
//
// Between the crash and the restart nobody reconciles, and the test checks that the crash fell
// where it should (e.g. the certificate exists in ACM while the status does not name it yet).
//
// Default: one chain (one request crashed at all 12 steps in turn, one restart after each).
// FAULTS_TRIALS=n runs n chains; FAULTS_ISOLATED=1 adds one fresh request per step (crash once
// at that step, restart, converge), which is slower and proves each step on its own.
import t, { type Test } from 'tap';
import { paths } from '../../server/kube/rest.js';
import { claimNameFor, grantNameFor } from '../../policy/hostname.js';
import { uniqueHostname } from '../helpers/index.js';
import { CRASH_STEPS, type CrashStep } from './child-protocol.js';
import { certificatesOf, converge, getClaim, getRequest, goneProblems, grantsOf, lbConfigs, placementsOf, readyProblems, recordsOf, type RequestRef } from './converge.js';
import { requestManifest, startFaultEnv, trials, within, type FaultEnv, type Replica } from './process-harness.js';

const CREATION = CRASH_STEPS.slice(0, 6) as readonly CrashStep[];
const DELETION = CRASH_STEPS.slice(6) as readonly CrashStep[];

let env: FaultEnv;
let ns: string;

t.before(async () => {
  env = await startFaultEnv();
  ns = await env.createNamespace('crash');
});
t.teardown(() => env?.stop());

/** After the crash at `step`, with nobody reconciling: what must (not yet) be there. */
async function windowProblems(step: CrashStep, ref: RequestRef, uid: string): Promise<string[]> {
  const p: string[] = [];
  const r = await getRequest(env, ref.namespace, ref.name);
  const certs = (await certificatesOf(env, ref.hostname)).filter((c) => c.uid === uid);
  const records = (await recordsOf(env, ref.hostname)).map((x) => `${x.type} ${x.name}`);
  const hasRecord = (type: string) => records.some((x) => x.startsWith(`${type} `));
  const placed = (await lbConfigs(env)).some((c) => placementsOf(c).some((x) => x.requestUID === uid));
  const claim = await getClaim(env, ref.hostname);
  const grant = (await grantsOf(env, ref.hostname)).some((g) => g.metadata.name === grantNameFor(ref.hostname, ref.namespace));
  const ready = r?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const expect = (ok: boolean, what: string) => {
    if (!ok) p.push(what);
  };
  switch (step) {
    case 'bind-claim':
      expect(claim?.status?.requestUID === uid, 'claim bound to the request');
      expect(certs.length === 0, 'no certificate yet');
      break;
    case 'grant':
      expect(grant, 'grant written');
      expect(certs.length === 0, 'no certificate yet');
      break;
    case 'request-certificate':
      expect(certs.length === 1, `exactly one certificate in ACM (saw ${certs.length})`);
      expect(!r?.status?.certificateArn, 'status does not name the certificate yet');
      break;
    case 'validation-records':
      expect(hasRecord('CNAME'), 'validation CNAME written');
      expect(!placed, 'not placed yet');
      break;
    case 'place':
      expect(placed, 'placed in the LoadBalancerConfiguration');
      expect(!hasRecord('A'), 'no alias yet');
      break;
    case 'alias-records':
      expect(hasRecord('A') && hasRecord('TXT'), 'alias and ownership TXT written');
      expect(!ready, 'status not Ready yet');
      break;
    case 'alias-delete':
      expect(!hasRecord('A') && !hasRecord('TXT'), 'alias and TXT deleted');
      expect(placed, 'still placed');
      break;
    case 'unplace':
      expect(!placed, 'placement removed');
      expect(certs.length === 1, 'certificate still there');
      break;
    case 'certificate-delete':
      expect(certs.length === 0, 'certificate deleted');
      expect(hasRecord('CNAME'), 'validation CNAME still there');
      break;
    case 'validation-delete':
      expect(!hasRecord('CNAME'), 'validation CNAME deleted');
      expect(grant, 'grant still there');
      break;
    case 'grant-delete':
      expect(!grant, 'grant deleted');
      expect(!!claim, 'claim still there');
      break;
    case 'claim-release':
      expect(!claim, 'claim released');
      expect(!!r, 'request still there (finalizer)');
      break;
  }
  return p;
}

interface Outcome {
  restarts: number;
  requestCertificateCalls: number;
  aliasCreates: number;
  readyAfterMs: number;
  goneAfterMs: number;
}

/** One request's life with a crash after each of `steps` (in life order), a restart after each. */
async function runLife(t: Test, steps: readonly CrashStep[], label: string): Promise<Outcome> {
  const hostname = uniqueHostname('opendi.com', 'crash');
  const name = `r-${label}`;
  const ref: RequestRef = { namespace: ns, name, hostname };
  const all: Replica[] = [];
  const timings: string[] = [];
  const start = async (step: CrashStep | undefined) => {
    const spawned = Date.now();
    const r = await env.spawn('a', step ? { crash: { step, hostname } } : {});
    const leading = Date.now();
    all.push(r);
    void r.crashed.then((c) => timings.push(`${step}: leading after ${((leading - spawned) / 1000).toFixed(1)}s, crashed ${((c.at - leading) / 1000).toFixed(1)}s later`));
    return r;
  };
  const crashThrough = async (phase: readonly CrashStep[], first: Replica) => {
    let current = first;
    for (const [i, step] of phase.entries()) {
      const crash = await within(
        Promise.race([current.crashed, current.exited.then(() => Promise.reject(new Error(`replica exited without crashing:\n${current.stderrTail()}`)))]),
        120_000,
        `the crash after ${step}`,
      );
      await current.exited;
      t.equal(crash.step, step, `crashed after ${step}: ${crash.detail}`);
      const uid = (await getRequest(env, ns, name))?.metadata.uid ?? '';
      t.same(await windowProblems(step, ref, uid), [], `between crash and restart the state is the one right after ${step}`);
      current = await start(phase[i + 1]);
    }
    return current;
  };

  const creation = steps.filter((s) => CREATION.includes(s));
  const deletion = steps.filter((s) => DELETION.includes(s));
  let replica = await start(creation[0]);
  await env.admin.create(paths.requests(ns), requestManifest(ns, name, hostname, env.zoneId));
  const created = Date.now();
  replica = await crashThrough(creation, replica);
  await converge(() => readyProblems(env, ref), `${hostname} Ready after crashes at ${creation.join(', ') || 'no step'}`);
  const readyAfterMs = Date.now() - created;
  const arn = (await getRequest(env, ns, name))?.status?.certificateArn ?? '';

  if (deletion.length > 0) {
    await replica.stop('SIGTERM');
    replica = await start(deletion[0]);
  }
  await env.admin.delete(paths.requests(ns, name));
  const deleted = Date.now();
  replica = await crashThrough(deletion, replica);
  await converge(() => goneProblems(env, ref, [arn]), `${hostname} gone after crashes at ${deletion.join(', ') || 'no step'}`);
  const goneAfterMs = Date.now() - deleted;
  await replica.stop('SIGTERM');
  t.notOk(await getClaim(env, hostname), `no claim ${claimNameFor(hostname)} left`);

  t.comment(timings.join('; '));
  const steps_ = all.flatMap((r) => r.events.flatMap((e) => (e.event === 'step' ? [e.step] : [])));
  return {
    restarts: all.length - 1,
    requestCertificateCalls: steps_.filter((s) => s === `acm.requestCertificate ${hostname}`).length,
    aliasCreates: steps_.filter((s) => s.startsWith('route53.changeRecords') && s.includes(`CREATE A ${hostname}`)).length,
    readyAfterMs,
    goneAfterMs,
  };
}

const report = (o: Outcome) =>
  `${o.restarts} restarts; RequestCertificate returned ${o.requestCertificateCalls}x, alias CREATE batches ${o.aliasCreates}; Ready after ${(o.readyAfterMs / 1000).toFixed(1)}s, gone after ${(o.goneAfterMs / 1000).toFixed(1)}s`;

for (let trial = 1; trial <= trials(1); trial++) {
  t.test(`chain ${trial}: one request crashed after every step of its life, restarted each time`, async (t) => {
    const o = await runLife(t, CRASH_STEPS, `chain-${trial}`);
    t.equal(o.restarts, CRASH_STEPS.length + 1, 'a restart after each crash, one for the deletion');
    t.comment(report(o));
  });
}

if (process.env['FAULTS_ISOLATED'] === '1') {
  for (let trial = 1; trial <= trials(1); trial++) {
    for (const step of CRASH_STEPS) {
      t.test(`isolated ${trial}: crash once after ${step}`, async (t) => {
        const o = await runLife(t, [step], `${step}-${trial}`);
        t.comment(report(o));
      });
    }
  }
}
