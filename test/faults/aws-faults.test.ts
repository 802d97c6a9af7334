// AWS misbehaving on every API: through the fault proxy, 20% of the orchestrator's calls are
// throttled (ACM ThrottlingException, ELBv2 Throttling, Route53 Throttling or
// PriorRequestNotComplete) and 5% fail with a 5xx (half of those after the call took effect in
// moto, so only the answer is lost; in every trial a few lost answers of RequestCertificate,
// ChangeResourceRecordSets and DeleteCertificate for certain). With the production rate limits
// (policy/config.ts defaults), every request still goes Ready, every deletion completes, and the
// calls the proxy saw never exceed what the client-side token buckets allow.
//
// FAULTS_REQUESTS (default 10) requests per trial, FAULTS_TRIALS (default 1) trials, seed = trial.
import t from 'tap';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname } from '../helpers/index.js';
import { budgetExcess, peakInWindow, type AwsServiceName, type FaultRule } from './aws-fault-proxy.js';
import { converge, getRequest, goneProblems, readyProblems, type RequestRef } from './converge.js';
import { requestManifest, startFaultEnv, trials, type FaultEnv } from './process-harness.js';

// The defaults of policy/config.ts: what a production install runs with.
const RATES = { route53: 5, acm: 5, elbv2: 10 };
const REQUESTS = Math.max(1, Number(process.env['FAULTS_REQUESTS'] ?? 10) || 10);

export const FAULT_MIX: FaultRule[] = [
  // Certain every trial: answers lost after the call took effect (a retry must not double it).
  { service: 'acm', operation: 'RequestCertificate', calls: [1, 4], fault: { kind: 'server-error', status: 503, after: true } },
  { service: 'route53', operation: 'ChangeResourceRecordSets', calls: [2, 7], fault: { kind: 'server-error', status: 500, after: true } },
  { service: 'acm', operation: 'DeleteCertificate', calls: [1], fault: { kind: 'server-error', status: 500, after: true } },
  // And on every API, by a seeded draw.
  { service: 'route53', probability: 0.1, fault: { kind: 'throttle' } },
  { service: 'route53', probability: 0.1, fault: { kind: 'prior-request-not-complete' } },
  { service: ['acm', 'elbv2'], probability: 0.2, fault: { kind: 'throttle' } },
  { probability: 0.025, fault: { kind: 'server-error', status: 500 } },
  { probability: 0.025, fault: { kind: 'server-error', status: 503, after: true } },
];

let env: FaultEnv;
let namespaces: string[];

t.before(async () => {
  env = await startFaultEnv();
  namespaces = [await env.createNamespace('aws-a'), await env.createNamespace('aws-b')];
});
t.teardown(() => env?.stop());

for (let trial = 1; trial <= trials(1); trial++) {
  t.test(`trial ${trial}: ${REQUESTS} requests go Ready and are deleted under 20% throttling and 5% 5xx`, async (t) => {
    const since = Date.now();
    env.proxy.setRules(FAULT_MIX, trial);
    const replica = await env.spawn('a', { rates: RATES });
    const refs: RequestRef[] = Array.from({ length: REQUESTS }, (_, i) => ({
      namespace: namespaces[i % namespaces.length]!,
      name: `aws-${trial}-${i}`,
      hostname: uniqueHostname('opendi.com', `aws${trial}`),
    }));
    await Promise.all(refs.map((r) => env.admin.create(paths.requests(r.namespace), requestManifest(r.namespace, r.name, r.hostname, env.zoneId))));
    const created = Date.now();
    await Promise.all(refs.map((r) => converge(() => readyProblems(env, r), `${r.namespace}/${r.name} Ready under faults`, 300_000)));
    const readyMs = Date.now() - created;
    t.pass(`all ${REQUESTS} Ready, each with exactly one certificate and its records, after ${(readyMs / 1000).toFixed(1)}s`);

    const arns = await Promise.all(refs.map(async (r) => (await getRequest(env, r.namespace, r.name))?.status?.certificateArn ?? ''));
    await Promise.all(refs.map((r) => env.admin.delete(paths.requests(r.namespace, r.name))));
    const deleted = Date.now();
    await Promise.all(refs.map((r, i) => converge(() => goneProblems(env, r, [arns[i]!]), `${r.namespace}/${r.name} gone under faults`, 300_000)));
    const goneMs = Date.now() - deleted;
    t.pass(`all ${REQUESTS} deleted without a trace after ${(goneMs / 1000).toFixed(1)}s`);

    const calls = env.proxy.calls.filter((c) => c.at >= since);
    const injected = calls.filter((c) => c.fault);
    const byKind: Record<string, number> = {};
    for (const c of injected) byKind[c.fault!] = (byKind[c.fault!] ?? 0) + 1;
    t.ok((byKind['throttle'] ?? 0) > 0 && (byKind['server-error'] ?? 0) > 0, `faults were injected: ${JSON.stringify(byKind)} of ${calls.length} calls`);
    const seen = await replica.awsCalls();
    const throttledInjected = (byKind['throttle'] ?? 0) + (byKind['prior-request-not-complete'] ?? 0);
    t.equal(seen.throttled, throttledInjected, 'every injected throttle was seen and counted as throttled by the orchestrator');

    for (const service of ['acm', 'route53', 'elbv2'] as const satisfies readonly AwsServiceName[]) {
      const times = calls.filter((c) => c.service === service).map((c) => c.at);
      const rate = RATES[service];
      // Slack: the time between taking a token and the request reaching the proxy varies a little.
      const worst = budgetExcess(times, rate, Math.ceil(rate), 250);
      t.ok(worst.excess <= 0, `${service}: ${times.length} calls within ${rate}/s (burst ${Math.ceil(rate)}); tightest window ${worst.calls} calls in ${worst.spanMs}ms; peak ${peakInWindow(times, 1000)} in any second`);
    }
    t.comment(
      `trial ${trial}: ${calls.length} AWS calls, injected ${JSON.stringify(byKind)}; orchestrator counted throttled ${seen.throttled}, errors ${seen.error}, mutating ${seen.mutating}; Ready ${(readyMs / 1000).toFixed(1)}s, gone ${(goneMs / 1000).toFixed(1)}s`,
    );
    await replica.stop('SIGTERM');
    env.proxy.setRules([]);
  });
}
