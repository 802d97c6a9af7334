// Found by the fault tests: deleting the LAST request on a pool Gateway never completed against
// moto. Its certificate was the listener's first default certificate; once it leaves the
// LoadBalancerConfiguration the load balancer controller (here its stand-in) deletes the HTTPS
// listener (an ALB cannot keep one without a certificate), while moto never clears InUseBy for
// it. planDeletion (reconcile/plan.ts) now discounts InUseBy entries naming a listener of our own
// ALB once we have read that ALB without the certificate; DeleteCertificate has the last word.
// Real ACM clears InUseBy after the listener goes; this guards against a lagging InUseBy too.
import t from 'tap';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname } from '../helpers/index.js';
import { converge, goneProblems, getRequest, readyProblems } from './converge.js';
import { requestManifest, startFaultEnv, type FaultEnv } from './process-harness.js';

let env: FaultEnv;
t.before(async () => {
  env = await startFaultEnv();
});
t.teardown(() => env?.stop());

t.test('the last request on a Gateway is deleted completely', async (t) => {
  const ns = await env.createNamespace('last');
  await env.spawn('a');
  const hostname = uniqueHostname('opendi.com', 'last');
  const ref = { namespace: ns, name: 'only', hostname };
  await env.admin.create(paths.requests(ns), requestManifest(ns, 'only', hostname, env.zoneId));
  await converge(() => readyProblems(env, ref), 'the only request on a fresh pool to be Ready', 90_000);
  const arn = (await getRequest(env, ns, 'only'))!.status!.certificateArn!;
  await env.admin.delete(paths.requests(ns, 'only'));
  const outcome = await converge(() => goneProblems(env, ref, [arn]), 'the last request on the Gateway to be deleted', 20_000).then(
    () => undefined,
    (err: unknown) => String(err),
  );
  t.notOk(outcome, 'the last request on the Gateway is deleted completely');
  const r = await getRequest(env, ns, 'only');
  t.notOk(r, 'the request itself is gone (finalizer removed)');
});
