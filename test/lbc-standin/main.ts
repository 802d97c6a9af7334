// CLI for the AWS Load Balancer Controller stand-in (local environment and tests only):
//   tsx test/lbc-standin/main.ts [--interval-ms 1000] [--gateway-class NAME ...] [--controller-name NAME] [--namespace NS]
// Kubernetes from KUBECONFIG (or the default chain); AWS from AWS_ENDPOINT_URL (moto; required,
// the stand-in refuses to touch real AWS), AWS_REGION (default eu-central-1) and the usual
// credential variables. LBC_STANDIN_AWS_ENDPOINT overrides the endpoint, so the stand-in can
// talk to moto directly while the orchestrator goes through a fault-injecting proxy.

import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { log } from '../../server/log.js';
import { AwsLoadBalancerControllerStandIn } from './standin.js';

const { values } = parseArgs({
  options: {
    'interval-ms': { type: 'string', default: '1000' },
    'gateway-class': { type: 'string', multiple: true, default: [] },
    'controller-name': { type: 'string' },
    namespace: { type: 'string' },
  },
});

const endpoint = process.env['LBC_STANDIN_AWS_ENDPOINT'] ?? process.env['AWS_ENDPOINT_URL'];
if (!endpoint) {
  console.error('lbc-standin: set AWS_ENDPOINT_URL (or LBC_STANDIN_AWS_ENDPOINT) to the local AWS emulator; the stand-in never runs against real AWS');
  process.exit(2);
}
const intervalMs = Number(values['interval-ms']);
if (!Number.isFinite(intervalMs) || intervalMs < 50) {
  console.error(`lbc-standin: --interval-ms must be a number >= 50, got ${values['interval-ms']}`);
  process.exit(2);
}

const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();

const standIn = new AwsLoadBalancerControllerStandIn({
  kubeConfig,
  aws: { region: process.env['AWS_REGION'] ?? 'eu-central-1', endpoint },
  gatewayClassNames: values['gateway-class'] ?? [],
  ...(values['controller-name'] ? { controllerName: values['controller-name'] } : {}),
  ...(values.namespace ? { namespace: values.namespace } : {}),
  intervalMs,
});

log.info({ endpoint, intervalMs, gatewayClasses: values['gateway-class'] }, 'AWS Load Balancer Controller stand-in starting');
standIn.start();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'AWS Load Balancer Controller stand-in stopping');
    void standIn.stop().then(() => process.exit(0));
  });
}
