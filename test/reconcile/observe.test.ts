// The snapshot: what it reads on a resync (per zone and Gateway, not per request), when it asks
// ACM about one certificate (not ISSUED yet, with back-off), recovery by tags, write-through.
import t from 'tap';
import { Observer } from '../../reconcile/observe.js';
import type { AwsPorts, CertificateDetail, CertificateSummary, RecordSet } from '../../reconcile/ports.js';

function fakePorts() {
  const calls: string[] = [];
  const certs = new Map<string, CertificateDetail>();
  const tags = new Map<string, Record<string, string>>();
  const records: RecordSet[] = [{ name: 'a.opendi.com', type: 'A', ttl: 60, values: ['192.0.2.1'] }];
  let listDelay: Promise<void> | undefined;
  const ports: AwsPorts = {
    acm: {
      async listCertificates() {
        calls.push('ListCertificates');
        const snapshot: CertificateSummary[] = [...certs.values()].map(({ arn, domainName, status, inUse }) => ({ arn, domainName, status, inUse }));
        await listDelay;
        return snapshot;
      },
      async describeCertificate(arn) {
        calls.push(`DescribeCertificate ${arn}`);
        return certs.get(arn);
      },
      async requestCertificate() {
        throw new Error('not used');
      },
      async listTags(arn) {
        calls.push(`ListTags ${arn}`);
        return tags.get(arn) ?? {};
      },
      async deleteCertificate() {
        return 'deleted' as const;
      },
    },
    route53: {
      async getHostedZone(id) {
        calls.push(`GetHostedZone ${id}`);
        return { id, name: 'opendi.com', privateZone: false };
      },
      async listRecords(id) {
        calls.push(`ListRecords ${id}`);
        return records.map((r) => ({ ...r }));
      },
      async changeRecords() {},
    },
    elbv2: {
      async describeLoadBalancers() {
        calls.push('DescribeLoadBalancers');
        return [{ arn: 'arn:lb/1', name: 'lb1', dnsName: 'lb1.elb', canonicalHostedZoneId: 'ZLB', scheme: 'internet-facing' as const, ipAddressType: 'ipv4' }];
      },
      async describeListeners(arn) {
        calls.push(`DescribeListeners ${arn}`);
        return [{ arn: 'arn:listener/1', port: 443, protocol: 'HTTPS' }];
      },
      async describeListenerCertificates(arn) {
        calls.push(`DescribeListenerCertificates ${arn}`);
        return ['arn:c/1'];
      },
    },
  };
  const cert = (n: number, status: CertificateDetail['status'] = 'ISSUED'): CertificateDetail => ({
    arn: `arn:c/${n}`,
    domainName: `h${n}.opendi.com`,
    status,
    inUse: false,
    inUseBy: [],
    validationRecords: [{ domainName: `h${n}.opendi.com`, name: `_v.h${n}.opendi.com`, type: 'CNAME', value: '_x.acm' }],
  });
  return { ports, calls, certs, tags, cert, setListDelay: (p: Promise<void> | undefined) => (listDelay = p) };
}

t.test('a resync reads per zone and per ALB, not per certificate or request', async (t) => {
  const f = fakePorts();
  for (let n = 1; n <= 50; n++) f.certs.set(`arn:c/${n}`, f.cert(n));
  const o = new Observer(f.ports);
  await o.refresh({ zoneIds: ['Z1', 'Z1'], loadBalancerDnsNames: ['lb1.elb'] });
  t.same(f.calls, ['ListCertificates', 'GetHostedZone Z1', 'ListRecords Z1', 'DescribeLoadBalancers', 'DescribeListeners arn:lb/1', 'DescribeListenerCertificates arn:listener/1']);
  t.equal(o.certificates.size, 50);
  t.same([...o.loadBalancers.get('lb1.elb')!.certificates!], ['arn:c/1']);
});

t.test('issued certificates are described once (for their validation records), then never again', async (t) => {
  const f = fakePorts();
  f.certs.set('arn:c/1', f.cert(1));
  let now = 0;
  const o = new Observer(f.ports, { now: () => now });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  f.calls.length = 0;
  await o.ensureCertificateDetail('arn:c/1');
  await o.ensureCertificateDetail('arn:c/1');
  now += 3_600_000;
  await o.ensureCertificateDetail('arn:c/1');
  t.same(f.calls, ['DescribeCertificate arn:c/1']);
});

