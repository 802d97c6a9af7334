// State loss with a real process restart: three requests Ready, the orchestrator SIGKILLed,
// every request's status removed while nobody runs, and a new process started. The same
// assignments come back (Gateway, load balancer, certificate, validation records) from the
// pool's annotations, the certificates' tags and the zone, with zero mutating AWS calls (its own
// counters and the proxy agree) and no write to the pool. The reconcile e2e test proves the
// same in-process; this one loses the process's memory too. FAULTS_TRIALS repeats it.
import t from 'tap';
import type { GatewayHostnameRequest, LoadBalancerConfiguration } from '../../policy/api.js';
import { isMutating } from '../../reconcile/aws/budget.js';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname } from '../helpers/index.js';
import { converge, getRequest, goneProblems, lbConfigs, readyProblems, type RequestRef } from './converge.js';
import { requestManifest, startFaultEnv, trials, type FaultEnv } from './process-harness.js';

let env: FaultEnv;
let ns: string;

t.before(async () => {
  env = await startFaultEnv();
  ns = await env.createNamespace('state');
  await env.spawn('a');
});
t.teardown(() => env?.stop());

const assignment = (r: GatewayHostnameRequest | undefined) =>
  JSON.stringify({
    gateway: r?.status?.assignedGateway,
    lb: r?.status?.assignedLoadBalancer,
    arn: r?.status?.certificateArn,
    validation: r?.status?.validationRecords,
  });
const versions = (list: LoadBalancerConfiguration[]) => list.map((c) => `${c.metadata.name}@${c.metadata.resourceVersion}`).sort();

for (let trial = 1; trial <= trials(1); trial++) {
  t.test(`trial ${trial}: status wiped and process restarted: same assignments, zero mutating AWS calls`, async (t) => {
    const running = env.replicas.find((r) => r.alive) ?? (await env.spawn('a'));
    const refs: RequestRef[] = [0, 1, 2].map((i) => ({ namespace: ns, name: `sl-${trial}-${i}`, hostname: uniqueHostname('opendi.com', `sl${trial}`) }));
    await Promise.all(refs.map((r) => env.admin.create(paths.requests(r.namespace), requestManifest(r.namespace, r.name, r.hostname, env.zoneId))));
    await Promise.all(refs.map((r) => converge(() => readyProblems(env, r), `${r.name} Ready`)));
    const before = await Promise.all(refs.map(async (r) => assignment(await getRequest(env, r.namespace, r.name))));
    const poolBefore = versions(await lbConfigs(env));

    await running.stop('SIGKILL');
    for (const r of refs) await env.admin.patch(paths.requestStatus(r.namespace, r.name), 'merge', { status: null });
    for (const r of refs) t.notOk((await getRequest(env, r.namespace, r.name))?.status?.certificateArn, `${r.name}: status removed`);

    const since = Date.now();
    const restarted = await env.spawn('a');
    await Promise.all(refs.map((r) => converge(() => readyProblems(env, r), `${r.name} Ready again after the restart`)));
    const after = await Promise.all(refs.map(async (r) => assignment(await getRequest(env, r.namespace, r.name))));
    t.same(after, before, 'the same Gateway, load balancer, certificate and validation records');

    const counted = await restarted.awsCalls();
    t.equal(counted.mutating, 0, `no mutating AWS call by the new process (its counters: ${JSON.stringify(counted.byOperation)})`);
    const writes = env.proxy.calls.filter((c) => c.at >= since && c.service !== 'other' && isMutating(c.service, c.operation));
    t.same(writes, [], 'and none reached AWS (proxy)');
    t.same(versions(await lbConfigs(env)), poolBefore, 'no write to the pool\'s LoadBalancerConfigurations');
    const kubeWrites = restarted.events.filter((e) => e.event === 'step' && !e.step.endsWith('/status'));
    t.same(kubeWrites, [], 'the only writes were request status');

    const arns = await Promise.all(refs.map(async (r) => (await getRequest(env, r.namespace, r.name))?.status?.certificateArn ?? ''));
    await Promise.all(refs.map((r) => env.admin.delete(paths.requests(r.namespace, r.name))));
    await Promise.all(refs.map((r, i) => converge(() => goneProblems(env, r, [arns[i]!]), `${r.name} gone`)));
  });
}
