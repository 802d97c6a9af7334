// The fault proxy itself: it recognises each AWS API the way the SDK calls it, injects exactly
// what its rules say (by call number, or by seeded probability), answers in each service's own
// error format so the SDK raises the real error names, and counts what it did.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm';
import { GetHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { classifyAwsError } from '../../reconcile/aws/budget.js';
import { awsCallCounts, createAwsPorts, diffAwsCallCounts } from '../../reconcile/aws/index.js';
import { awsClientConfig, hostedZoneId } from '../helpers/index.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { budgetExcess, identifyCall, peakInWindow, route53Operation, startFaultProxy, type FaultProxy } from './aws-fault-proxy.js';

const auth = (service: string) => `AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/${service}/aws4_request, SignedHeaders=host, Signature=abc`;

t.test('identifies the API of a call the way the SDK sends it', async (t) => {
  t.same(identifyCall('POST', '/', { authorization: auth('acm'), 'x-amz-target': 'CertificateManager.RequestCertificate' }, '{}'), { service: 'acm', operation: 'RequestCertificate' });
  t.same(identifyCall('POST', '/2013-04-01/hostedzone/Z1/rrset/', { authorization: auth('route53') }, '<x/>'), { service: 'route53', operation: 'ChangeResourceRecordSets' });
  t.same(identifyCall('GET', '/2013-04-01/hostedzone/Z1/rrset?maxitems=300', { authorization: auth('route53') }, ''), { service: 'route53', operation: 'ListResourceRecordSets' });
  t.same(identifyCall('GET', '/2013-04-01/hostedzone/Z1', { authorization: auth('route53') }, ''), { service: 'route53', operation: 'GetHostedZone' });
  t.same(identifyCall('POST', '/', { authorization: auth('elasticloadbalancing') }, 'Action=DescribeListenerCertificates&Version=2015-12-01&ListenerArn=x'), {
    service: 'elbv2',
    operation: 'DescribeListenerCertificates',
  });
  // Without a signature, the shape of the call still tells.
  t.same(identifyCall('POST', '/', { 'x-amz-target': 'CertificateManager.ListCertificates' }, '{}'), { service: 'acm', operation: 'ListCertificates' });
  t.same(identifyCall('POST', '/', {}, 'Action=DescribeLoadBalancers&Version=2015-12-01'), { service: 'elbv2', operation: 'DescribeLoadBalancers' });
  t.equal(route53Operation('GET', '/2013-04-01/change/C1'), 'GetChange');
  t.equal(route53Operation('POST', '/2013-04-01/hostedzone'), 'CreateHostedZone');
});

t.test('the PRNG repeats for a seed and differs between seeds', async (t) => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const sa = Array.from({ length: 5 }, a);
  t.same(Array.from({ length: 5 }, b), sa);
  t.not(JSON.stringify(Array.from({ length: 5 }, c)), JSON.stringify(sa));
  t.ok(sa.every((x) => x >= 0 && x < 1));
});

t.test('budget arithmetic: the worst window of a token bucket, and the peak per window', async (t) => {
  // 5 a second, burst 5: 5 at once is fine, a sixth at the same moment is not.
  t.ok(budgetExcess([0, 0, 0, 0, 0], 5, 5, 0).excess <= 0);
  t.ok(budgetExcess([0, 0, 0, 0, 0, 0], 5, 5, 0).excess > 0);
  // Steady 5/s for 4 s after the burst is within the budget.
  const steady = [0, 0, 0, 0, 0, ...Array.from({ length: 20 }, (_, i) => 200 * (i + 1))];
  t.ok(budgetExcess(steady, 5, 5, 0).excess <= 0);
  t.equal(peakInWindow([0, 100, 900, 1000, 1100], 1000), 3);
  t.same(budgetExcess([], 5, 5, 0), { excess: 0, calls: 0, spanMs: 0 });
});

// A stand-in for moto that counts what reaches it.
async function startEcho(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function post(proxy: FaultProxy, target: string, body = '{}'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const res = await fetch(proxy.url, { method: 'POST', headers: { authorization: auth('acm'), 'x-amz-target': `CertificateManager.${target}` }, body });
  return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers.entries()) };
}

