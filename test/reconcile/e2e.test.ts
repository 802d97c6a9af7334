// Reconcile end to end (issue 4 acceptance): the orchestrator in-process with the real API
// server, moto and the load-balancer stand-in. Where moto is looser than AWS the test says so.
import t from 'tap';
import { ANNOTATION_PLACEMENTS, FINALIZER, type PoolPlacement } from '../../policy/api.js';
import { claimNameFor, grantNameFor, ownerRecordName } from '../../policy/hostname.js';
import { kubeRequestCounts, paths } from '../../server/kube/rest.js';
import { registry } from '../../server/metrics.js';
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
  waitRequest,
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
  t.equal(h.orchestrator.zoneNames.get(h.zoneId), 'opendi.com', 'zone name learned for the admission side');

  const events = await waitFor(
    async () => {
      const list = await h.admin.list<{ reason: string; reportingController: string; regarding: { name: string }; series?: { count: number } }>(paths.events(ns));
      const mine = list.items.filter((e) => e.reportingController === 'gateway-orchestrator.io/reconciler' && e.regarding.name === 'web');
      return mine.some((e) => e.reason === 'Ready') ? mine.map((e) => `${e.reason} x${e.series?.count ?? 1}`).sort() : undefined;
    },
    { description: 'reconciler Events for web', timeoutMs: 20_000 },
  );
  // Each transition once: a pass planned on a cache that had not seen the previous pass's status
  // write yet would report the step again (an Event series of 2).
  t.same(events, ['CertificateIssued x1', 'CertificateRequested x1', 'Ready x1'], 'one Event per transition');

  const metrics = await registry.metrics();
  t.match(metrics, /^gateway_orchestrator_leader 1$/m, 'the leader says so');
  t.match(metrics, new RegExp(`^gateway_orchestrator_pool_gateway_hostnames\\{gateway="${r.status?.assignedGateway?.name}"\\} [1-9]`, 'm'), 'pool fill is exported');
  t.match(metrics, /^gateway_orchestrator_requests\{condition="Ready",status="True"\} [1-9]/m, 'requests by condition');
  t.match(metrics, /^gateway_orchestrator_reconcile_duration_seconds_count\{result="done"\} [1-9]/m, 'reconcile passes are timed');
});

t.test('an orphan claim (its request never came to exist) is released after the grace period', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'orphan');
  await h.admin.create(paths.claims(), {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'DomainClaim',
    metadata: { name: claimNameFor(hostname) },
    spec: { hostname, requestRef: { namespace: ns, name: 'never-created' } },
  });
  await waitFor(async () => (await getClaim(h, hostname)) === undefined, { description: 'the orphan claim to be released', timeoutMs: 30_000 });
  t.pass('released');
});

t.test('5. a steady-state resync of Ready requests makes zero mutating AWS calls and writes nothing to the cluster', async (t) => {
  await h.running.reconciler.resync();
  await h.running.reconciler.idle();
  const before = await awsCallCounts();
  const kubeBefore = await kubeRequestCounts();
  const resyncsBefore = h.running.reconciler.resyncs;
  await h.running.reconciler.resync();
  await h.running.reconciler.idle();
  // Let delayed polls that might be due run too.
  await new Promise((r) => setTimeout(r, 1_500));
  await h.running.reconciler.idle();
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.equal(h.running.reconciler.resyncs, resyncsBefore + 1, 'one resync ran');
  t.equal(diff.mutating, 0, `no mutating calls (saw ${JSON.stringify(diff.byOperation)})`);
  t.ok(diff.read > 0, 'the resync read AWS');
  for (const op of ['acm.DescribeCertificate', 'acm.ListTagsForCertificate']) t.notOk(diff.byOperation[op], `no per-request ${op}`);
  t.equal(diff.byOperation['acm.ListCertificates']?.success, 1, 'one ListCertificates (one page)');
  t.equal(diff.byOperation['elbv2.DescribeLoadBalancers']?.success, 1, 'one DescribeLoadBalancers');
  // The API server returns objects with sorted keys: a status compared as text was written again
  // on every pass. Leases (leader election) and events are not state.
  const kubeAfter = await kubeRequestCounts();
  const writes = Object.entries(kubeAfter)
    .filter(([key]) => /^(POST|PUT|PATCH|DELETE) /.test(key) && !/ (leases|events)$/.test(key))
    .map(([key, n]) => [key, n - (kubeBefore[key] ?? 0)] as const)
    .filter(([, n]) => n > 0);
  t.same(writes, [], 'no status, claim, grant or pool object written');
});

