// The AWS Load Balancer Controller stand-in against the real API server and moto: a Gateway of
// an ALB class gets an ALB shaped by its LoadBalancerConfiguration, a listener with exactly the
// configured certificates, and status; changes, refused certificates, bad references,
// restarts and deletions converge. The stand-in serves only this test's namespace.
import t from 'tap';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import { createLogger } from '../../server/log.js';
import { adminKubeConfig, applyYaml, createNamespace, uniqueName, waitFor } from '../helpers/index.js';
import { motoAwsConfig, unique } from '../aws/moto.js';
import { AwsLoadBalancerControllerStandIn, ALB_CONTROLLER_NAME } from './standin.js';

const aws = await motoAwsConfig();
// Inspecting moto here must not count as the orchestrator's AWS calls.
const ports = createAwsPorts(aws, { countCalls: false });
const kubeConfig = await adminKubeConfig();
const api = kubeConfig.makeApiClient(CustomObjectsApi);
const namespace = await createNamespace(uniqueName('lbc-standin'));
const albClass = uniqueName('alb');
const otherClass = uniqueName('other');

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface GatewayView {
  metadata: { generation: number };
  status?: { addresses?: Array<{ type: string; value: string }>; conditions?: Condition[] };
}

const newStandIn = (options: { fullPassEveryMs?: number } = {}) =>
  new AwsLoadBalancerControllerStandIn({ kubeConfig, aws, namespace, intervalMs: 200, log: createLogger('warn'), ...options });

async function getGateway(name: string): Promise<GatewayView> {
  return (await api.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'gateways', name })) as GatewayView;
}

function condition(gw: GatewayView, type: string): Condition | undefined {
  return gw.status?.conditions?.find((c) => c.type === type);
}

async function issuedCertificates(n: number): Promise<string[]> {
  const arns = await Promise.all(
    Array.from({ length: n }, () => ports.acm.requestCertificate({ domainName: `c${unique()}.standin-test.example`, idempotencyToken: unique(), tags: {} })),
  );
  for (const arn of arns) {
    await waitFor(async () => (await ports.acm.describeCertificate(arn))?.status === 'ISSUED', { description: `certificate ${arn} ISSUED`, timeoutMs: 90_000, intervalMs: 500 });
  }
  return arns;
}

/** Certificates on the HTTPS:443 listener of the ALB with this DNS name, sorted; undefined without one. */
async function listenerCertificates(dnsName: string): Promise<string[] | undefined> {
  const lb = (await ports.elbv2.describeLoadBalancers()).find((l) => l.dnsName === dnsName);
  if (!lb) return undefined;
  const https = (await ports.elbv2.describeListeners(lb.arn)).find((l) => l.port === 443);
  return https ? (await ports.elbv2.describeListenerCertificates(https.arn)).sort() : undefined;
}

function gateway(name: string, className: string, configName: string) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      gatewayClassName: className,
      infrastructure: { parametersRef: { group: 'gateway.k8s.aws', kind: 'LoadBalancerConfiguration', name: configName } },
      listeners: [{ name: 'https', port: 443, protocol: 'HTTPS' }],
    },
  };
}

function configuration(name: string, defaultCertificate: string, certificates: string[]) {
  return {
    apiVersion: 'gateway.k8s.aws/v1beta1',
    kind: 'LoadBalancerConfiguration',
    metadata: { name, namespace },
    spec: { scheme: 'internet-facing', listenerConfigurations: [{ protocolPort: 'HTTPS:443', defaultCertificate, certificates }] },
  };
}

await applyYaml([
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: albClass }, spec: { controllerName: ALB_CONTROLLER_NAME } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: otherClass }, spec: { controllerName: 'example.com/not-the-alb-controller' } },
]);
t.teardown(async () => {
  await api.deleteClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', name: albClass }).catch(() => undefined);
  await api.deleteClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', name: otherClass }).catch(() => undefined);
});