t.test('by call number: exactly the named calls fail, the rest reach the upstream', async (t) => {
  const echo = await startEcho();
  const proxy = await startFaultProxy({ target: echo.url, rules: [{ service: 'acm', operation: 'RequestCertificate', calls: [2, 3], fault: { kind: 'throttle' } }] });
  t.teardown(async () => {
    await proxy.close();
    await echo.close();
  });
  const statuses: number[] = [];
  for (let i = 1; i <= 5; i++) statuses.push((await post(proxy, 'RequestCertificate', `{"n":${i}}`)).status);
  // Another operation does not advance the rule's counter.
  statuses.push((await post(proxy, 'ListCertificates')).status);
  t.same(statuses, [200, 400, 400, 200, 200, 200]);
  t.same(echo.hits, ['{"n":1}', '{"n":4}', '{"n":5}', '{}'], 'throttled calls never reached the upstream');
  t.same(proxy.injected(), { 'acm.RequestCertificate': { throttle: 2 } });
  t.same(proxy.callCounts(), { 'acm.RequestCertificate': 5, 'acm.ListCertificates': 1 });
  const throttled = await (async () => {
    proxy.setRules([{ calls: [1], fault: { kind: 'throttle' } }]);
    return post(proxy, 'DescribeCertificate');
  })();
  t.equal(throttled.headers['x-amzn-errortype'], 'ThrottlingException');
  t.match(JSON.parse(throttled.body), { __type: 'ThrottlingException' });
});

t.test('by probability: one seeded draw per call, so a seed repeats and the shares hold', async (t) => {
  const echo = await startEcho();
  const rules = [
    { probability: 0.2, fault: { kind: 'throttle' as const } },
    { probability: 0.05, fault: { kind: 'server-error' as const } },
  ];
  const proxy = await startFaultProxy({ target: echo.url, rules, seed: 7 });
  t.teardown(async () => {
    await proxy.close();
    await echo.close();
  });
  const run = async () => {
    const out: number[] = [];
    for (let i = 0; i < 400; i++) out.push((await post(proxy, 'ListCertificates')).status);
    return out;
  };
  const first = await run();
  proxy.setRules(rules, 7);
  const second = await run();
  t.same(second, first, 'the same seed gives the same sequence');
  const throttled = first.filter((s) => s === 400).length / first.length;
  const failed = first.filter((s) => s === 500).length / first.length;
  t.ok(throttled > 0.14 && throttled < 0.26, `about 20% throttled (${throttled})`);
  t.ok(failed > 0.02 && failed < 0.09, `about 5% 5xx (${failed})`);
  t.equal(proxy.calls.length, 800);
  t.equal(proxy.calls.filter((c) => c.fault === 'throttle').length, first.filter((s) => s === 400).length * 2, 'counted as injected');
});

t.test('latency delays the call; a 5xx "after" lets the call take effect and loses the answer', async (t) => {
  const echo = await startEcho();
  const proxy = await startFaultProxy({
    target: echo.url,
    rules: [
      { operation: 'ListCertificates', calls: [1], fault: { kind: 'latency', ms: 300 } },
      { operation: 'RequestCertificate', calls: [1], fault: { kind: 'server-error', status: 503, after: true } },
    ],
  });
  t.teardown(async () => {
    await proxy.close();
    await echo.close();
  });
  const started = Date.now();
  t.equal((await post(proxy, 'ListCertificates')).status, 200);
  // A lower bound only: a timer never fires early by more than a millisecond.
  t.ok(Date.now() - started >= 295, 'delayed by the injected latency');
  const lost = await post(proxy, 'RequestCertificate', '{"x":1}');
  t.equal(lost.status, 503);
  t.equal(lost.headers['x-amzn-errortype'], 'ServiceUnavailableException');
  t.ok(echo.hits.includes('{"x":1}'), 'the call reached the upstream');
  t.same(proxy.injected(), { 'acm.ListCertificates': { latency: 1 }, 'acm.RequestCertificate': { 'server-error': 1 } });
});

