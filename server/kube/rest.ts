// A thin REST client for the Kubernetes API: JSON in and out, one keep-alive agent, typed errors.
// The generated client is awkward for patches, dry-run and server-side apply; this stays explicit.
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter } from 'prom-client';
import { registry } from '../metrics.js';
import { connectionFromClientKubeConfig, type KubeConnection } from './connection.js';

/** Every request to the API server, as client-go's rest_client_requests_total counts them. */
export const kubeRequestsTotal = new Counter({
  name: 'gateway_orchestrator_kube_requests_total',
  help: 'Requests to the Kubernetes API server by verb (GET, POST, PUT, PATCH, DELETE, WATCH), resource (plural[/subresource]) and HTTP status code ("error": no response).',
  labelNames: ['verb', 'resource', 'code'] as const,
  registers: [registry],
});

/** Requests so far by "VERB resource", all status codes together (benchmarks diff two of these). */
export async function kubeRequestCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await kubeRequestsTotal.get()).values) {
    const key = `${v.labels['verb']} ${v.labels['resource']}`;
    counts[key] = (counts[key] ?? 0) + v.value;
  }
  return counts;
}

/**
 * The resource a path names: `gatewayhostnamerequests/status` for
 * /apis/<group>/<version>/namespaces/<ns>/gatewayhostnamerequests/<name>/status, `leases` for a
 * Lease, `namespaces` for a namespace. A bounded label: plural and subresource, never names.
 */
export function resourceOf(pathname: string): string {
  const parts = pathname.split('/').filter(Boolean);
  let rest = parts.slice(parts[0] === 'api' ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [plural = '', , subresource] = rest;
  return subresource ? `${plural}/${subresource}` : plural;
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409 && err.reason === 'Conflict';
export const isAlreadyExists = (err: unknown): boolean => err instanceof KubeError && err.status === 409 && err.reason === 'AlreadyExists';

export type PatchType = 'merge' | 'json' | 'apply';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  force?: boolean;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /** Resolves when the server ends the watch (its timeout), rejects on an HTTP or stream error. */
  done: Promise<void>;
  abort(): void;
}

export class KubeRest {
  private readonly agent: https.Agent;

  private constructor(private readonly connection: KubeConnection) {
    const { ca, cert, key, rejectUnauthorized, servername } = connection.tls;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca, cert, key, rejectUnauthorized, ...(servername ? { servername } : {}) });
  }

  static connect(connection: KubeConnection): KubeRest {
    return new KubeRest(connection);
  }

  /** From a client-node KubeConfig (tests and tools; the orchestrator loads its own connection). */
  static async fromKubeConfig(kubeConfig: KubeConfig): Promise<KubeRest> {
    return new KubeRest(await connectionFromClientKubeConfig(kubeConfig));
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  list<T>(path: string, query: Record<string, string> = {}): Promise<{ items: T[]; metadata: { resourceVersion?: string; continue?: string } }> {
    return this.request('GET', withQuery(path, query));
  }

  create<T>(path: string, body: unknown, options: WriteOptions = {}): Promise<T> {
    return this.request<T>('POST', withQuery(path, writeQuery(options)), body);
  }

  replace<T>(path: string, body: unknown, options: WriteOptions = {}): Promise<T> {
    return this.request<T>('PUT', withQuery(path, writeQuery(options)), body);
  }

  patch<T>(path: string, type: PatchType, body: unknown, options: WriteOptions = {}): Promise<T> {
    return this.request<T>('PATCH', withQuery(path, writeQuery(options)), body, PATCH_CONTENT_TYPE[type]);
  }

  delete<T>(path: string, options: WriteOptions & { preconditionUid?: string; preconditionResourceVersion?: string } = {}): Promise<T> {
    const preconditions = {
      ...(options.preconditionUid ? { uid: options.preconditionUid } : {}),
      ...(options.preconditionResourceVersion ? { resourceVersion: options.preconditionResourceVersion } : {}),
    };
    const body = Object.keys(preconditions).length ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions } : undefined;
    return this.request<T>('DELETE', withQuery(path, writeQuery(options)), body);
  }

  /**
   * Streams a watch: `onEvent` gets each event in order. The server ends the watch after
   * `timeoutSeconds`; an ERROR event (e.g. 410 Gone: resourceVersion too old) is passed on as is.
   */
  watch<T>(path: string, query: Record<string, string>, timeoutSeconds: number, onEvent: (event: WatchEvent<T>) => void): WatchHandle {
    const url = new URL(withQuery(path, { ...query, watch: 'true', timeoutSeconds: String(timeoutSeconds) }), this.connection.server);
    let req: ClientRequest | undefined;
    const done = new Promise<void>((resolve, reject) => {
      req = https.request(
        url,
        // A quiet watch is legitimate; a socket silent well past the server's own timeout is dead.
        { agent: this.agent, method: 'GET', headers: { ...this.connection.headers(), accept: 'application/json' }, timeout: (timeoutSeconds + 30) * 1000 },
        (res) => {
          const status = res.statusCode ?? 0;
          kubeRequestsTotal.inc({ verb: 'WATCH', resource: resourceOf(url.pathname), code: String(status) });
          res.setEncoding('utf8');
          if (status < 200 || status >= 300) {
            let text = '';
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => reject(kubeErrorOf('WATCH', url, status, text)));
            res.on('error', reject);
            return;
          }
          let pending = '';
          res.on('data', (chunk: string) => {
            pending += chunk;
            let newline: number;
            while ((newline = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, newline);
              pending = pending.slice(newline + 1);
              if (line.trim() === '') continue;
              try {
                onEvent(JSON.parse(line) as WatchEvent<T>);
              } catch (err) {
                req?.destroy(err instanceof Error ? err : new Error(String(err)));
                return;
              }
            }
          });
          res.on('end', () => resolve());
          res.on('aborted', () => reject(new Error(`WATCH ${url.pathname}: connection closed`)));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req?.destroy(new Error(`WATCH ${url.pathname}: no data for ${timeoutSeconds + 30} s`)));
      req.on('error', reject);
      req.end();
    });
    return { done, abort: () => req?.destroy(new WatchAborted()) };
  }

  private request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.connection.server);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          agent: this.agent,
          method,
          headers: {
            ...this.connection.headers(),
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': String(payload.length) } : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            kubeRequestsTotal.inc({ verb: method, resource: resourceOf(url.pathname), code: String(status) });
            if (status >= 200 && status < 300) {
              try {
                resolve((text ? JSON.parse(text) : undefined) as T);
              } catch {
                resolve(undefined as T);
              }
              return;
            }
            reject(kubeErrorOf(method, url, status, text));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', (err) => {
        kubeRequestsTotal.inc({ verb: method, resource: resourceOf(url.pathname), code: 'error' });
        reject(err);
      });
      if (payload) req.write(payload);
      req.end();
    });
  }
}

