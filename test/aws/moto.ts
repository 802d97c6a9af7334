// Shared bits of the AWS adapter tests that run against a real moto server. The endpoint comes
// from AWS_ENDPOINT_URL (the local environment provides it). Without it the tests skip, except
// under CI, where a missing emulator is a failure rather than a silent pass.
// Every test makes its own zones and names, so tests never see each other's records.

import { randomBytes } from 'node:crypto';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import type { PlatformConfig } from '../../policy/config.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
process.env['AWS_ACCESS_KEY_ID'] ??= 'testing';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'testing';

export const REGION = process.env['AWS_REGION'] ?? 'eu-central-1';

interface Skippable {
  plan(n: number, reason?: string): void;
  fail(message: string): void;
}

/** The AWS config for the adapters, or undefined after marking `t` skipped (failed under CI). */
export function motoAwsConfig(t: Skippable): PlatformConfig['aws'] | undefined {
  const endpoint = process.env['AWS_ENDPOINT_URL'];
  if (endpoint) return { region: REGION, endpoint, rates: { route53: 50, acm: 50, elbv2: 50 } };
  if (process.env['CI']) {
    t.fail('AWS_ENDPOINT_URL is not set: the local AWS emulator (moto) is required under CI');
  } else {
    t.plan(0, 'AWS_ENDPOINT_URL is not set: start moto (npm run env:up, or moto_server) and export it');
  }
  return undefined;
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