t.test('pending certificates are polled with back-off', async (t) => {
  const f = fakePorts();
  f.certs.set('arn:c/1', f.cert(1, 'PENDING_VALIDATION'));
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, describeBaseMs: 1000, describeMaxMs: 8000 });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  f.calls.length = 0;
  const times: number[] = [];
  for (now = 0; now <= 20_000; now += 250) {
    const before = f.calls.length;
    await o.ensureCertificateDetail('arn:c/1');
    if (f.calls.length > before) times.push(now);
  }
  // The first describe brings the validation records (progress): the next look is one base
  // interval later; looks that find nothing new back off from there.
  t.same(times, [0, 1000, 3000, 7000, 15000], 'waits 1s after the records, then 2s, 4s, 8s (capped)');
  f.certs.set('arn:c/1', f.cert(1, 'ISSUED'));
  now = 23_000;
  const state = await o.ensureCertificateDetail('arn:c/1');
  t.equal(state?.status, 'ISSUED');
  t.equal(o.describeDueInMs('arn:c/1') >= 0, true);
});

t.test('recovery by tags: candidates with the hostname only, tags read once', async (t) => {
  const f = fakePorts();
  f.certs.set('arn:c/1', f.cert(1));
  f.certs.set('arn:c/1b', { ...f.cert(1), arn: 'arn:c/1b' });
  f.certs.set('arn:c/2', f.cert(2));
  f.tags.set('arn:c/1', { 'gateway-orchestrator.io/request-uid': 'old-uid' });
  f.tags.set('arn:c/1b', { 'gateway-orchestrator.io/request-uid': 'uid-1' });
  const o = new Observer(f.ports);
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  f.calls.length = 0;
  t.equal((await o.findCertificateByTags('h1.opendi.com', 'gateway-orchestrator.io/request-uid', 'uid-1'))?.arn, 'arn:c/1b');
  t.equal((await o.findCertificateByTags('h1.opendi.com', 'gateway-orchestrator.io/request-uid', 'uid-1'))?.arn, 'arn:c/1b');
  t.notOk(await o.findCertificateByTags('h1.opendi.com', 'gateway-orchestrator.io/request-uid', 'nobody'));
  t.same(f.calls, ['ListTags arn:c/1', 'ListTags arn:c/1b'], 'never h2, never twice');
});

t.test('write-through survives a resync whose listing started before the write', async (t) => {
  const f = fakePorts();
  const o = new Observer(f.ports);
  let release!: () => void;
  f.setListDelay(new Promise<void>((r) => (release = r)));
  const refreshing = o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  await new Promise((r) => setImmediate(r));
  o.certificateRequested('arn:c/new', 'new.opendi.com', {});
  release();
  await refreshing;
  t.ok(o.certificates.has('arn:c/new'), 'the new certificate is still known');
  f.setListDelay(undefined);
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  t.notOk(o.certificates.has('arn:c/new'), 'the next listing is believed');
});

t.test('record changes are written through into a loaded zone', async (t) => {
  const f = fakePorts();
  const o = new Observer(f.ports);
  const zone = await o.ensureZone('Z1');
  o.recordChangesApplied('Z1', [
    { action: 'CREATE', record: { name: 'B.opendi.com', type: 'A', ttl: 60, values: ['192.0.2.2'] } },
    { action: 'DELETE', record: { name: 'a.opendi.com', type: 'A', ttl: 60, values: ['192.0.2.1'] } },
  ]);
  t.same([...zone.records.keys()], ['b.opendi.com|A']);
  f.calls.length = 0;
  await o.ensureZone('Z1');
  t.same(f.calls, [], 'a loaded zone is not read again outside the resync');
});

