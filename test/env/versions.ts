// Every pinned version of the local environment, in one place.
// kube-apiserver, kubectl and etcd are pinned in localkube/go.mod (built by build-localkube.sh).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDir } from './paths.js';

/** Gateway API CRDs, standard channel: what an EKS cluster with the Gateway API installed serves. */
export const GATEWAY_API = {
  module: 'sigs.k8s.io/gateway-api',
  version: 'v1.4.1',
  crdDir: 'config/crd/standard',
} as const;

/** The AWS Load Balancer Controller's LoadBalancerConfiguration CRD (group gateway.k8s.aws). */
export const AWS_LOAD_BALANCER_CONTROLLER = {
  module: 'sigs.k8s.io/aws-load-balancer-controller',
  version: 'v0.0.0-20260423195125-93ff3b5fdaad',
  crdFiles: ['config/crd/gateway/gateway.k8s.aws_loadbalancerconfigurations.yaml'],
} as const;

/** moto, the AWS emulator, installed from PyPI into a cached venv. */
export const MOTO_VERSION = '5.2.1';

/** The Kubernetes release the local control plane runs, read from the wrapper module. */
export function kubernetesVersion(): string {
  const goMod = readFileSync(join(envDir, 'localkube', 'go.mod'), 'utf8');
  const match = /^\s*k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)\s*$/m.exec(goMod);
  if (!match?.[1]) throw new Error('cannot read the pinned k8s.io/kubernetes version from test/env/localkube/go.mod');
  return match[1];
}