const foreignNs = uniqueName('foreign');
const foreignHost = uniqueHostname('opendi.com', 'taken');

t.test('6. a record at the hostname owned by someone else is reported and left alone', async (t) => {
  await createNamespaces(h, [foreignNs]);
  const foreign = { name: foreignHost, type: 'A', ttl: 60, values: ['192.0.2.10'] };
  await h.ports.route53.changeRecords(h.zoneId, [{ action: 'CREATE', record: foreign }]);
  await h.admin.create(paths.requests(foreignNs), requestManifest(foreignNs, 'taken', foreignHost, h.zoneId));
  const r = await waitRequest(h, foreignNs, 'taken', 'DnsAliasReady=False RecordNotOwned', (r) => conditionOf(r, 'DnsAliasReady')?.reason === 'RecordNotOwned');
  t.equal(conditionOf(r, 'DnsAliasReady')?.status, 'False');
  t.match(conditionOf(r, 'DnsAliasReady')?.message, /192\.0\.2\.10/, 'the message names what is there');
  t.equal(conditionOf(r, 'Ready')?.status, 'False');
  t.same(await record(foreignHost, 'A'), foreign, 'the foreign record is untouched');
  t.notOk(await record(ownerRecordName(foreignHost), 'TXT'), 'no ownership TXT was written');
  // A resync does not change that.
  await h.running.reconciler.resync();
  await h.running.reconciler.idle();
  t.same(await record(foreignHost, 'A'), foreign, 'still untouched after a resync');
});

t.test('3. delete: every AWS resource of the request is gone, claim and grants released, allowedRoutes trimmed', async (t) => {
  const r = (await getRequest(h, ns, 'web'))!;
  const hostname = r.spec.hostname;
  const arn = r.status!.certificateArn!;
  const validation = r.status!.validationRecords![0]!;
  await h.admin.delete(paths.requests(ns, 'web'));
  await waitGone(h, ns, 'web');
  // moto differs from ACM both ways: it lets DeleteCertificate through while a listener still
  // uses the certificate (ACM answers ResourceInUseException), and it never clears InUseBy for a
  // listener's first default certificate. The reconciler waits until the listener it can see has
  // dropped the certificate, then lets DeleteCertificate decide.
  t.notOk(await h.ports.acm.describeCertificate(arn), 'certificate deleted');
  t.notOk(await record(validation.name, 'CNAME'), 'validation CNAME deleted');
  t.notOk(await record(hostname, 'A'), 'alias deleted');
  t.notOk(await record(ownerRecordName(hostname), 'TXT'), 'ownership TXT deleted');
  t.notOk(await getClaim(h, hostname), 'claim released');
  t.same(await grantsFor(h, ns, 'web'), [], 'grants deleted');
  const lbcs = await poolLbConfigs(h);
  t.notOk(JSON.stringify(lbcs.map((l) => l.spec)).includes(arn), 'no LBConfig lists the certificate');
  const gw = await poolGateway(h, 'gw-01');
  const admitted = gw?.spec.listeners[0]?.allowedRoutes?.namespaces?.selector?.matchExpressions?.[0]?.values ?? [];
  t.notOk(admitted.includes(ns) || admitted.includes(other), `namespaces trimmed from allowedRoutes (now ${JSON.stringify(gw?.spec.listeners[0]?.allowedRoutes)})`);

  // The request that found a foreign record: its certificate goes, the foreign record stays.
  const taken = (await getRequest(h, foreignNs, 'taken'))!;
  await h.admin.delete(paths.requests(foreignNs, 'taken'));
  await waitGone(h, foreignNs, 'taken');
  t.notOk(await h.ports.acm.describeCertificate(taken.status!.certificateArn!), 'its certificate deleted');
  t.equal((await record(foreignHost, 'A'))?.values?.[0], '192.0.2.10', 'the foreign record is still there');
  const gw2 = await poolGateway(h, 'gw-01');
  t.same(gw2?.spec.listeners[0]?.allowedRoutes?.namespaces?.from, 'Same', 'no namespace left: allowedRoutes from Same');
  await h.ports.route53.changeRecords(h.zoneId, [{ action: 'DELETE', record: { name: foreignHost, type: 'A', ttl: 60, values: ['192.0.2.10'] } }]);
});

