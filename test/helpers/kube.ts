// Kubernetes access for tests: the admin identity (client certificate in system:masters),
// our own kubectl (same version as the API server), YAML apply and namespaces.

import { spawn } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { getEnv } from './env.js';
import { uniqueName } from './names.js';

/** KubeConfig of the admin (user "admin", group system:masters). */
export async function adminKubeConfig(): Promise<k8s.KubeConfig> {
  const env = await getEnv();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}

/** An API client acting as the admin, e.g. `await adminApi(k8s.CoreV1Api)`. */
export async function adminApi<T extends k8s.ApiType>(api: k8s.ApiConstructor<T>): Promise<T> {
  return (await adminKubeConfig()).makeApiClient(api);
}

export interface KubectlOptions {
  /** Impersonate this user (`--as`), with the admin's credentials unless `kubeconfig` is given. */
  as?: string;
  /** Impersonated groups (`--as-group`). */
  asGroups?: string[];
  /** Kubeconfig to use; default: the admin's. */
  kubeconfig?: string;
  namespace?: string;
  /** Written to kubectl's stdin (for `-f -`). */
  input?: string;
  /** Throw on a non-zero exit (default true). With false, inspect `code` yourself. */
  check?: boolean;
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class KubectlError extends Error {
  constructor(
    readonly args: string[],
    readonly result: KubectlResult,
  ) {
    super(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'KubectlError';
  }
}

/** Runs our kubectl (the one built with the API server) against the local environment. */
export async function kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const env = await getEnv();
  const full = ['--kubeconfig', options.kubeconfig ?? env.kubeconfig];
  if (options.as) full.push('--as', options.as);
  for (const group of options.asGroups ?? []) full.push('--as-group', group);
  if (options.namespace) full.push('--namespace', options.namespace);
  full.push(...args);
  const result = await new Promise<KubectlResult>((resolve, reject) => {
    const child = spawn(env.kubectl, full, { stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
    child.stdin.end(options.input ?? '');
  });
  if (options.check !== false && result.code !== 0) throw new KubectlError(args, result);
  return result;
}

type Manifest = string | object | object[];

export function toYaml(manifest: Manifest): string {
  if (typeof manifest === 'string') return manifest;
  const docs = Array.isArray(manifest) ? manifest : [manifest];
  return docs.map((doc) => stringify(doc)).join('---\n');
}

/** `kubectl apply -f -` with YAML text or objects; `serverSide` uses server-side apply. */
export async function applyYaml(
  manifest: Manifest,
  options: Omit<KubectlOptions, 'input'> & { serverSide?: boolean } = {},
): Promise<KubectlResult> {
  const { serverSide, ...rest } = options;
  const args = ['apply', ...(serverSide ? ['--server-side', '--force-conflicts'] : []), '-f', '-'];
  return kubectl(args, { ...rest, input: toYaml(manifest) });
}

/** True when `err` is an API error with this HTTP status (e.g. 403, 404, 409). */
export function isApiStatus(err: unknown, code: number): boolean {
  return err instanceof k8s.ApiException && err.code === code;
}

/**
 * Creates a namespace (a unique one when no name is given) and returns its name. The API server
 * sets the label kubernetes.io/metadata.name itself. An existing namespace is fine.
 * Note: there is no kube-controller-manager, so a deleted namespace stays Terminating.
 */
export async function createNamespace(name = uniqueName('ns'), labels: Record<string, string> = {}): Promise<string> {
  const core = await adminApi(k8s.CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  } catch (err) {
    if (!isApiStatus(err, 409)) throw err;
  }
  return name;
}
