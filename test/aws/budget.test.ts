// The AWS call budget on a virtual clock: token bucket spacing, retry with full jitter on
// throttling and transient errors, bounded attempts, and the call counters.
import t from 'tap';
import {
  TokenBucket,
  backoffDelayMs,
  callWithBudget,
  classifyAwsError,
  createServiceBudget,
  isMutating,
  awsCallCounts,
  diffAwsCallCounts,
  DEFAULT_RETRY,
} from '../../reconcile/aws/budget.js';
import { registry } from '../../server/metrics.js';
import { FakeClock } from './fake-clock.js';

function awsError(name: string, status = 400, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
}

t.test('token bucket spaces calls 1/rate apart once the burst is spent, in call order', async (t) => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(5, 1, clock);
  const at: Array<[number, number]> = [];
  const all = Promise.all([0, 1, 2, 3, 4].map((i) => bucket.take().then(() => at.push([i, clock.now()]))));
  await clock.run(all);
  t.same(at, [
    [0, 0],
    [1, 200],
    [2, 400],
    [3, 600],
    [4, 800],
  ]);
});

t.test('token bucket lets a burst through at once, then holds the rate; idle time refills only up to the burst', async (t) => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(2, 3, clock);
  const times: number[] = [];
  const first = Promise.all(Array.from({ length: 5 }, () => bucket.take().then(() => times.push(clock.now()))));
  await clock.run(first);
  t.same(times, [0, 0, 0, 500, 1000]);

  clock.advance(60_000); // a minute idle saves up 3 tokens, not 120
  const start = clock.now();
  const later: number[] = [];
  const second = Promise.all(Array.from({ length: 4 }, () => bucket.take().then(() => later.push(clock.now() - start))));
  await clock.run(second);
  t.same(later, [0, 0, 0, 500]);
});

t.test('token bucket rejects a rate or burst that cannot work', async (t) => {
  t.throws(() => new TokenBucket(0, 1));
  t.throws(() => new TokenBucket(1, 0));
});

t.test('full jitter: uniform below min(max, base * 2^retry)', async (t) => {
  const top = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 };
  t.same([0, 1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, top)), [99, 199, 399, 799, 999, 999]);
  const bottom = { ...top, random: () => 0 };
  t.same([0, 3, 9].map((r) => backoffDelayMs(r, bottom)), [0, 0, 0]);
});

