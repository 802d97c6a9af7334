// Reconcile end to end (issue 4 acceptance): the orchestrator in-process with the real API
// server, moto and the load-balancer stand-in. Where moto is looser than AWS the test says so.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, type PoolPlacement } from '../../policy/api.js';
import { grantNameFor, ownerRecordName } from '../../policy/hostname.js';
import { paths } from '../../server/kube/rest.js';
import { awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';
import { uniqueHostname, uniqueName, waitFor } from '../helpers/index.js';
import {
  conditionOf,
  createNamespaces,
  getClaim,
  getRequest,
  grantsFor,
  poolGateway,
  poolLbConfigs,
  requestManifest,
  startHarness,
  waitGone,
  waitReady,
  type Harness,
} from './harness.js';

let h: Harness;
const ns = uniqueName('team');
const other = uniqueName('extra');

t.before(async () => {
  h = await startHarness();
  await createNamespaces(h, [ns, other]);
});

t.teardown(async () => {
  await h?.stop();
});

const record = async (name: string, type: string) => (await h.ports.route53.listRecords(h.zoneId)).find((r) => r.name === name && r.type === type);

t.test('1. a request goes Ready; moto has the certificate, validation CNAME, alias and TXT; the LBConfig lists the certificate', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'ready');
  await h.admin.create(paths.requests(ns), requestManifest(ns, 'web', hostname, h.zoneId, { routePolicy: { additionalNamespaces: [other] } }));
  const r = await waitReady(h, ns, 'web');
  const status = r.status!;
  t.equal(status.assignedGateway?.namespace, h.config.pool.namespace);
  t.equal(status.assignedGateway?.name, 'gw-01');
  t.ok(status.assignedLoadBalancer?.dnsName, 'ALB DNS name in status');
  t.ok(status.assignedLoadBalancer?.canonicalHostedZoneId, 'canonical hosted zone id in status');
  t.match(status.certificateArn, /^arn:aws:acm:/);
  for (const type of ['Claimed', 'CertificateRequested', 'DnsValidated', 'CertificateIssued', 'ListenerAttached', 'DnsAliasReady', 'Ready']) {
    const c = conditionOf(r, type);
    t.equal(c?.status, 'True', `${type} is True (${c?.reason}: ${c?.message})`);
    t.equal(c?.observedGeneration, r.metadata.generation, `${type} observedGeneration`);
  }
  t.notOk(conditionOf(r, 'Denied'), 'no Denied condition');

  const cert = await h.ports.acm.describeCertificate(status.certificateArn!);
  t.equal(cert?.status, 'ISSUED');
  const tags = await h.ports.acm.listTags(status.certificateArn!);
  t.equal(tags['gateway-orchestrator.io/request-uid'], r.metadata.uid);
  const validation = cert!.validationRecords[0]!;
  t.same((await record(validation.name, 'CNAME'))?.values, [validation.value], 'validation CNAME in the zone');
  const alias = await record(hostname, 'A');
  t.equal(alias?.aliasTarget?.dnsName, status.assignedLoadBalancer?.dnsName, 'A alias to the ALB');
  t.notOk(await record(hostname, 'AAAA'), 'no AAAA: the pool is ipv4');
  t.same((await record(ownerRecordName(hostname), 'TXT'))?.values, [`"heritage=gateway-orchestrator,cluster=local,request=${ns}/web"`], 'ownership TXT');

  const [lbc] = await poolLbConfigs(h);
  t.equal(lbc?.spec.listenerConfigurations?.[0]?.defaultCertificate, status.certificateArn, 'LBConfig lists the certificate');
  const placements = JSON.parse(lbc?.metadata.annotations?.[ANNOTATION_PLACEMENTS] ?? '[]') as PoolPlacement[];
  t.same(placements.map((p) => p.requestUID), [r.metadata.uid]);

  const gw = await poolGateway(h, 'gw-01');
  t.same(gw?.spec.listeners[0]?.allowedRoutes?.namespaces?.selector?.matchExpressions?.[0]?.values, [ns, other].sort(), 'allowedRoutes admits both namespaces');
  t.same((await grantsFor(h, ns, 'web')).map((g) => g.metadata.name).sort(), [grantNameFor(hostname, ns), grantNameFor(hostname, other)].sort());
  t.equal((await getClaim(h, hostname))?.status?.requestUID, r.metadata.uid, 'claim bound to the request UID');
});
