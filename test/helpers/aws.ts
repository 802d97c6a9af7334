// AWS SDK client settings for the local moto, and resetting moto between tests.

import { resetAws } from '../env/local-env.js';
import { getEnv } from './env.js';

// The SDK's notice that its 2027 releases need Node 22 would repeat in every test's output.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

export interface AwsClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Pass to any AWS SDK v3 client: `new Route53Client(await awsClientConfig())`. */
export async function awsClientConfig(): Promise<AwsClientConfig> {
  const { aws } = await getEnv();
  return {
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  };
}

/**
 * Empties moto (certificates, records, load balancers, ...) and re-creates the standard hosted
 * zones opendi.com and in-muenchen.de with their stable ids. Returns zone name -> zone id.
 */
export async function resetMoto(): Promise<Record<string, string>> {
  return resetAws(await getEnv());
}

/** Id (without "/hostedzone/") of a standard hosted zone, e.g. hostedZoneId('opendi.com'). */
export async function hostedZoneId(zone: string): Promise<string> {
  const { aws } = await getEnv();
  const id = aws.zoneIds[zone];
  if (!id) throw new Error(`no standard hosted zone ${zone}; the standard zones are ${Object.keys(aws.zoneIds).join(', ')}`);
  return id;
}
