// The AWS adapters wired together: one SDK client per service, each under its own budget
// (token bucket at the configured rate, retries, counters). Credentials come from the SDK's
// default chain (environment, web identity / IRSA, instance role).

import { ACMClient } from '@aws-sdk/client-acm';
import { Route53Client } from '@aws-sdk/client-route-53';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { PlatformConfig } from '../../policy/config.js';
import type { AwsPorts } from '../ports.js';
import { AcmAdapter } from './acm.js';
import { Route53Adapter } from './route53.js';
import { Elbv2Adapter } from './elbv2.js';
import { attachBudget, createServiceBudget, type Clock, type RetryOptions, type ServiceBudget } from './budget.js';

export { awsCallCounts, diffAwsCallCounts, type AwsCallCounts, type OperationCounts } from './budget.js';
export { AcmAdapter } from './acm.js';
export { Route53Adapter, ChangeBatchTooLargeError, CHANGE_BATCH_LIMITS, changeBatchCost } from './route53.js';
export { Elbv2Adapter } from './elbv2.js';

export interface AwsPortsOptions {
  clock?: Clock;
  retry?: Partial<RetryOptions>;
  /** Per-attempt limits; a hung connection becomes a retried transient error. */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * False for ports that only inspect AWS (tests checking moto), so their calls stay out of the
   * call counters that prove "zero mutating calls". Default true.
   */
  countCalls?: boolean;
}

export interface AwsClients {
  acm: ACMClient;
  route53: Route53Client;
  elbv2: ElasticLoadBalancingV2Client;
  budgets: { acm: ServiceBudget; route53: ServiceBudget; elbv2: ServiceBudget };
}

/** The SDK clients, each under its budget; exported for callers that need a raw client (tests). */
export function createAwsClients(aws: PlatformConfig['aws'], options: AwsPortsOptions = {}): AwsClients {
  const common = {
    region: aws.region,
    ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
    // Retries live in the budget middleware, so every attempt is limited and counted once.
    maxAttempts: 1,
    // Without throwOnRequestTimeout the handler only logs a warning and keeps waiting.
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      throwOnRequestTimeout: true,
    },
  };
  const budgetOptions = {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    counted: options.countCalls ?? true,
  };
  const budgets = {
    acm: createServiceBudget('acm', aws.rates.acm, budgetOptions),
    route53: createServiceBudget('route53', aws.rates.route53, budgetOptions),
    elbv2: createServiceBudget('elbv2', aws.rates.elbv2, budgetOptions),
  };
  return {
    acm: attachBudget(new ACMClient(common), budgets.acm),
    route53: attachBudget(new Route53Client(common), budgets.route53),
    elbv2: attachBudget(new ElasticLoadBalancingV2Client(common), budgets.elbv2),
    budgets,
  };
}

export function createAwsPorts(aws: PlatformConfig['aws'], options: AwsPortsOptions = {}): AwsPorts {
  const clients = createAwsClients(aws, options);
  return {
    acm: new AcmAdapter(clients.acm),
    route53: new Route53Adapter(clients.route53),
    elbv2: new Elbv2Adapter(clients.elbv2),
  };
}