t.test('classifies throttling, transient and fatal errors the way each AWS API reports them', async (t) => {
  const table: Array<[string, unknown, string]> = [
    ['ACM ThrottlingException', awsError('ThrottlingException'), 'throttled'],
    ['Route53 Throttling', awsError('Throttling'), 'throttled'],
    ['Route53 PriorRequestNotComplete', awsError('PriorRequestNotComplete'), 'throttled'],
    ['ELBv2 Throttling', awsError('Throttling'), 'throttled'],
    ['HTTP 429', awsError('Unknown', 429), 'throttled'],
    ['SDK throttling hint', Object.assign(awsError('Whatever'), { $retryable: { throttling: true } }), 'throttled'],
    ['ServiceUnavailable', awsError('ServiceUnavailable', 503), 'transient'],
    ['HTTP 500 with an unparsable body', awsError('Unknown', 500), 'transient'],
    ['InternalFailure', awsError('InternalFailure', 500), 'transient'],
    ['connection reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient'],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
    ['request timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'transient'],
    ['wrapped network error', Object.assign(new Error('failed'), { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }), 'transient'],
    ['InvalidChangeBatch', awsError('InvalidChangeBatch'), 'fatal'],
    ['ResourceInUseException', awsError('ResourceInUseException'), 'fatal'],
    ['ValidationException', awsError('ValidationException'), 'fatal'],
    ['AccessDenied', awsError('AccessDeniedException', 403), 'fatal'],
    ['not an object', 'boom', 'fatal'],
  ];
  for (const [what, err, want] of table) t.equal(classifyAwsError(err), want, what);
});

t.test('which operations mutate', async (t) => {
  t.ok(isMutating('route53', 'ChangeResourceRecordSets'));
  t.ok(isMutating('acm', 'RequestCertificate'));
  t.ok(isMutating('acm', 'DeleteCertificate'));
  t.ok(isMutating('acm', 'AddTagsToCertificate'));
  t.ok(isMutating('elbv2', 'AddListenerCertificates'));
  t.notOk(isMutating('route53', 'ListResourceRecordSets'));
  t.notOk(isMutating('route53', 'GetHostedZone'));
  t.notOk(isMutating('acm', 'DescribeCertificate'));
  t.notOk(isMutating('acm', 'ListTagsForCertificate'));
  t.notOk(isMutating('elbv2', 'DescribeListenerCertificates'));
  t.ok(isMutating('acm', 'SomeFutureOperation'), 'an unknown operation counts as mutating');
});

t.test('retries throttling with back-off, each attempt taking a token and being counted', async (t) => {
  const clock = new FakeClock();
  const budget = createServiceBudget('route53', 1000, { clock, burst: 1000, retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 } });
  const before = await awsCallCounts();
  const failures = [awsError('Throttling'), awsError('PriorRequestNotComplete'), awsError('ServiceUnavailable', 503)];
  let calls = 0;
  const result = callWithBudget(budget, 'ChangeResourceRecordSets', async () => {
    calls++;
    const failure = failures.shift();
    if (failure) throw failure;
    return 'ok';
  });
  await clock.run(result);
  t.equal(await result, 'ok');
  t.equal(calls, 4);
  t.same(clock.sleeps, [50, 100, 200], 'full jitter with random 0.5: half of 100, 200, 400');
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.equal(diff.mutating, 4, 'every attempt of a mutating operation counts');
  t.equal(diff.read, 0);
  t.equal(diff.throttled, 2);
  t.match(diff.byOperation['route53.ChangeResourceRecordSets'], { mutating: true, success: 1, throttled: 2, error: 1 });

  const metrics = await registry.getMetricsAsJSON();
  const throttles = metrics.find((m) => m.name === 'gateway_orchestrator_aws_throttles_total');
  t.ok(throttles?.values.some((v) => v.labels['operation'] === 'ChangeResourceRecordSets' && v.value >= 2), 'throttles counter on the shared registry');
});

t.test('gives up after maxAttempts and surfaces the last error', async (t) => {
  const clock = new FakeClock();
  const budget = createServiceBudget('acm', 1000, { clock, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, random: () => 0.5 } });
  let calls = 0;
  const result = callWithBudget(budget, 'ListCertificates', async () => {
    calls++;
    throw awsError('ThrottlingException');
  });
  const caught = result.catch((err: Error) => err);
  await clock.run(caught);
  t.match(await caught, { name: 'ThrottlingException' });
  t.equal(calls, 3);
});

t.test('a fatal error surfaces at once, without retry', async (t) => {
  const clock = new FakeClock();
  const budget = createServiceBudget('route53', 1000, { clock });
  const before = await awsCallCounts();
  let calls = 0;
  const result = callWithBudget(budget, 'ChangeResourceRecordSets', async () => {
    calls++;
    throw awsError('InvalidChangeBatch');
  }).catch((err: Error) => err);
  await clock.run(result);
  t.match(await result, { name: 'InvalidChangeBatch' });
  t.equal(calls, 1);
  t.same(clock.sleeps, []);
  const diff = diffAwsCallCounts(before, await awsCallCounts());
  t.match(diff.byOperation['route53.ChangeResourceRecordSets'], { error: 1, success: 0 });
});

t.test('retries wait for the bucket too: a burst of throttled calls stays under the rate', async (t) => {
  const clock = new FakeClock();
  const budget = createServiceBudget('elbv2', 2, { clock, burst: 1, retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1, random: () => 0 } });
  const attempts: number[] = [];
  let n = 0;
  const result = callWithBudget(budget, 'DescribeLoadBalancers', async () => {
    attempts.push(clock.now());
    if (++n < 4) throw awsError('Throttling');
    return n;
  });
  await clock.run(result);
  t.equal(await result, 4);
  t.same(attempts, [0, 500, 1000, 1500], 'four attempts at 2/s even with zero back-off');
});