t.test('the SDK raises each service\'s real error for what the proxy injects (against moto)', async (t) => {
  const local = await awsClientConfig();
  const zoneId = await hostedZoneId('opendi.com');
  const proxy = await startFaultProxy({ target: local.endpoint });
  t.teardown(() => proxy.close());
  const common = { region: local.region, credentials: local.credentials, endpoint: proxy.url, maxAttempts: 1 };
  const acm = new ACMClient(common);
  const route53 = new Route53Client(common);
  const elbv2 = new ElasticLoadBalancingV2Client(common);
  t.teardown(() => {
    acm.destroy();
    route53.destroy();
    elbv2.destroy();
  });
  const failure = async (send: () => Promise<unknown>) => {
    try {
      await send();
      return undefined;
    } catch (err) {
      return err as Error & { $metadata?: { httpStatusCode?: number } };
    }
  };
  const cases: Array<{ rule: Parameters<FaultProxy['setRules']>[0][number]; send: () => Promise<unknown>; name: string; status: number; kind: string }> = [
    { rule: { service: 'acm', calls: [1], fault: { kind: 'throttle' } }, send: () => acm.send(new ListCertificatesCommand({})), name: 'ThrottlingException', status: 400, kind: 'throttled' },
    { rule: { service: 'acm', calls: [1], fault: { kind: 'server-error' } }, send: () => acm.send(new ListCertificatesCommand({})), name: 'InternalFailure', status: 500, kind: 'transient' },
    { rule: { service: 'route53', calls: [1], fault: { kind: 'throttle' } }, send: () => route53.send(new GetHostedZoneCommand({ Id: zoneId })), name: 'Throttling', status: 400, kind: 'throttled' },
    {
      rule: { service: 'route53', calls: [1], fault: { kind: 'prior-request-not-complete' } },
      send: () => route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId })),
      name: 'PriorRequestNotComplete',
      status: 400,
      kind: 'throttled',
    },
    {
      rule: { service: 'route53', calls: [1], fault: { kind: 'server-error', status: 503 } },
      send: () => route53.send(new GetHostedZoneCommand({ Id: zoneId })),
      name: 'ServiceUnavailable',
      status: 503,
      kind: 'transient',
    },
    { rule: { service: 'elbv2', calls: [1], fault: { kind: 'throttle' } }, send: () => elbv2.send(new DescribeLoadBalancersCommand({})), name: 'Throttling', status: 400, kind: 'throttled' },
    { rule: { service: 'elbv2', calls: [1], fault: { kind: 'server-error' } }, send: () => elbv2.send(new DescribeLoadBalancersCommand({})), name: 'InternalFailure', status: 500, kind: 'transient' },
  ];
  for (const c of cases) {
    proxy.setRules([c.rule]);
    const err = await failure(c.send);
    t.equal(err?.name, c.name, `${JSON.stringify(c.rule.fault)} on ${String(c.rule.service)}: ${err?.name}`);
    t.equal(err?.$metadata?.httpStatusCode, c.status);
    t.equal(classifyAwsError(err), c.kind, `the budget treats it as ${c.kind}`);
    t.notOk(await failure(c.send), 'the next call goes through to moto');
  }
});

t.test('through the orchestrator\'s own clients, the budget retries what the proxy injects and counts it', async (t) => {
  const local = await awsClientConfig();
  const zoneId = await hostedZoneId('opendi.com');
  process.env['AWS_ACCESS_KEY_ID'] = local.credentials.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = local.credentials.secretAccessKey;
  const proxy = await startFaultProxy({
    target: local.endpoint,
    rules: [
      { service: 'route53', operation: 'ListResourceRecordSets', calls: [1, 2], fault: { kind: 'prior-request-not-complete' } },
      { service: 'acm', operation: 'ListCertificates', calls: [1], fault: { kind: 'throttle' } },
      { service: 'acm', operation: 'ListCertificates', calls: [2], fault: { kind: 'server-error', status: 503 } },
      { service: 'elbv2', calls: [1], fault: { kind: 'throttle' } },
    ],
  });
  t.teardown(() => proxy.close());
  const ports = createAwsPorts({ region: local.region, endpoint: proxy.url, rates: { route53: 50, acm: 50, elbv2: 50 } }, { retry: { baseDelayMs: 20, maxDelayMs: 100 } });
  const before = await awsCallCounts();
  t.ok(Array.isArray(await ports.route53.listRecords(zoneId)), 'records listed after two PriorRequestNotComplete');
  t.ok(Array.isArray(await ports.acm.listCertificates()), 'certificates listed after a throttle and a 503');
  t.ok(Array.isArray(await ports.elbv2.describeLoadBalancers()), 'load balancers described after a throttle');
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.match(diff.byOperation['route53.ListResourceRecordSets'], { throttled: 2, success: 1 });
  t.match(diff.byOperation['acm.ListCertificates'], { throttled: 1, error: 1, success: 1 });
  t.match(diff.byOperation['elbv2.DescribeLoadBalancers'], { throttled: 1, success: 1 });
  t.same(proxy.injected(), {
    'route53.ListResourceRecordSets': { 'prior-request-not-complete': 2 },
    'acm.ListCertificates': { throttle: 1, 'server-error': 1 },
    'elbv2.DescribeLoadBalancers': { throttle: 1 },
  });
});
