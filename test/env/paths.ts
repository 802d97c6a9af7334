// Where the local environment keeps its files. Everything per-run lives under .local/ in the
// checkout; built binaries and the moto venv are cached outside it, shared by every checkout.

import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const envDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(envDir, '..', '..');

export const localDir = join(repoRoot, '.local');
/** Per-run data: etcd data, PKI, logs, tenant kubeconfigs. Removed by `env:down`. */
export const runDir = join(localDir, 'run');
export const statePath = join(localDir, 'env.json');
export const lockPath = join(localDir, 'env.lock');
export const kubeconfigPath = join(localDir, 'kubeconfig');
export const awsEnvPath = join(localDir, 'aws.env');

export function cacheRoot(): string {
  const explicit = process.env['GATEWAY_ORCHESTRATOR_CACHE'];
  if (explicit) return explicit;
  const xdg = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(xdg, 'gateway-orchestrator');
}
