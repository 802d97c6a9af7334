// Reconcile end to end, the pool (issue 4 acceptance 2 and 4): with 25 hostnames per Gateway
// (24 certificates besides the default), 30 requests land on two Gateways; nothing moves when
// requests leave and others arrive; after a restart with every request's status wiped the same
// Gateways and certificates come back without a new certificate or a record change.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, type GatewayHostnameRequest, type PoolPlacement } from '../../policy/api.js';
import { paths } from '../../server/kube/rest.js';
import { awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';
import { uniqueName } from '../helpers/index.js';
import { createNamespaces, getRequest, poolLbConfigs, requestManifest, startHarness, waitGone, waitReady, type Harness } from './harness.js';

let h: Harness;
const namespaces = [uniqueName('pool-a'), uniqueName('pool-b'), uniqueName('pool-c')];
const suffix = uniqueName('p').slice(2);
const hostnameOf = (i: number) => `h${i}-${suffix}.opendi.com`;
const nsOf = (i: number) => namespaces[i % namespaces.length]!;
const nameOf = (i: number) => `r${i}`;

t.before(async () => {
  h = await startHarness({ pool: { certificatesPerGateway: 24 }, reconcile: { concurrency: 6 } });
  await createNamespaces(h, namespaces);
});

t.teardown(async () => {
  await h?.stop();
});

async function create(indexes: number[]): Promise<void> {
  for (const i of indexes) await h.admin.create(paths.requests(nsOf(i)), requestManifest(nsOf(i), nameOf(i), hostnameOf(i), h.zoneId));
}

async function readyAll(indexes: number[]): Promise<Map<number, GatewayHostnameRequest>> {
  const out = new Map<number, GatewayHostnameRequest>();
  for (const i of indexes) out.set(i, await waitReady(h, nsOf(i), nameOf(i), 240_000));
  return out;
}

/** Gateway name -> request UIDs placed there, from the LBConfigs' annotations. */
async function placements(): Promise<Map<string, PoolPlacement[]>> {
  const out = new Map<string, PoolPlacement[]>();
  for (const lbc of await poolLbConfigs(h)) out.set(lbc.metadata.name ?? '', JSON.parse(lbc.metadata.annotations?.[ANNOTATION_PLACEMENTS] ?? '[]') as PoolPlacement[]);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
let assigned = new Map<number, { gateway: string; certificateArn: string }>();

t.test('2. thirty requests with 25 per Gateway land on two Gateways', async (t) => {
  await create(range(0, 30));
  const ready = await readyAll(range(0, 30));
  assigned = new Map([...ready].map(([i, r]) => [i, { gateway: r.status!.assignedGateway!.name, certificateArn: r.status!.certificateArn! }]));
  const counts = new Map<string, number>();
  for (const { gateway } of assigned.values()) counts.set(gateway, (counts.get(gateway) ?? 0) + 1);
  t.same(Object.fromEntries(counts), { 'gw-01': 25, 'gw-02': 5 });
  const pool = await placements();
  t.equal(pool.get('gw-01')?.length, 25);
  t.equal(pool.get('gw-02')?.length, 5);
  const lbc = (await poolLbConfigs(h)).find((l) => l.metadata.name === 'gw-01');
  const listener = lbc?.spec.listenerConfigurations?.[0];
  t.equal((listener?.certificates?.length ?? 0) + (listener?.defaultCertificate ? 1 : 0), 25, 'gw-01 lists 25 certificates (default + 24)');
});

t.test('2. no hostname moves when some leave and more arrive', async (t) => {
  const leaving = range(0, 30).filter((i) => assigned.get(i)?.gateway === 'gw-01').slice(0, 3);
  for (const i of leaving) await h.admin.delete(paths.requests(nsOf(i), nameOf(i)));
  for (const i of leaving) await waitGone(h, nsOf(i), nameOf(i));
  await create(range(30, 34));
  const arrived = await readyAll(range(30, 34));
  const newGateways = [...arrived.values()].map((r) => r.status!.assignedGateway!.name).sort();
  t.same(newGateways, ['gw-01', 'gw-01', 'gw-01', 'gw-02'], 'newcomers fill the holes in gw-01 first');
  for (const i of range(0, 30).filter((i) => !leaving.includes(i))) {
    const r = await getRequest(h, nsOf(i), nameOf(i));
    t.equal(r?.status?.assignedGateway?.name, assigned.get(i)!.gateway, `request ${i} stays on ${assigned.get(i)!.gateway}`);
  }
  for (const i of leaving) assigned.delete(i);
  for (const [i, r] of arrived) assigned.set(i, { gateway: r.status!.assignedGateway!.name, certificateArn: r.status!.certificateArn! });
  const pool = await placements();
  t.equal(pool.get('gw-01')?.length, 25);
  t.equal(pool.get('gw-02')?.length, 6);
});

t.test('4. restart with every status wiped: same Gateways and certificates, no new certificate, no record change', async (t) => {
  const before = await placements();
  let counts = await awsCallCounts();
  await h.restart(async () => {
    for (const i of assigned.keys()) {
      await h.admin.patch(paths.requestStatus(nsOf(i), nameOf(i)), 'merge', { status: null });
      const r = await getRequest(h, nsOf(i), nameOf(i));
      t.notOk(r?.status?.certificateArn, `status of ${i} wiped`);
    }
    counts = await awsCallCounts();
  });
  const ready = await readyAll([...assigned.keys()]);
  for (const [i, r] of ready) {
    t.equal(r.status?.assignedGateway?.name, assigned.get(i)!.gateway, `request ${i}: same Gateway`);
    t.equal(r.status?.certificateArn, assigned.get(i)!.certificateArn, `request ${i}: same certificate`);
  }
  const diff = diffAwsCallCounts(counts, await awsCallCounts());
  t.notOk(diff.byOperation['acm.RequestCertificate'], 'no RequestCertificate');
  t.notOk(diff.byOperation['route53.ChangeResourceRecordSets'], 'no record change');
  t.equal(diff.mutating, 0, `no mutating call at all (saw ${JSON.stringify(Object.keys(diff.byOperation))})`);
  t.same(await placements(), before, 'placements unchanged');
});