t.test('a request that lost its claim is Denied, makes no AWS call, and on delete removes only what is its own', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'lost');
  await h.admin.create(paths.requests(ns), requestManifest(ns, 'loser', hostname, h.zoneId));
  const loser = await waitReady(h, ns, 'loser');
  const loserCert = loser.status!.certificateArn!;
  // While nobody reconciles, the claim changes hands (a platform admin's doing) and the new
  // holder's request appears.
  await h.restart(async () => {
    await h.admin.delete(paths.claims(claimNameFor(hostname)));
    await h.admin.create(paths.claims(), {
      apiVersion: 'gateway-orchestrator.io/v1alpha1',
      kind: 'DomainClaim',
      metadata: { name: claimNameFor(hostname) },
      spec: { hostname, requestRef: { namespace: ns, name: 'winner' } },
    });
    await h.admin.create(paths.requests(ns), { ...requestManifest(ns, 'winner', hostname, h.zoneId), metadata: { name: 'winner', namespace: ns, finalizers: [FINALIZER] } });
  });
  const denied = await waitRequest(h, ns, 'loser', 'Denied=True', (r) => conditionOf(r, 'Denied')?.status === 'True');
  t.equal(conditionOf(denied, 'Denied')?.reason, 'HostnameClaimed');
  t.match(conditionOf(denied, 'Denied')?.message, `${ns}/winner`);
  const winner = await waitReady(h, ns, 'winner');
  t.not(winner.status?.certificateArn, loserCert, 'the winner has its own certificate');
  t.same((await record(ownerRecordName(hostname), 'TXT'))?.values, [`"heritage=gateway-orchestrator,cluster=local,request=${ns}/winner"`], 'the winner took over the ownership record');

  // Denied and steady: a resync makes no mutating call for it.
  await h.running.reconciler.resync();
  await h.running.reconciler.idle();
  const before = await awsCallCounts();
  await h.running.reconciler.resync();
  await h.running.reconciler.idle();
  t.equal(diffAwsCallCounts(before, await awsCallCounts()).mutating, 0, 'no mutating call');

  await h.admin.delete(paths.requests(ns, 'loser'));
  await waitGone(h, ns, 'loser');
  t.notOk(await h.ports.acm.describeCertificate(loserCert), "the loser's certificate is deleted");
  t.equal((await getClaim(h, hostname))?.spec.requestRef.name, 'winner', "the winner's claim stays");
  t.ok(await record(hostname, 'A'), "the winner's alias stays");
  t.equal(conditionOf(await getRequest(h, ns, 'winner'), 'Ready')?.status, 'True', 'the winner stays Ready');
});

t.test('a restart mid-provisioning with the status lost never yields a second certificate', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'crash');
  await h.admin.create(paths.requests(ns), requestManifest(ns, 'crash', hostname, h.zoneId));
  const requested = await waitRequest(h, ns, 'crash', 'CertificateRequested=True', (r) => conditionOf(r, 'CertificateRequested')?.status === 'True', 60_000);
  const arn = requested.status!.certificateArn!;
  let before = await awsCallCounts();
  await h.restart(async () => {
    await h.admin.patch(paths.requestStatus(ns, 'crash'), 'merge', { status: null });
    before = await awsCallCounts();
  });
  const r = await waitReady(h, ns, 'crash');
  t.equal(r.status?.certificateArn, arn, 'the same certificate, found again by its tags or its placement');
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.notOk(diff.byOperation['acm.RequestCertificate'], 'no second RequestCertificate');
  const mine = (await h.ports.acm.listCertificates()).filter((c) => c.domainName === hostname);
  t.equal(mine.length, 1, 'exactly one certificate for the hostname in ACM');
});
