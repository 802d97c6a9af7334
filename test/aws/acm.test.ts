// AcmPort against moto: request (idempotent), describe, list, tags, validation through DNS,
// in-use, delete. Where moto is looser than ACM the test says what real ACM does.
import t from 'tap';
import { createAwsPorts, awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';
import { StandInAws } from '../lbc-standin/aws.js';
import { motoAwsConfig, createTestZone, unique } from './moto.js';

const aws = await motoAwsConfig();
const ports = createAwsPorts(aws);

t.test('request, describe, list and tag a DNS-validated certificate', async (t) => {
  const domainName = `app-${unique()}.adapter-test.example`;
  const uid = `0c4b0d3e-${unique()}-2222-3333-444455556666`;
  const tags = { 'gateway-orchestrator.io/owner': 'test', 'gateway-orchestrator.io/request-uid': uid };
  const before = await awsCallCounts();
  const arn = await ports.acm.requestCertificate({ domainName, idempotencyToken: uid, tags });
  t.match(arn, /^arn:aws:acm:/);
  t.equal(await ports.acm.requestCertificate({ domainName, idempotencyToken: uid, tags }), arn, 'the same token returns the same certificate');
  const counted = diffAwsCallCounts(before, await awsCallCounts());
  t.match(counted.byOperation['acm.RequestCertificate'], { mutating: true, success: 2 });

  const detail = await ports.acm.describeCertificate(arn);
  t.ok(detail);
  t.equal(detail!.arn, arn);
  t.equal(detail!.domainName, domainName);
  t.ok(['PENDING_VALIDATION', 'ISSUED'].includes(detail!.status));
  t.equal(detail!.inUse, false);
  t.same(detail!.inUseBy, []);
  t.equal(detail!.validationRecords.length, 1);
  const record = detail!.validationRecords[0]!;
  t.equal(record.domainName, domainName);
  t.equal(record.type, 'CNAME');
  t.match(record.name, new RegExp(`^_[0-9a-z]+\\.${domainName.replace(/\./g, '\\.')}$`), 'fully qualified, no trailing dot');
  t.notMatch(record.value, /\.$/);

  const listed = (await ports.acm.listCertificates()).find((c) => c.arn === arn);
  t.match(listed, { arn, domainName, inUse: false });
  t.ok(listed && ['PENDING_VALIDATION', 'ISSUED'].includes(listed.status), 'ListCertificates carries Status');

  t.same(await ports.acm.listTags(arn), tags);
});

t.test('a certificate is issued once its validation CNAME is in the zone', async (t) => {
  // Real ACM issues only after it resolves the validation CNAME; moto issues on a timer
  // (MOTO_ACM_VALIDATION_WAIT) whether or not the record exists. So the test does what AWS
  // needs, writes the CNAME through the Route53 port, checks it is there, then waits.
  const zone = await createTestZone(aws);
  const domainName = `www.${zone.name}`;
  const arn = await ports.acm.requestCertificate({ domainName, idempotencyToken: unique(), tags: {} });
  let detail = await ports.acm.describeCertificate(arn);
  const record = detail!.validationRecords[0]!;
  await ports.route53.changeRecords(zone.id, [{ action: 'UPSERT', record: { name: record.name, type: 'CNAME', ttl: 300, values: [record.value] } }]);
  const inZone = (await ports.route53.listRecords(zone.id)).find((r) => r.name === record.name && r.type === 'CNAME');
  t.same(inZone?.values, [record.value], 'the validation record as ACM asked for it');

  const deadline = Date.now() + 90_000;
  while (detail?.status === 'PENDING_VALIDATION' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    detail = await ports.acm.describeCertificate(arn);
  }
  t.equal(detail?.status, 'ISSUED');
  t.equal((await ports.acm.listCertificates()).find((c) => c.arn === arn)?.status, 'ISSUED');
});

t.test('a certificate on a listener is in use', async (t) => {
  const zone = await createTestZone(aws);
  const arn = await ports.acm.requestCertificate({ domainName: `in-use.${zone.name}`, idempotencyToken: unique(), tags: {} });
  const lbc = new StandInAws({ region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) });
  t.teardown(() => lbc.destroy());
  // As the load balancer controller would: an ALB whose listener carries the certificate.
  const deadline = Date.now() + 90_000;
  while ((await ports.acm.describeCertificate(arn))?.status !== 'ISSUED' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const lb = await lbc.ensureLoadBalancer({ gateway: { namespace: 'acm-test', name: unique() }, name: `acm-test-${unique()}`, scheme: 'internal', ipAddressType: 'ipv4' }, undefined);
  t.teardown(() => lbc.deleteLoadBalancer(lb.arn));
  const listener = await lbc.syncHttpsListener(lb.arn, { defaultCertificate: arn, certificates: [] });

  const detail = await ports.acm.describeCertificate(arn);
  t.equal(detail?.inUse, true);
  t.same(detail?.inUseBy.length, 1);
  t.match(detail?.inUseBy[0], /listener|loadbalancer/);
  t.ok(listener);
  t.equal((await ports.acm.listCertificates()).find((c) => c.arn === arn)?.inUse, true, 'ListCertificates InUse');
  // Real ACM now refuses DeleteCertificate with ResourceInUseException, which the adapter maps
  // to 'in-use' (tested in adapters-unit.test.ts). moto would delete it, so this test does not
  // call delete here; the reconciler must gate deletion on inUseBy being empty, never on
  // DeleteCertificate failing. (moto also keeps InUse true after the listener lets go.)
});

t.test('delete: deleted, then not found; describing a missing certificate gives undefined', async (t) => {
  const arn = await ports.acm.requestCertificate({ domainName: `gone-${unique()}.adapter-test.example`, idempotencyToken: unique(), tags: {} });
  t.equal(await ports.acm.deleteCertificate(arn), 'deleted');
  t.equal(await ports.acm.describeCertificate(arn), undefined);
  t.equal(await ports.acm.deleteCertificate(arn), 'not-found');
  t.notOk((await ports.acm.listCertificates()).some((c) => c.arn === arn));
});
