// Where the API server is and how to authenticate to it: the pod's ServiceAccount in the cluster,
// or a kubeconfig file. Read here rather than through @kubernetes/client-node's KubeConfig: loading
// that module loads the whole generated API client (about 75 MiB of RSS, measured in
// docs/BENCHMARKS.md), of which the orchestrator uses nothing. Kubeconfig users with `exec` or
// `auth-provider` credentials (e.g. `aws eks get-token` on a laptop) are handed to client-node,
// loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

export interface KubeConnection {
  server: URL;
  tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
  /** Headers for the next request (Authorization, if any); rotating tokens are re-read. */
  headers(): Readonly<Record<string, string>>;
  /** Where it came from, for logs (no secrets). */
  source: string;
}

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The kubelet rotates projected ServiceAccount tokens; client-go re-reads the file every minute too. */
const TOKEN_REREAD_MS = 60_000;

export class KubeConnectionError extends Error {
  override name = 'KubeConnectionError';
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const fixedHeaders = (headers: Record<string, string>) => () => headers;

/** A bearer token read from a file, re-read at most once a minute. */
function tokenFromFile(file: string, clock: () => number): () => Readonly<Record<string, string>> {
  let headers = NO_HEADERS;
  let readAt = -Infinity;
  return () => {
    const now = clock();
    if (now - readAt >= TOKEN_REREAD_MS) {
      headers = { authorization: `Bearer ${readFileSync(file, 'utf8').trim()}` };
      readAt = now;
    }
    return headers;
  };
}

/** The pod's ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, token and CA from the mounted volume. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = IN_CLUSTER_DIR, clock: () => number = Date.now): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new KubeConnectionError('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  const headers = tokenFromFile(join(dir, 'token'), clock);
  headers(); // fail now, not on the first request, if the token is missing
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    tls: { ca: readFileSync(join(dir, 'ca.crt')), rejectUnauthorized: true },
    headers,
    source: 'in-cluster ServiceAccount',
  };
}

interface NamedEntry<T> {
  name: string;
  cluster?: T;
  user?: T;
  context?: T;
}

interface KubeconfigFile {
  clusters?: NamedEntry<Record<string, unknown>>[];
  users?: NamedEntry<Record<string, unknown>>[];
  contexts?: NamedEntry<{ cluster?: string; user?: string }>[];
  'current-context'?: string;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * A connection from a kubeconfig file: its current context (or `context`), with certificate and
 * token credentials. Paths in the file are relative to the file, as kubectl reads them.
 */
export async function connectionFromKubeconfigFile(file: string, options: { context?: string; clock?: () => number } = {}): Promise<KubeConnection> {
  const { context, clock = Date.now } = options;
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile;
  const contextName = context ?? doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!ctx) throw new KubeConnectionError(`${file}: context "${contextName ?? ''}" not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new KubeConnectionError(`${file}: cluster "${ctx.cluster ?? ''}" of context "${contextName}" not found`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const server = str(cluster['server']);
  if (!server) throw new KubeConnectionError(`${file}: cluster "${ctx.cluster}" has no server`);

  if (user['exec'] || user['auth-provider']) return viaClientNode(file, contextName);

  const dir = dirname(file);
  const material = (dataKey: string, fileKey: string, from: Record<string, unknown>): Buffer | undefined => {
    const data = str(from[dataKey]);
    if (data) return Buffer.from(data, 'base64');
    const path = str(from[fileKey]);
    return path ? readFileSync(path.startsWith('/') ? path : join(dir, path)) : undefined;
  };
  const token = str(user['token']);
  const tokenFile = str(user['tokenFile']);
  const username = str(user['username']);
  const password = str(user['password']);
  const headers = token
    ? fixedHeaders({ authorization: `Bearer ${token}` })
    : tokenFile
      ? tokenFromFile(tokenFile.startsWith('/') ? tokenFile : join(dir, tokenFile), clock)
      : username && password
        ? fixedHeaders({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` })
        : () => NO_HEADERS;
  const tls: KubeConnection['tls'] = { rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true };
  const ca = material('certificate-authority-data', 'certificate-authority', cluster);
  const cert = material('client-certificate-data', 'client-certificate', user);
  const key = material('client-key-data', 'client-key', user);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  const servername = str(cluster['tls-server-name']);
  if (servername) tls.servername = servername;
  return { server: new URL(server), tls, headers, source: `${file} (context ${contextName})` };
}

/** Credentials that only client-node can produce (exec plugins, auth providers), refreshed each minute. */
async function viaClientNode(file: string, context: string | undefined): Promise<KubeConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(file);
  if (context) kubeConfig.setCurrentContext(context);
  return connectionFromClientKubeConfig(kubeConfig, `${file} (context ${context ?? ''}, credentials from client-node)`);
}

/** Wraps a client-node KubeConfig (tests, tools, exec credentials); its headers are refreshed each minute. */
export async function connectionFromClientKubeConfig(kubeConfig: KubeConfig, source = 'client-node KubeConfig'): Promise<KubeConnection> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new KubeConnectionError('kubeconfig has no current cluster');
  const read = async () => {
    const options: { headers?: Record<string, string>; ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean; servername?: string } = {};
    await kubeConfig.applyToHTTPSOptions(options as never);
    return options;
  };
  const first = await read();
  let headers: Readonly<Record<string, string>> = first.headers ?? NO_HEADERS;
  if (Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    const refresh = setInterval(() => {
      read().then(
        (o) => (headers = o.headers ?? headers),
        () => undefined, // keep the last token; requests fail with 401 and say so if it expired
      );
    }, TOKEN_REREAD_MS);
    refresh.unref();
  }
  const tls: KubeConnection['tls'] = { rejectUnauthorized: first.rejectUnauthorized !== false };
  if (first.ca) tls.ca = first.ca;
  if (first.cert) tls.cert = first.cert;
  if (first.key) tls.key = first.key;
  if (first.servername) tls.servername = first.servername;
  return { server: new URL(cluster.server), tls, headers: () => headers, source };
}

/**
 * What kubectl and client-go would use: $KUBECONFIG (its first file), ~/.kube/config if present,
 * else the pod's ServiceAccount.
 */
export async function loadDefaultConnection(env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection> {
  const fromEnv = env['KUBECONFIG']?.split(':').find((p) => p !== '');
  if (fromEnv) return connectionFromKubeconfigFile(fromEnv);
  const home = join(env['HOME'] ?? homedir(), '.kube', 'config');
  return existsSync(home) ? connectionFromKubeconfigFile(home) : inClusterConnection(env);
}
