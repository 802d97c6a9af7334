// A ListCertificates page that fails the way moto 5.2.1 fails it under concurrent
// RequestCertificates (an unhandled RuntimeError: HTTP 500 with an HTML body) is retried by the
// budget middleware with back-off, page by page: the listing completes and only the failed page
// is asked again. Persistent failure surfaces after the bounded attempts (the resync retries).
import t from 'tap';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAwsPorts, awsCallCounts, diffAwsCallCounts } from '../../reconcile/aws/index.js';

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

type Answer = (res: ServerResponse) => void;
const motoCrash: Answer = (res) =>
  res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>');
const page = (arns: string[], next?: string): Answer => (res) =>
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
    JSON.stringify({
      CertificateSummaryList: arns.map((a) => ({ CertificateArn: a, DomainName: `${a}.opendi.com`, Status: 'ISSUED', InUse: false })),
      ...(next ? { NextToken: next } : {}),
    }),
  );

async function scripted(answers: Answer[]) {
  const tokens: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      tokens.push((JSON.parse(body) as { NextToken?: string }).NextToken);
      const answer = answers[Math.min(tokens.length, answers.length) - 1]!;
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokens,
    close: () => new Promise((resolve) => (server.close(resolve), server.closeAllConnections())),
  };
}

const aws = (endpoint: string) => ({ region: 'eu-central-1', endpoint, rates: { route53: 100, acm: 100, elbv2: 100 } });

t.test('a failed ListCertificates page is retried with back-off; earlier pages are not read again', async (t) => {
  const s = await scripted([page(['c1', 'c2'], 'p2'), motoCrash, motoCrash, page(['c3'])]);
  t.teardown(s.close);
  const ports = createAwsPorts(aws(s.endpoint), { retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  const before = await awsCallCounts();
  const listed = await ports.acm.listCertificates();
  t.same(listed.map((c) => c.arn), ['c1', 'c2', 'c3']);
  t.same(s.tokens, [undefined, 'p2', 'p2', 'p2'], 'page 2 asked three times, page 1 once');
  t.match(diffAwsCallCounts(before, await awsCallCounts()).byOperation['acm.ListCertificates'], { error: 2, success: 2 });
});

t.test('a page that keeps failing surfaces after the bounded attempts', async (t) => {
  const s = await scripted([motoCrash]);
  t.teardown(s.close);
  const ports = createAwsPorts(aws(s.endpoint), { retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 } });
  await t.rejects(ports.acm.listCertificates());
  t.equal(s.tokens.length, 4);
});