t.test('a Gateway gets its ALB, listener certificates and status, and follows its LoadBalancerConfiguration', async (t) => {
  const [c1, c2, c3] = (await issuedCertificates(3)) as [string, string, string];
  // A certificate ELBv2 refuses. moto issues every requested certificate after a fixed wait
  // (MOTO_ACM_VALIDATION_WAIT), so one cannot be held in PENDING_VALIDATION for the test; a
  // deleted one takes the same path (the stand-in accepts only ISSUED certificates).
  const refused = await ports.acm.requestCertificate({ domainName: `p${unique()}.standin-test.example`, idempotencyToken: unique(), tags: {} });
  await ports.acm.deleteCertificate(refused);
  await applyYaml([configuration('cfg-01', c1, [c2]), gateway('gw-01', albClass, 'cfg-01'), gateway('gw-other', otherClass, 'cfg-01')]);

  const standIn = newStandIn();
  standIn.start();
  t.teardown(() => standIn.stop());

  const programmed = await waitFor(
    async () => {
      const gw = await getGateway('gw-01');
      return condition(gw, 'Programmed')?.status === 'True' && gw.status?.addresses?.[0] ? gw : undefined;
    },
    { description: 'gw-01 Programmed with an address' },
  );
  const dnsName = programmed.status!.addresses![0]!.value;
  t.equal(programmed.status!.addresses![0]!.type, 'Hostname');
  t.match(condition(programmed, 'Accepted'), { status: 'True', reason: 'Accepted', observedGeneration: programmed.metadata.generation });
  t.match(condition(programmed, 'Programmed'), { reason: 'Programmed', observedGeneration: programmed.metadata.generation });

  const lb = (await ports.elbv2.describeLoadBalancers()).find((l) => l.dnsName === dnsName);
  t.match(lb, { scheme: 'internet-facing', ipAddressType: 'ipv4' }, 'the ALB as configured');
  t.ok(lb?.canonicalHostedZoneId, 'with a canonical hosted zone id for alias records');
  t.same(await listenerCertificates(dnsName), [c1, c2].sort(), 'exactly the configured certificates');

  // Another controller's Gateway is left alone.
  t.equal((await getGateway('gw-other')).status?.addresses?.length ?? 0, 0, 'no address on a Gateway of another class');

  await applyYaml(configuration('cfg-01', c2, [c3]));
  await waitFor(async () => JSON.stringify(await listenerCertificates(dnsName)) === JSON.stringify([c2, c3].sort()), {
    description: 'listener certificates to become c2 (default) and c3',
  });

  // A certificate ELBv2 would refuse stalls the whole listener, as with the real controller.
  await applyYaml(configuration('cfg-01', c2, [c3, refused]));
  const stalled = await waitFor(async () => {
    const gw = await getGateway('gw-01');
    return condition(gw, 'Programmed')?.status === 'False' ? gw : undefined;
  }, { description: 'gw-01 Programmed=False for a certificate ELBv2 refuses' });
  t.match(condition(stalled, 'Programmed'), { reason: 'Pending', message: new RegExp(refused.replace(/[/.]/g, '\\$&')) });
  t.same(await listenerCertificates(dnsName), [c2, c3].sort(), 'the listener keeps what it had');
  t.equal(stalled.status?.addresses?.[0]?.value, dnsName, 'the address stays');

  await applyYaml(configuration('cfg-01', c2, [c3]));
  await waitFor(async () => condition(await getGateway('gw-01'), 'Programmed')?.status === 'True', { description: 'gw-01 Programmed again' });

  // A restarted stand-in finds everything in place: no new ALB, no status write.
  await standIn.stop();
  const restarted = newStandIn({ fullPassEveryMs: 3_600_000 });
  const first = await restarted.syncOnce();
  const second = await restarted.syncOnce();
  t.same(first.created, [], 'no ALB created after a restart');
  t.same(first.errors, []);
  t.ok(first.full, 'a new stand-in starts with a full pass');
  t.same(second.statusWritten, [], 'an idle pass writes no status');
  t.notOk(second.full, 'the next pass is not a full one');
  t.ok(second.unchanged.includes(`${namespace}/gw-01`), 'and leaves the unchanged Gateway alone');

  // Drift behind the controller's back (c3 taken off the listener): a pass that only follows
  // changes does not see it, the next full pass puts c3 back.
  await restarted.aws.syncHttpsListener(lb!.arn, { defaultCertificate: c2, certificates: [] });
  t.same(await listenerCertificates(dnsName), [c2], 'c3 removed directly in ELBv2');
  const third = await restarted.syncOnce();
  t.ok(third.unchanged.includes(`${namespace}/gw-01`), 'the Gateway is unchanged in Kubernetes');
  t.same(await listenerCertificates(dnsName), [c2], 'so a pass following changes leaves the drift');
  const fourth = await restarted.syncOnce({ full: true });
  t.notOk(fourth.unchanged.includes(`${namespace}/gw-01`), 'a full pass programs every Gateway');
  t.same(await listenerCertificates(dnsName), [c2, c3].sort(), 'and heals the drift');
  await restarted.stop();
  t.same((await ports.elbv2.describeLoadBalancers()).filter((l) => l.dnsName === dnsName).map((l) => l.arn), [lb!.arn], 'the same ALB');
});

t.test('a Gateway whose LoadBalancerConfiguration does not exist is not accepted and gets no ALB', async (t) => {
  await applyYaml(gateway('gw-bad', albClass, 'missing'));
  const report = await newStandIn().syncOnce();
  t.notOk(report.created.some((c) => c.startsWith(`${namespace}/gw-bad `)));
  const gw = await getGateway('gw-bad');
  t.match(condition(gw, 'Accepted'), { status: 'False', reason: 'InvalidParameters', message: /missing not found/ });
  t.match(condition(gw, 'Programmed'), { status: 'False' });
});

t.test('a Gateway deleted while the stand-in was down loses its ALB at the next pass', async (t) => {
  const [c1] = (await issuedCertificates(1)) as [string];
  await applyYaml([configuration('cfg-02', c1, []), gateway('gw-02', albClass, 'cfg-02')]);
  const standIn = newStandIn();
  const made = await standIn.syncOnce();
  t.ok(made.created.some((c) => c.startsWith(`${namespace}/gw-02 `)), 'ALB created');
  const dnsName = (await getGateway('gw-02')).status?.addresses?.[0]?.value;
  t.ok(dnsName);

  await api.deleteNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'gateways', name: 'gw-02' });
  const report = await standIn.syncOnce();
  await standIn.stop();
  t.ok(report.deleted.some((d) => d.startsWith(`${namespace}/gw-02 `)), 'ALB deleted');
  t.notOk((await ports.elbv2.describeLoadBalancers()).some((l) => l.dnsName === dnsName), 'gone from ELBv2');
});

t.test('cleanup: deleting every Gateway removes every ALB the stand-in made for them', async (t) => {
  for (const name of ['gw-01', 'gw-bad', 'gw-other']) {
    await api.deleteNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'gateways', name }).catch(() => undefined);
  }
  const standIn = newStandIn();
  await standIn.syncOnce();
  t.same((await standIn.aws.listOwnedLoadBalancers()).filter((l) => l.gateway.namespace === namespace), []);
  await standIn.stop();
});
