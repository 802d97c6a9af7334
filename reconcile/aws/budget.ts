// The AWS call budget: every command of every SDK client goes through one middleware that
// (1) waits for a token from the service's bucket, (2) retries throttling and transient errors
// with exponential back-off and full jitter, a bounded number of times, and (3) counts each
// attempt by service, operation, outcome and whether it mutates. The account's API budget is
// shared with other tools, so we stay under our configured rate instead of relying on AWS to
// throttle us; and "a steady-state resync makes zero mutating calls" is read from these counters.

import { Counter } from 'prom-client';
import { registry } from '../../server/metrics.js';
import { log } from '../../server/log.js';

export type AwsService = 'acm' | 'route53' | 'elbv2';

/** Time source and sleep, injectable so unit tests run on a fake clock. */
export interface Clock {
  now(): number; // milliseconds
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. A caller reserves its
 * token synchronously (the level may go negative) and then sleeps until the token has accrued,
 * so concurrent callers are served in call order and spaced exactly 1/rate apart.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`token bucket rate must be > 0, got ${ratePerSecond}`);
    if (!(burst >= 1)) throw new RangeError(`token bucket burst must be >= 1, got ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Milliseconds the caller waited (0 when a token was available). */
  async take(): Promise<number> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    const waitMs = Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
    await this.clock.sleep(waitMs);
    return waitMs;
  }
}

export interface RetryOptions {
  /** Attempts in total, the first one included; then the last error surfaces. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** [0, 1); injectable for deterministic tests. */
  random: () => number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 10_000, random: Math.random };

/** Full jitter: uniform in [0, min(max, base * 2^retry)), retry counting from 0. */
export function backoffDelayMs(retry: number, options: RetryOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.floor(options.random() * ceiling);
}

// Error codes that mean "slow down": ACM ThrottlingException, Route53 Throttling and
// PriorRequestNotComplete (a change to the zone still in progress), ELBv2 Throttling, and the
// generic names other AWS APIs use.
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
]);

const TRANSIENT_CODES = new Set([
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'InternalServiceError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

export type ErrorClass = 'throttled' | 'transient' | 'fatal';

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Throttled and transient errors are retried; everything else surfaces at once. */
export function classifyAwsError(err: unknown, depth = 0): ErrorClass {
  if (typeof err !== 'object' || err === null || depth > 4) return 'fatal';
  const e = err as AwsErrorShape;
  const codes = [e.name, e.code, e.Code].filter((c): c is string => typeof c === 'string');
  if (codes.some((c) => THROTTLING_CODES.has(c)) || e.$retryable?.throttling === true) return 'throttled';
  const status = e.$metadata?.httpStatusCode;
  if (status === 429) return 'throttled';
  if (codes.some((c) => TRANSIENT_CODES.has(c) || NETWORK_CODES.has(c))) return 'transient';
  if (typeof status === 'number' && status >= 500) return 'transient';
  // A network error wrapped by the HTTP handler.
  if (e.cause !== undefined) return classifyAwsError(e.cause, depth + 1);
  return 'fatal';
}

// Which operations change something in AWS. Anything not listed counts as mutating unless its
// name says it only reads (List/Describe/Get), so an unknown operation can never hide a write
// from the "zero mutating calls" check.
const MUTATING: Record<AwsService, ReadonlySet<string>> = {
  acm: new Set([
    'RequestCertificate',
    'DeleteCertificate',
    'AddTagsToCertificate',
    'RemoveTagsFromCertificate',
    'ImportCertificate',
    'RenewCertificate',
    'ResendValidationEmail',
    'UpdateCertificateOptions',
    'PutAccountConfiguration',
    'ExportCertificate',
    'RevokeCertificate',
  ]),
  route53: new Set([
    'ChangeResourceRecordSets',
    'CreateHostedZone',
    'DeleteHostedZone',
    'UpdateHostedZoneComment',
    'ChangeTagsForResource',
    'AssociateVPCWithHostedZone',
    'DisassociateVPCFromHostedZone',
    'CreateHealthCheck',
    'DeleteHealthCheck',
    'UpdateHealthCheck',
  ]),
  elbv2: new Set([
    'CreateLoadBalancer',
    'DeleteLoadBalancer',
    'CreateListener',
    'DeleteListener',
    'ModifyListener',
    'AddListenerCertificates',
    'RemoveListenerCertificates',
    'CreateRule',
    'DeleteRule',
    'ModifyRule',
    'SetRulePriorities',
    'CreateTargetGroup',
    'DeleteTargetGroup',
    'ModifyTargetGroup',
    'ModifyTargetGroupAttributes',
    'ModifyLoadBalancerAttributes',
    'RegisterTargets',
    'DeregisterTargets',
    'AddTags',
    'RemoveTags',
    'SetSecurityGroups',
    'SetSubnets',
    'SetIpAddressType',
  ]),
};

export function isMutating(service: AwsService, operation: string): boolean {
  if (MUTATING[service].has(operation)) return true;
  return !/^(List|Describe|Get)[A-Z]/.test(operation);
}

// Metrics, registered once on the shared registry (a module loaded twice must not throw).
function counter<T extends string>(name: string, help: string, labelNames: readonly T[]): Counter<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<T>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

const callsTotal = counter('gateway_orchestrator_aws_calls_total', 'AWS API calls (each attempt), by outcome and whether the operation mutates.', [
  'service',
  'operation',
  'outcome',
  'mutating',
] as const);
const throttlesTotal = counter('gateway_orchestrator_aws_throttles_total', 'AWS API attempts answered with throttling.', ['service', 'operation'] as const);
const budgetWaitTotal = counter(
  'gateway_orchestrator_aws_budget_wait_seconds_total',
  'Seconds spent waiting for the client-side token bucket before AWS calls.',
  ['service'] as const,
);

export type CallOutcome = 'success' | 'throttled' | 'error';

export interface OperationCounts {
  service: AwsService;
  operation: string;
  mutating: boolean;
  success: number;
  throttled: number;
  error: number;
}

export interface AwsCallCounts {
  /** Attempts of mutating operations, whatever their outcome. */
  mutating: number;
  read: number;
  throttled: number;
  /** Keyed "service.Operation", e.g. "route53.ChangeResourceRecordSets". */
  byOperation: Record<string, OperationCounts>;
}

/** The call counters as they stand, read from gateway_orchestrator_aws_calls_total. */
export async function awsCallCounts(): Promise<AwsCallCounts> {
  const metric = await callsTotal.get();
  const counts: AwsCallCounts = { mutating: 0, read: 0, throttled: 0, byOperation: {} };
  for (const { labels, value } of metric.values) {
    const service = String(labels['service']) as AwsService;
    const operation = String(labels['operation']);
    const outcome = String(labels['outcome']) as CallOutcome;
    const mutating = labels['mutating'] === 'true';
    const key = `${service}.${operation}`;
    const op = (counts.byOperation[key] ??= { service, operation, mutating, success: 0, throttled: 0, error: 0 });
    op[outcome] += value;
    if (mutating) counts.mutating += value;
    else counts.read += value;
    if (outcome === 'throttled') counts.throttled += value;
  }
  return counts;
}

/** What happened between two readings of awsCallCounts() (operations with no new calls are left out). */
export function diffAwsCallCounts(before: AwsCallCounts, after: AwsCallCounts): AwsCallCounts {
  const diff: AwsCallCounts = {
    mutating: after.mutating - before.mutating,
    read: after.read - before.read,
    throttled: after.throttled - before.throttled,
    byOperation: {},
  };
  for (const [key, op] of Object.entries(after.byOperation)) {
    const prev = before.byOperation[key];
    const d = { ...op, success: op.success - (prev?.success ?? 0), throttled: op.throttled - (prev?.throttled ?? 0), error: op.error - (prev?.error ?? 0) };
    if (d.success + d.throttled + d.error !== 0) diff.byOperation[key] = d;
  }
  return diff;
}

export interface ServiceBudget {
  service: AwsService;
  bucket: TokenBucket;
  retry: RetryOptions;
  clock: Clock;
  /** False for clients that only inspect AWS in tests, so they stay out of the call counters. */
  counted: boolean;
}

export interface BudgetOptions {
  clock?: Clock;
  retry?: Partial<RetryOptions>;
  /** Tokens saved up at most; default one second's worth of the rate (at least 1). */
  burst?: number;
  /** Count calls in the metrics (default true). */
  counted?: boolean;
}

export function createServiceBudget(service: AwsService, ratePerSecond: number, options: BudgetOptions = {}): ServiceBudget {
  const clock = options.clock ?? systemClock;
  const burst = options.burst ?? Math.max(1, Math.ceil(ratePerSecond));
  return { service, bucket: new TokenBucket(ratePerSecond, burst, clock), retry: { ...DEFAULT_RETRY, ...options.retry }, clock, counted: options.counted ?? true };
}

/**
 * Runs one logical AWS call under the budget: a token before each attempt, retries with full
 * jitter on throttling and transient errors, every attempt counted. The last error surfaces.
 */
export async function callWithBudget<T>(budget: ServiceBudget, operation: string, attempt: () => Promise<T>): Promise<T> {
  const { service, retry, counted } = budget;
  const mutating = String(isMutating(service, operation));
  for (let n = 1; ; n++) {
    const waited = await budget.bucket.take();
    if (waited > 0 && counted) budgetWaitTotal.inc({ service }, waited / 1000);
    try {
      const result = await attempt();
      if (counted) callsTotal.inc({ service, operation, outcome: 'success', mutating });
      return result;
    } catch (err) {
      const kind = classifyAwsError(err);
      if (counted) {
        callsTotal.inc({ service, operation, outcome: kind === 'throttled' ? 'throttled' : 'error', mutating });
        if (kind === 'throttled') throttlesTotal.inc({ service, operation });
      }
      if (kind === 'fatal' || n >= retry.maxAttempts) throw err;
      const delay = backoffDelayMs(n - 1, retry);
      log.debug({ service, operation, attempt: n, kind, delayMs: delay, error: (err as Error).name }, 'retrying AWS call');
      await budget.clock.sleep(delay);
    }
  }
}

/** The part of an SDK v3 client the budget needs: its middleware stack. */
export interface MiddlewareClient {
  middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; priority?: 'high' | 'normal' | 'low'; override?: boolean }): void;
  };
}

/**
 * Puts every command sent through `client` under `budget`. Construct the client with
 * `maxAttempts: 1` so the SDK's own retries do not hide attempts from the budget and counters.
 */
export function attachBudget<C extends MiddlewareClient>(client: C, budget: ServiceBudget): C {
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    (args: unknown): Promise<unknown> => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      return callWithBudget(budget, operation, () => next(args));
    };
  client.middlewareStack.add(middleware, { step: 'initialize', name: 'gatewayOrchestratorAwsBudget', priority: 'high', override: true });
  return client;
}