t.test('listener ARNs are kept per ALB: later resyncs read only certificates, and look again when the listener is gone', async (t) => {
  const f = fakePorts();
  const lbs = [1, 2, 3, 4, 5, 6].map((n) => ({ arn: `arn:lb/${n}`, name: `lb${n}`, dnsName: `lb${n}.elb`, canonicalHostedZoneId: 'ZLB', scheme: 'internet-facing' as const, ipAddressType: 'ipv4' }));
  const listenerOf = new Map(lbs.map((lb) => [lb.arn, `${lb.arn}/listener/1`]));
  let inFlight = 0;
  let maxInFlight = 0;
  const slow = async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
  };
  f.ports.elbv2 = {
    async describeLoadBalancers() {
      f.calls.push('DescribeLoadBalancers');
      return lbs;
    },
    async describeListeners(arn) {
      f.calls.push(`DescribeListeners ${arn}`);
      await slow();
      const l = listenerOf.get(arn);
      return l ? [{ arn: l, port: 443, protocol: 'HTTPS' }] : [];
    },
    async describeListenerCertificates(arn) {
      f.calls.push(`DescribeListenerCertificates ${arn}`);
      await slow();
      if (![...listenerOf.values()].includes(arn)) throw Object.assign(new Error('The specified listener does not exist.'), { name: 'ListenerNotFoundException' });
      return [`cert-of-${arn}`];
    },
  };
  const o = new Observer(f.ports, { listenerReadConcurrency: 3 });
  const dnsNames = lbs.map((lb) => lb.dnsName);
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: dnsNames });
  t.equal(f.calls.filter((c) => c.startsWith('DescribeListeners ')).length, 6, 'first resync: listeners of each ALB');
  t.equal(maxInFlight, 3, 'three ALBs at a time');

  f.calls.length = 0;
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: dnsNames });
  t.same(f.calls.filter((c) => c.startsWith('DescribeListeners ')), [], 'second resync: no DescribeListeners');
  t.equal(f.calls.filter((c) => c.startsWith('DescribeListenerCertificates ')).length, 6);

  // lb1's HTTPS listener is deleted and made again under a new ARN; lb2's is deleted for good.
  listenerOf.set('arn:lb/1', 'arn:lb/1/listener/2');
  listenerOf.delete('arn:lb/2');
  f.calls.length = 0;
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: dnsNames });
  t.same(f.calls.filter((c) => c.startsWith('DescribeListeners ')).sort(), ['DescribeListeners arn:lb/1', 'DescribeListeners arn:lb/2']);
  const lb1 = o.loadBalancers.get('lb1.elb')!;
  t.equal(lb1.listenerArn, 'arn:lb/1/listener/2');
  t.same([...lb1.certificates!], ['cert-of-arn:lb/1/listener/2']);
  const lb2 = o.loadBalancers.get('lb2.elb')!;
  t.equal(lb2.listenerArn, undefined);
  t.same([...lb2.certificates!], []);

  // Polling between resyncs uses the known ARN too.
  f.calls.length = 0;
  await o.pollListener(o.loadBalancers.get('lb3.elb')!, () => false);
  t.same(f.calls, ['DescribeListenerCertificates arn:lb/3/listener/1']);
});

t.test('a listener read that fails for another reason surfaces (the resync retries it)', async (t) => {
  const f = fakePorts();
  const o = new Observer(f.ports);
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] });
  f.ports.elbv2.describeListenerCertificates = async () => {
    throw Object.assign(new Error('boom'), { name: 'InternalFailure' });
  };
  await t.rejects(o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] }), { message: 'boom' });
  t.equal(o.loadBalancers.get('lb1.elb')!.listenerArn, 'arn:listener/1', 'the ARN is kept');
});

t.test('listener polls back off while the listener does not change, and keep the base interval while the controller attaches certificates', async (t) => {
  const f = fakePorts();
  let onListener = ['arn:c/1'];
  f.ports.elbv2.describeListenerCertificates = async (arn) => {
    f.calls.push(`DescribeListenerCertificates ${arn}`);
    return onListener;
  };
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, listenerBaseMs: 1000, listenerMaxMs: 8000 });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] });
  const lb = o.loadBalancers.get('lb1.elb')!;
  const readsAt = async (until: number, eachTick?: () => void): Promise<number[]> => {
    const times: number[] = [];
    for (; now <= until; now += 250) {
      eachTick?.();
      const before = f.calls.length;
      await o.pollListener(lb, (certs) => certs.has('arn:c/99'));
      if (f.calls.length > before) times.push(now);
    }
    return times;
  };
  // Nothing changes: 1 s, 2 s, 4 s, 8 s (capped) between reads.
  t.same(await readsAt(20_000), [0, 1000, 3000, 7000, 15000]);
  // The controller keeps adding certificates (one every 250 ms): back to the base interval.
  now = 30_000;
  let added = 0;
  const growing = await readsAt(35_000, () => (onListener = [...onListener, `arn:c/${100 + ++added}`]));
  t.same(growing, [30_000, 31_000, 32_000, 33_000, 34_000, 35_000], 'one second apart while the listener changes');
});

