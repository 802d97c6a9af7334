// The stand-in's AWS half against moto, read back through the orchestrator's ELBv2 port:
// one ALB per Gateway, tagged; the HTTPS:443 listener carrying exactly the configured
// certificates through every kind of change; certificates that are not ISSUED refused the
// way ELBv2 refuses them.
import t from 'tap';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import { StandInAws, CertificateNotReadyError, loadBalancerNameFor } from './aws.js';
import { motoAwsConfig, unique } from '../aws/moto.js';

const aws = await motoAwsConfig();
const ports = createAwsPorts(aws, { countCalls: false });
const lbc = new StandInAws({ region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) });
t.teardown(() => lbc.destroy());

async function issuedCertificates(n: number): Promise<string[]> {
  const arns = await Promise.all(
    Array.from({ length: n }, () => ports.acm.requestCertificate({ domainName: `c${unique()}.standin-test.example`, idempotencyToken: unique(), tags: {} })),
  );
  const deadline = Date.now() + 90_000;
  for (const arn of arns) {
    while ((await ports.acm.describeCertificate(arn))?.status !== 'ISSUED') {
      if (Date.now() > deadline) throw new Error(`certificate ${arn} not issued in time (is MOTO_ACM_VALIDATION_WAIT small?)`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return arns;
}

t.test('ALB names are valid, unique per Gateway and stable', async (t) => {
  const a = loadBalancerNameFor('edge', 'gw-01');
  t.equal(a, loadBalancerNameFor('edge', 'gw-01'));
  t.not(a, loadBalancerNameFor('edge', 'gw-02'));
  const long = loadBalancerNameFor('a-very-long-namespace-name-indeed', 'and-a-very-long-gateway-name');
  t.ok(long.length <= 32, long);
  t.match(long, /^[a-z0-9]+(-[a-z0-9]+)*$/);
});

t.test('one ALB per Gateway, found again by its tags; scheme change replaces it, IP address type changes in place', async (t) => {
  const gateway = { namespace: 'standin-test', name: `gw-${unique()}` };
  const desired = { gateway, name: loadBalancerNameFor(gateway.namespace, gateway.name), scheme: 'internal' as const, ipAddressType: 'ipv4' as const };
  const first = await lbc.ensureLoadBalancer(desired, undefined);
  t.teardown(() => lbc.deleteLoadBalancer(first.arn));
  const found = (await lbc.listOwnedLoadBalancers()).filter((lb) => lb.gateway.name === gateway.name);
  t.same(found, [first], 'found by tag, nothing else carries them');
  t.equal(await lbc.ensureLoadBalancer(desired, found[0]).then((lb) => lb.arn), first.arn, 'nothing new when it exists');

  const dual = await lbc.ensureLoadBalancer({ ...desired, ipAddressType: 'dualstack' }, found[0]);
  t.equal(dual.arn, first.arn);
  t.equal((await ports.elbv2.describeLoadBalancers()).find((lb) => lb.arn === first.arn)?.ipAddressType, 'dualstack');

  const facing = await lbc.ensureLoadBalancer({ ...desired, scheme: 'internet-facing' }, dual);
  t.teardown(() => lbc.deleteLoadBalancer(facing.arn));
  t.not(facing.arn, first.arn, 'scheme cannot change in place: a new ALB');
  const all = await ports.elbv2.describeLoadBalancers();
  t.notOk(all.some((lb) => lb.arn === first.arn), 'the old one is gone');
  t.match(all.find((lb) => lb.arn === facing.arn), { scheme: 'internet-facing', dnsName: facing.dnsName });
});

t.test('the HTTPS:443 listener carries exactly the configured certificates', async (t) => {
  const [c1, c2, c3, c4] = (await issuedCertificates(4)) as [string, string, string, string];
  const gateway = { namespace: 'standin-test', name: `gw-${unique()}` };
  const lb = await lbc.ensureLoadBalancer({ gateway, name: loadBalancerNameFor(gateway.namespace, gateway.name), scheme: 'internal', ipAddressType: 'ipv4' }, undefined);
  t.teardown(() => lbc.deleteLoadBalancer(lb.arn));
  const onListener = async () => {
    const listeners = await ports.elbv2.describeListeners(lb.arn);
    const https = listeners.find((l) => l.port === 443);
    return https ? (await ports.elbv2.describeListenerCertificates(https.arn)).sort() : undefined;
  };

  t.equal(await lbc.syncHttpsListener(lb.arn, { certificates: [] }), undefined, 'no default certificate, no HTTPS listener');
  t.equal(await onListener(), undefined);

  const steps: Array<[string, { defaultCertificate: string; certificates: string[] }]> = [
    ['created with its default', { defaultCertificate: c1, certificates: [] }],
    ['certificates added', { defaultCertificate: c1, certificates: [c2, c3] }],
    ['default changed, the rest kept', { defaultCertificate: c4, certificates: [c2, c3] }],
    ['one removed, one added', { defaultCertificate: c4, certificates: [c3, c1] }],
    ['default listed among the rest too', { defaultCertificate: c4, certificates: [c4, c1] }],
    ['down to the default alone', { defaultCertificate: c2, certificates: [] }],
  ];
  let listenerArn: string | undefined;
  for (const [what, desired] of steps) {
    const arn = await lbc.syncHttpsListener(lb.arn, desired);
    listenerArn ??= arn;
    t.equal(arn, listenerArn, `${what}: the same listener`);
    t.same(await onListener(), [...new Set([desired.defaultCertificate, ...desired.certificates])].sort(), what);
    t.equal((await lbc.describeListenerCertificates(arn!)).defaultCertificate, desired.defaultCertificate, `${what}: default`);
  }
  const listeners = await ports.elbv2.describeListeners(lb.arn);
  t.same(listeners.map((l) => [l.port, l.protocol]), [[443, 'HTTPS']]);

  await lbc.syncHttpsListener(lb.arn, { certificates: [] });
  t.equal(await onListener(), undefined, 'no certificate configured any more: listener removed');
});

t.test('a certificate that is not ISSUED is refused and the listener stays as it was', async (t) => {
  const [issued] = (await issuedCertificates(1)) as [string];
  // moto issues every requested certificate after MOTO_ACM_VALIDATION_WAIT, so one cannot be held
  // in PENDING_VALIDATION for a test; a deleted certificate takes the same refusal path.
  const refused = await ports.acm.requestCertificate({ domainName: `p${unique()}.standin-test.example`, idempotencyToken: unique(), tags: {} });
  await ports.acm.deleteCertificate(refused);
  const gateway = { namespace: 'standin-test', name: `gw-${unique()}` };
  const lb = await lbc.ensureLoadBalancer({ gateway, name: loadBalancerNameFor(gateway.namespace, gateway.name), scheme: 'internal', ipAddressType: 'ipv4' }, undefined);
  t.teardown(() => lbc.deleteLoadBalancer(lb.arn));
  const listener = await lbc.syncHttpsListener(lb.arn, { defaultCertificate: issued, certificates: [] });
  // moto would attach a certificate that is not ISSUED (even a deleted one); real ELBv2 refuses it, so must we.
  await t.rejects(lbc.syncHttpsListener(lb.arn, { defaultCertificate: issued, certificates: [refused] }), new CertificateNotReadyError(refused, 'NOT_FOUND'));
  t.same(await ports.elbv2.describeListenerCertificates(listener!), [issued]);
});

t.test('deleting an ALB is idempotent', async (t) => {
  const gateway = { namespace: 'standin-test', name: `gw-${unique()}` };
  const lb = await lbc.ensureLoadBalancer({ gateway, name: loadBalancerNameFor(gateway.namespace, gateway.name), scheme: 'internal', ipAddressType: 'ipv4' }, undefined);
  await lbc.deleteLoadBalancer(lb.arn);
  await lbc.deleteLoadBalancer(lb.arn);
  t.notOk((await lbc.listOwnedLoadBalancers()).some((l) => l.arn === lb.arn));
});
