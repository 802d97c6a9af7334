// What a platform team applies once per cluster, applied to the local environment for the dev
// orchestrator and the demo: manifests/platform/ (GatewayClass aws-alb, pool namespace edge).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EnvState } from '../../test/env/state.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The local environment's kubectl; `kubeconfig` defaults to the admin's. */
export function kubectl(env: EnvState, args: string[], options: { kubeconfig?: string; input?: string } = {}): Promise<KubectlRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(env.kubectl, ['--kubeconfig', options.kubeconfig ?? env.kubeconfig, ...args], { cwd: repoRoot, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

export async function kubectlOk(env: EnvState, args: string[], options: { kubeconfig?: string; input?: string } = {}): Promise<string> {
  const result = await kubectl(env, args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

export async function applyPlatformPart(env: EnvState): Promise<void> {
  await kubectlOk(env, ['apply', '-k', 'manifests/platform/']);
}