t.test('a listener read that finds the certificates changed is reported, one that finds them as before is not', async (t) => {
  const f = fakePorts();
  let onListener = ['arn:c/1'];
  f.ports.elbv2.describeListenerCertificates = async () => onListener;
  let now = 0;
  const changes: string[] = [];
  const o = new Observer(f.ports, { now: () => now, listenerBaseMs: 1000, onListenerChange: (lb) => changes.push(`${lb.lb.dnsName} ${[...lb.certificates!].join(',')}`) });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] });
  t.same(changes, [], 'the resync reads listeners without reporting');
  const lb = o.loadBalancers.get('lb1.elb')!;
  now = 1_000;
  await o.pollListener(lb, (certs) => certs.has('arn:c/2'));
  t.same(changes, [], 'unchanged');
  onListener = ['arn:c/1', 'arn:c/2'];
  now = 10_000;
  await o.pollListener(lb, (certs) => certs.has('arn:c/3'));
  t.same(changes, ['lb1.elb arn:c/1,arn:c/2'], 'the controller attached arn:c/2: reported once');
});

t.test('a LoadBalancerConfiguration just written brings the listener polls back to the base interval', async (t) => {
  const f = fakePorts();
  f.ports.elbv2.describeListenerCertificates = async (arn) => {
    f.calls.push(`DescribeListenerCertificates ${arn}`);
    return ['arn:c/1'];
  };
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, listenerBaseMs: 1000, listenerMaxMs: 30_000 });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] });
  const lb = o.loadBalancers.get('lb1.elb')!;
  // A quiet listener: reads at 0, 1, 3, 7, 15 s; the next one would be at 31 s.
  for (; now <= 16_000; now += 1000) await o.pollListener(lb, () => false);
  t.equal(now, 17_000);
  t.equal(o.listenerDueInMs(lb), 14_000, 'backed off: the next read at 31 s');
  o.expectListenerChange('lb1.elb');
  t.equal(o.listenerDueInMs(lb), 1000, 'due after the base interval once we changed what it should carry');
  now += 1000;
  const before = f.calls.length;
  await o.pollListener(lb, () => false);
  t.equal(f.calls.length, before + 1, 'read at once');
  t.equal(o.listenerDueInMs(lb), 1000, 'then again after the base interval');
  now += 1000;
  await o.pollListener(lb, () => false);
  t.equal(o.listenerDueInMs(lb), 2000, 'and backs off from there while nothing changes');
  o.expectListenerChange('unknown.elb');
  t.pass('an ALB not in the snapshot is ignored');
});

t.test('a certificate described for the first time is looked at again one base interval later, not at once', async (t) => {
  const f = fakePorts();
  f.certs.set('arn:c/1', f.cert(1, 'PENDING_VALIDATION'));
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, describeBaseMs: 2000 });
  // Not in the snapshot (the request's status names it after a restart): one describe brings it.
  await o.ensureCertificateDetail('arn:c/1');
  t.same(f.calls, ['DescribeCertificate arn:c/1'], 'one describe, not two in a row');
  t.equal(o.describeDueInMs('arn:c/1'), 2000);
  now = 2000;
  await o.ensureCertificateDetail('arn:c/1');
  t.equal(f.calls.length, 2, 'then after the base interval');
});

t.test('a new Gateway address is looked up at once; an address a read has missed at most every few seconds', async (t) => {
  const f = fakePorts();
  const lbs = [{ arn: 'arn:lb/1', name: 'lb1', dnsName: 'lb1.elb', canonicalHostedZoneId: 'ZLB', scheme: 'internet-facing' as const, ipAddressType: 'ipv4' }];
  f.ports.elbv2.describeLoadBalancers = async () => {
    f.calls.push('DescribeLoadBalancers');
    return lbs.map((lb) => ({ ...lb }));
  };
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, loadBalancerMinIntervalMs: 5000 });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  t.same(f.calls, ['ListCertificates', 'DescribeLoadBalancers']);
  f.calls.length = 0;

  // A Gateway got an address one second after the resync read: its ALB is new, read at once.
  now = 1000;
  lbs.push({ ...lbs[0]!, arn: 'arn:lb/2', name: 'lb2', dnsName: 'lb2.elb' });
  t.equal((await o.ensureLoadBalancer('lb2.elb'))?.lb.arn, 'arn:lb/2', 'found without waiting out the interval');
  t.same(f.calls, ['DescribeLoadBalancers']);

  // An address no ALB has (yet): one read for it, then it waits for the interval.
  f.calls.length = 0;
  now = 1500;
  t.equal(await o.ensureLoadBalancer('nowhere.elb'), undefined);
  t.same(f.calls, ['DescribeLoadBalancers'], 'read once for a name never looked for');
  now = 3000;
  t.equal(await o.ensureLoadBalancer('nowhere.elb'), undefined);
  t.equal(f.calls.length, 1, 'missed by a read already: no new read inside the interval');
  t.equal(o.loadBalancerDueInMs(), 3500, 'the next read is due 5 s after the last one');
  now = 6500;
  lbs.push({ ...lbs[0]!, arn: 'arn:lb/3', name: 'nowhere', dnsName: 'nowhere.elb' });
  t.equal((await o.ensureLoadBalancer('nowhere.elb'))?.lb.arn, 'arn:lb/3', 'read again once due');
  t.equal(f.calls.length, 2);

  // Two requests asking at once for a new name share one read.
  f.calls.length = 0;
  now = 7000;
  lbs.push({ ...lbs[0]!, arn: 'arn:lb/4', name: 'lb4', dnsName: 'lb4.elb' });
  const [a, b] = await Promise.all([o.ensureLoadBalancer('lb4.elb'), o.ensureLoadBalancer('lb4.elb')]);
  t.equal(a?.lb.arn, 'arn:lb/4');
  t.equal(b?.lb.arn, 'arn:lb/4');
  t.same(f.calls, ['DescribeLoadBalancers'], 'one read for both');
});

