// A thin REST client for the Kubernetes API: JSON in and out, one keep-alive agent, typed errors.
// The generated client is awkward for patches, dry-run and server-side apply; this stays explicit.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

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

export class KubeRest {
  private constructor(
    private readonly server: URL,
    private readonly requestOptions: https.RequestOptions,
  ) {}

  static async fromKubeConfig(kubeConfig: KubeConfig): Promise<KubeRest> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const options: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(options);
    // applyToHTTPSOptions may set an agent without keep-alive; build our own with the same TLS material.
    const { ca, cert, key, rejectUnauthorized, servername } = options as https.RequestOptions & { servername?: string };
    const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca, cert, key, rejectUnauthorized, servername });
    return new KubeRest(new URL(cluster.server), { headers: options.headers ?? {}, agent });
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

  private request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.server);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          ...this.requestOptions,
          method,
          headers: {
            ...(this.requestOptions.headers as Record<string, string>),
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
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const s = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
            reject(new KubeError(status, s.reason ?? 'Unknown', `${method} ${url.pathname}: ${status} ${s.message ?? text.slice(0, 300)}`, s.details));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }
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
