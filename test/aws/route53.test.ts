// Route53Port against moto: zones, one-batch create/upsert/delete, alias records to an ALB,
// wildcard names, atomic rejection, and paging through more than one page of records.
import t from 'tap';
import { createAwsPorts, awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';
import type { RecordChange, RecordSet } from '../../reconcile/ports.js';
import { StandInAws } from '../lbc-standin/aws.js';
import { motoAwsConfig, createTestZone, unique } from './moto.js';

const aws = await motoAwsConfig();
const ports = createAwsPorts(aws);
const byKey = (records: RecordSet[]) => new Map(records.map((r) => [`${r.name} ${r.type}`, r]));

t.test('getHostedZone: bare id and normalised name; undefined for a zone that does not exist', async (t) => {
  const zone = await createTestZone(aws);
  t.same(await ports.route53.getHostedZone(zone.id), { id: zone.id, name: zone.name, privateZone: false });
  t.same(await ports.route53.getHostedZone(`/hostedzone/${zone.id}`), { id: zone.id, name: zone.name, privateZone: false });
  t.equal(await ports.route53.getHostedZone('ZDOESNOTEXIST123'), undefined);
});

t.test('one batch creates TXT, CNAME, wildcard and A/AAAA alias records to an ALB; upsert and delete', async (t) => {
  const zone = await createTestZone(aws);
  const lbc = new StandInAws({ region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) });
  t.teardown(() => lbc.destroy());
  const made = await lbc.ensureLoadBalancer({ gateway: { namespace: 'r53-test', name: unique() }, name: `r53-${unique()}`, scheme: 'internet-facing', ipAddressType: 'dualstack' }, undefined);
  t.teardown(() => lbc.deleteLoadBalancer(made.arn));
  const alb = (await ports.elbv2.describeLoadBalancers()).find((lb) => lb.arn === made.arn);
  t.ok(alb, 'the ALB through the ELBv2 port');
  const aliasTarget = { hostedZoneId: alb!.canonicalHostedZoneId, dnsName: alb!.dnsName, evaluateTargetHealth: true };

  const host = `app.${zone.name}`;
  const owner = '"heritage=gateway-orchestrator,cluster=local,request=team-a/app"';
  const create: RecordChange[] = [
    { action: 'CREATE', record: { name: host, type: 'A', aliasTarget } },
    { action: 'CREATE', record: { name: host, type: 'AAAA', aliasTarget } },
    { action: 'CREATE', record: { name: host, type: 'TXT', ttl: 300, values: [owner] } },
    { action: 'CREATE', record: { name: `_x1.${host}`, type: 'CNAME', ttl: 300, values: ['_y1.acm-validations.aws'] } },
    { action: 'CREATE', record: { name: `*.apps.${zone.name}`, type: 'CNAME', ttl: 60, values: [alb!.dnsName] } },
  ];
  const before = await awsCallCounts();
  await ports.route53.changeRecords(zone.id, create);
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.equal(diff.byOperation['route53.ChangeResourceRecordSets']?.success, 1, 'five records, one ChangeResourceRecordSets');
  t.equal(diff.mutating, 1);

  let records = byKey(await ports.route53.listRecords(zone.id));
  t.same(records.get(`${host} A`), { name: host, type: 'A', aliasTarget }, 'alias: no TTL, target without trailing dot');
  t.same(records.get(`${host} AAAA`), { name: host, type: 'AAAA', aliasTarget });
  t.same(records.get(`${host} TXT`), { name: host, type: 'TXT', ttl: 300, values: [owner] }, 'TXT value with its quotes');
  t.same(records.get(`_x1.${host} CNAME`)?.values, ['_y1.acm-validations.aws']);
  // AWS returns the wildcard as "\052.apps..."; moto as "*.apps..."; the port gives "*" for both.
  t.same(records.get(`*.apps.${zone.name} CNAME`)?.values, [alb!.dnsName]);

  await ports.route53.changeRecords(zone.id, [{ action: 'UPSERT', record: { name: host, type: 'TXT', ttl: 300, values: [owner, '"second"'] } }]);
  records = byKey(await ports.route53.listRecords(zone.id));
  t.same(records.get(`${host} TXT`)?.values, [owner, '"second"']);

  // DELETE must name the record exactly as it is (values and TTL, or the alias target).
  await ports.route53.changeRecords(zone.id, [
    { action: 'DELETE', record: { name: host, type: 'A', aliasTarget } },
    { action: 'DELETE', record: { name: host, type: 'AAAA', aliasTarget } },
    { action: 'DELETE', record: { name: host, type: 'TXT', ttl: 300, values: [owner, '"second"'] } },
  ]);
  records = byKey(await ports.route53.listRecords(zone.id));
  t.notOk(records.has(`${host} A`));
  t.notOk(records.has(`${host} AAAA`));
  t.notOk(records.has(`${host} TXT`));
  t.ok(records.has(`_x1.${host} CNAME`), 'records outside the batch untouched');
});

t.test('a rejected batch changes nothing', async (t) => {
  const zone = await createTestZone(aws);
  const host = `b.${zone.name}`;
  // The DELETE names a record that does not exist: AWS (InvalidChangeBatch) and moto reject the
  // whole batch, so the CREATE beside it must not have happened either.
  await t.rejects(
    ports.route53.changeRecords(zone.id, [
      { action: 'CREATE', record: { name: host, type: 'TXT', ttl: 60, values: ['"new"'] } },
      { action: 'DELETE', record: { name: `missing.${zone.name}`, type: 'TXT', ttl: 60, values: ['"x"'] } },
    ]),
  );
  t.notOk((await ports.route53.listRecords(zone.id)).some((r) => r.name === host));
  // Real AWS also rejects a CREATE of a record that already exists (InvalidChangeBatch, not
  // retried: see budget-sdk.test.ts); moto accepts it and keeps a second record set. Nothing
  // here relies on either: the planner CREATEs only what listRecords showed absent, and UPSERTs
  // or DELETEs only records whose ownership TXT it has read.
});

t.test('listRecords pages through more than 300 records', async (t) => {
  const zone = await createTestZone(aws);
  const changes: RecordChange[] = Array.from({ length: 350 }, (_, i) => ({
    action: 'CREATE',
    record: { name: `r${String(i).padStart(3, '0')}.${zone.name}`, type: 'TXT', ttl: 60, values: [`"v${i}"`] },
  }));
  await ports.route53.changeRecords(zone.id, changes);
  const before = await awsCallCounts();
  const records = await ports.route53.listRecords(zone.id);
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  const ours = records.filter((r) => r.type === 'TXT' && r.name.startsWith('r'));
  t.equal(ours.length, 350, 'every record, across pages');
  t.equal(new Set(ours.map((r) => r.name)).size, 350, 'no record twice at a page boundary');
  t.ok(records.some((r) => r.type === 'SOA' && r.name === zone.name), 'the apex records too');
  t.ok((diff.byOperation['route53.ListResourceRecordSets']?.success ?? 0) >= 2, 'more than one page read');
  t.equal(diff.mutating, 0, 'reading makes no mutating call');
});