t.test('a read already under way when a new address is first asked for is not trusted to have seen it', async (t) => {
  const f = fakePorts();
  const lbs = [{ arn: 'arn:lb/1', name: 'lb1', dnsName: 'lb1.elb', canonicalHostedZoneId: 'ZLB', scheme: 'internet-facing' as const, ipAddressType: 'ipv4' }];
  let release: (() => void) | undefined;
  f.ports.elbv2.describeLoadBalancers = async () => {
    f.calls.push('DescribeLoadBalancers');
    const answer = lbs.map((lb) => ({ ...lb }));
    if (release === undefined) await new Promise<void>((r) => (release = r));
    return answer;
  };
  const o = new Observer(f.ports, { loadBalancerMinIntervalMs: 60_000 });
  // A resync's read starts before the new ALB exists...
  const resync = o.refresh({ zoneIds: [], loadBalancerDnsNames: [] });
  await new Promise((r) => setImmediate(r));
  // ...the ALB and its Gateway address appear, and a request asks for it while that read runs.
  lbs.push({ ...lbs[0]!, arn: 'arn:lb/2', name: 'lb2', dnsName: 'lb2.elb' });
  const asked = o.ensureLoadBalancer('lb2.elb');
  await new Promise((r) => setImmediate(r));
  release!();
  await resync;
  t.equal((await asked)?.lb.arn, 'arn:lb/2', 'read again after the older read, inside the interval');
  t.same(f.calls.filter((c) => c === 'DescribeLoadBalancers').length, 2);
});

t.test('requests on one Gateway coming due together share one listener read, which counts once towards the back-off', async (t) => {
  const f = fakePorts();
  let onListener = ['arn:c/1'];
  let reads = 0;
  f.ports.elbv2.describeListenerCertificates = async () => {
    reads++;
    await new Promise((r) => setTimeout(r, 5));
    return onListener;
  };
  let now = 0;
  const o = new Observer(f.ports, { now: () => now, listenerBaseMs: 1000, listenerMaxMs: 30_000 });
  await o.refresh({ zoneIds: [], loadBalancerDnsNames: ['lb1.elb'] });
  const lb = o.loadBalancers.get('lb1.elb')!;
  reads = 0;
  // Four requests wait for their certificates on this listener; all come due at once, twice.
  const waiting = ['arn:c/2', 'arn:c/3', 'arn:c/4', 'arn:c/5'];
  const pollAll = () => Promise.all(waiting.map((arn) => o.pollListener(lb, (certs) => certs.has(arn))));
  now = 1000;
  await pollAll();
  t.equal(reads, 1, 'one read for the four');
  t.equal(o.listenerDueInMs(lb), 1000);
  now = 2000;
  await pollAll();
  t.equal(reads, 2);
  t.equal(o.listenerDueInMs(lb), 2000, 'two quiet reads: the interval doubled once, not four times');
  // The controller attaches the four certificates: the next read (due in 2 s) sees them.
  onListener = ['arn:c/1', ...waiting];
  now = 4000;
  await pollAll();
  t.equal(reads, 3);
  t.ok(waiting.every((arn) => lb.certificates?.has(arn)), 'all four seen on the listener');
});
