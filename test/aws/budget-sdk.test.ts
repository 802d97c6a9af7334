// The budget middleware on the real SDK clients, against a loopback server that answers each
// API the way AWS does when it throttles, fails or drops the connection: the adapters retry,
// the SDK does not retry on its own, and every attempt is counted under its operation name.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAwsPorts, awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

type Answer = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const xml = (status: number, body: string): Answer => (_req, res) => {
  res.writeHead(status, { 'content-type': 'text/xml' }).end(`<?xml version="1.0"?>\n${body}`);
};
const json = (status: number, body: unknown, errorType?: string): Answer => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) }).end(JSON.stringify(body));
};
const reset: Answer = (req) => req.socket.destroy();

const route53Error = (code: string) =>
  xml(400, `<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${code}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);
const elbError = (status: number, code: string) =>
  xml(status, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${code}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);

const emptyRecords = xml(
  200,
  `<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets></ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>`,
);
const noLoadBalancers = xml(
  200,
  `<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`,
);

/** Scripted answers per API: each request takes the next one; the last one repeats. */
async function scriptedAws(script: Record<string, Answer[]>) {
  const hits: Record<string, number> = {};
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const api = typeof target === 'string' ? target.split('.')[1]! : req.url?.startsWith('/2013-04-01/') ? 'route53' : /Action=(\w+)/.exec(body)?.[1] ?? '?';
      const n = (hits[api] = (hits[api] ?? 0) + 1);
      const answers = script[api] ?? [];
      const answer = answers[Math.min(n, answers.length) - 1];
      if (answer) answer(req, res, body);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

const fastRetry = { baseDelayMs: 1, maxDelayMs: 5 };

t.test('Route53 Throttling and PriorRequestNotComplete are retried until the read succeeds', async (t) => {
  const aws = await scriptedAws({ route53: [route53Error('Throttling'), route53Error('PriorRequestNotComplete'), emptyRecords] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: fastRetry });
  const before = await awsCallCounts();
  t.same(await ports.route53.listRecords('Z1'), []);
  t.equal(aws.hits['route53'], 3, 'three attempts reached the server: the SDK added none of its own');
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.match(diff.byOperation['route53.ListResourceRecordSets'], { mutating: false, throttled: 2, success: 1, error: 0 });
  t.equal(diff.mutating, 0);
});

t.test('ACM ThrottlingException is retried', async (t) => {
  const aws = await scriptedAws({
    ListCertificates: [json(400, { __type: 'ThrottlingException', message: 'Rate exceeded' }, 'ThrottlingException'), json(200, { CertificateSummaryList: [] })],
  });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: fastRetry });
  const before = await awsCallCounts();
  t.same(await ports.acm.listCertificates(), []);
  t.equal(aws.hits['ListCertificates'], 2);
  t.match(diffAwsCallCounts(before, await awsCallCounts()).byOperation['acm.ListCertificates'], { throttled: 1, success: 1 });
});

t.test('ELBv2 Throttling, a 503 and a reset connection are retried', async (t) => {
  const aws = await scriptedAws({ DescribeLoadBalancers: [elbError(400, 'Throttling'), elbError(503, 'ServiceUnavailable'), reset, noLoadBalancers] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: fastRetry });
  const before = await awsCallCounts();
  t.same(await ports.elbv2.describeLoadBalancers(), []);
  t.equal(aws.hits['DescribeLoadBalancers'], 4);
  t.match(diffAwsCallCounts(before, await awsCallCounts()).byOperation['elbv2.DescribeLoadBalancers'], { throttled: 1, error: 2, success: 1 });
});

t.test('persistent throttling surfaces after the bounded number of attempts', async (t) => {
  const aws = await scriptedAws({ route53: [route53Error('Throttling')] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: { ...fastRetry, maxAttempts: 4 } });
  await t.rejects(ports.route53.changeRecords('Z1', [{ action: 'UPSERT', record: { name: 'a.example.org', type: 'TXT', ttl: 60, values: ['"x"'] } }]), { name: 'Throttling' });
  t.equal(aws.hits['route53'], 4);
});

t.test('a rejected change batch is not retried', async (t) => {
  const aws = await scriptedAws({ route53: [route53Error('InvalidChangeBatch')] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: fastRetry });
  const before = await awsCallCounts();
  await t.rejects(ports.route53.changeRecords('Z1', [{ action: 'CREATE', record: { name: 'a.example.org', type: 'TXT', ttl: 60, values: ['"x"'] } }]), { name: 'InvalidChangeBatch' });
  t.equal(aws.hits['route53'], 1);
  t.match(diffAwsCallCounts(before, await awsCallCounts()).byOperation['route53.ChangeResourceRecordSets'], { mutating: true, error: 1, success: 0 });
});

t.test('the configured rate holds on the real clients', async (t) => {
  const aws = await scriptedAws({ route53: [emptyRecords] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 10, acm: 100, elbv2: 100 } });
  const start = Date.now();
  await Promise.all(Array.from({ length: 15 }, () => ports.route53.listRecords('Z1')));
  const elapsed = Date.now() - start;
  // Burst of 10, then 5 more at 10/s: at least ~500 ms.
  t.ok(elapsed >= 450, `15 reads at 10/s with burst 10 took ${elapsed} ms`);
});

t.test('a hung request times out and is retried as a transient error', async (t) => {
  const hang: Answer = () => undefined; // never answers
  const aws = await scriptedAws({ route53: [hang, emptyRecords] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { retry: fastRetry, requestTimeoutMs: 300 });
  const before = await awsCallCounts();
  t.same(await ports.route53.listRecords('Z1'), []);
  t.equal(aws.hits['route53'], 2);
  t.match(diffAwsCallCounts(before, await awsCallCounts()).byOperation['route53.ListResourceRecordSets'], { error: 1, success: 1 });
});

t.test('ports made with countCalls: false stay out of the counters', async (t) => {
  const aws = await scriptedAws({ route53: [emptyRecords] });
  t.teardown(aws.close);
  const ports = createAwsPorts({ region: 'eu-central-1', endpoint: aws.endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } }, { countCalls: false });
  const before = await awsCallCounts();
  await ports.route53.listRecords('Z1');
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.equal(diff.read + diff.mutating, 0);
  t.equal(aws.hits['route53'], 1);
});
