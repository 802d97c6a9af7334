// Shared bits of the AWS adapter tests that run against a real moto server: AWS_ENDPOINT_URL
// when set (any moto, e.g. one started by hand), else the project's local environment
// (test/helpers). Every test makes its own zones and names, so tests never see each other's
// records and need no reset.

import { randomBytes } from 'node:crypto';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import type { PlatformConfig } from '../../policy/config.js';
import { awsClientConfig } from '../helpers/index.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['AWS_ACCESS_KEY_ID'] ??= 'testing';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'testing';

export const REGION = process.env['AWS_REGION'] ?? 'eu-central-1';

/** The AWS config for the adapters: rates high enough that the budget never slows a test. */
export async function motoAwsConfig(): Promise<PlatformConfig['aws']> {
  const rates = { route53: 50, acm: 50, elbv2: 50 };
  const endpoint = process.env['AWS_ENDPOINT_URL'];
  if (endpoint) return { region: REGION, endpoint, rates };
  const local = await awsClientConfig();
  process.env['AWS_ACCESS_KEY_ID'] = local.credentials.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = local.credentials.secretAccessKey;
  return { region: local.region, endpoint: local.endpoint, rates };
}

/** A short random suffix for names that must not collide across runs against one moto. */
export function unique(): string {
  return randomBytes(4).toString('hex');
}

/** A fresh public hosted zone "<unique>.<apex>"; returns its id without "/hostedzone/". */
export async function createTestZone(aws: PlatformConfig['aws'], apex = 'adapter-test.example'): Promise<{ id: string; name: string }> {
  const client = new Route53Client({ region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) });
  const name = `z${unique()}.${apex}`;
  const made = await client.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `adapter-test-${unique()}` }));
  client.destroy();
  const id = made.HostedZone?.Id?.replace(/^\/hostedzone\//, '');
  if (!id) throw new Error('CreateHostedZone returned no id');
  return { id, name };
}