/** A watch ended by its owner (`abort`), not by the server or the network. */
export class WatchAborted extends Error {
  override name = 'WatchAborted';
  constructor() {
    super('watch aborted');
  }
}

function kubeErrorOf(method: string, url: URL, status: number, text: string): KubeError {
  let parsed: { reason?: string; message?: string; details?: unknown } = {};
  try {
    parsed = (text ? JSON.parse(text) : {}) as typeof parsed;
  } catch {
    // not a Status: keep the text
  }
  return new KubeError(status, parsed.reason ?? 'Unknown', `${method} ${url.pathname}: ${status} ${parsed.message ?? text.slice(0, 300)}`, parsed.details);
}

function writeQuery(options: WriteOptions): Record<string, string> {
  const query: Record<string, string> = {};
  if (options.dryRun) query['dryRun'] = 'All';
  if (options.fieldManager) query['fieldManager'] = options.fieldManager;
  if (options.force) query['force'] = 'true';
  return query;
}

function withQuery(path: string, query: Record<string, string>): string {
  const entries = Object.entries(query);
  if (entries.length === 0) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${new URLSearchParams(entries).toString()}`;
}

/** API paths of the kinds the orchestrator touches. */
export const paths = {
  requests: (ns?: string, name?: string) =>
    `/apis/gateway-orchestrator.io/v1alpha1${ns ? `/namespaces/${ns}` : ''}/gatewayhostnamerequests${name ? `/${name}` : ''}`,
  requestStatus: (ns: string, name: string) => `/apis/gateway-orchestrator.io/v1alpha1/namespaces/${ns}/gatewayhostnamerequests/${name}/status`,
  claims: (name?: string) => `/apis/gateway-orchestrator.io/v1alpha1/domainclaims${name ? `/${name}` : ''}`,
  claimStatus: (name: string) => `/apis/gateway-orchestrator.io/v1alpha1/domainclaims/${name}/status`,
  grants: (name?: string) => `/apis/gateway-orchestrator.io/v1alpha1/hostnamegrants${name ? `/${name}` : ''}`,
  gateways: (ns?: string, name?: string) =>
    `/apis/gateway.networking.k8s.io/v1${ns ? `/namespaces/${ns}` : ''}/gateways${name ? `/${name}` : ''}`,
  gatewayClasses: (name?: string) => `/apis/gateway.networking.k8s.io/v1/gatewayclasses${name ? `/${name}` : ''}`,
  lbConfigs: (ns?: string, name?: string) =>
    `/apis/gateway.k8s.aws/v1beta1${ns ? `/namespaces/${ns}` : ''}/loadbalancerconfigurations${name ? `/${name}` : ''}`,
  events: (ns: string, name?: string) => `/apis/events.k8s.io/v1/namespaces/${ns}/events${name ? `/${name}` : ''}`,
  leases: (ns: string, name?: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases${name ? `/${name}` : ''}`,
  secrets: (ns: string, name?: string) => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`,
  validatingWebhooks: (name?: string) => `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations${name ? `/${name}` : ''}`,
  mutatingWebhooks: (name?: string) => `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations${name ? `/${name}` : ''}`,
};
