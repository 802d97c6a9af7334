// AdmissionReview in and out, and the decorators every handler is wrapped in: errors become a
// fail-closed answer, every decision is measured, every denial is logged and recorded as an Event.
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from 'prom-client';
import type { AdmissionRequest, Allow, Decision } from '../../policy/admission.js';
import type { Logger } from '../log.js';
import { registry } from '../metrics.js';
import type { EventRecorder } from './events.js';
import { isPending, type Handler } from './handlers.js';

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
    patchType?: 'JSONPatch';
    patch?: string;
  };
}

/** Either the request inside a review, or why the body is not an AdmissionReview (answered with 400). */
export function parseAdmissionReview(body: unknown): AdmissionRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object';
  const review = body as Record<string, unknown>;
  if (review['apiVersion'] !== 'admission.k8s.io/v1') return 'apiVersion must be admission.k8s.io/v1';
  if (review['kind'] !== 'AdmissionReview') return 'kind must be AdmissionReview';
  const request = review['request'];
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return 'request is missing';
  const r = request as Record<string, unknown>;
  if (typeof r['uid'] !== 'string' || r['uid'] === '') return 'request.uid is missing';
  if (!isRef(r['kind'], ['group', 'version', 'kind'])) return 'request.kind must have group, version and kind';
  if (!isRef(r['resource'], ['group', 'version', 'resource'])) return 'request.resource must have group, version and resource';
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(r['operation'] as string)) return 'request.operation is not one of CREATE, UPDATE, DELETE, CONNECT';
  const user = r['userInfo'];
  if (typeof user !== 'object' || user === null || typeof (user as Record<string, unknown>)['username'] !== 'string') return 'request.userInfo.username is missing';
  const groups = (user as Record<string, unknown>)['groups'];
  if (groups !== undefined && (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string'))) return 'request.userInfo.groups must be a list of strings';
  for (const field of ['name', 'namespace', 'subResource'] as const) {
    if (r[field] !== undefined && typeof r[field] !== 'string') return `request.${field} must be a string`;
  }
  if (r['dryRun'] !== undefined && typeof r['dryRun'] !== 'boolean') return 'request.dryRun must be a boolean';
  return request as AdmissionRequest;
}

function isRef(value: unknown, fields: string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return fields.every((f) => typeof v[f] === 'string');
}

export function toReview(uid: string, decision: Decision): AdmissionReviewResponse {
  if (decision.allowed) {
    return {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid,
        allowed: true,
        ...(decision.warnings ? { warnings: decision.warnings } : {}),
        ...(decision.patch ? { patchType: 'JSONPatch' as const, patch: encodePatch(decision.patch) } : {}),
      },
    };
  }
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { code: decision.code, message: decision.message, reason: decision.reason } },
  };
}

/**
 * The answer as JSON text, written out for an allowed decision (every review but a denial): the
 * same bytes JSON.stringify(toReview(...)) makes, without building the object first and without
 * scanning the base64 patch for characters to escape (base64 has none).
 */
export function toReviewJson(uid: string, decision: Decision): string {
  if (!decision.allowed) return JSON.stringify(toReview(uid, decision));
  let json = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true`;
  if (decision.warnings) json += `,"warnings":${JSON.stringify(decision.warnings)}`;
  if (decision.patch) json += `,"patchType":"JSONPatch","patch":"${encodePatch(decision.patch)}"`;
  return `${json}}}`;
}

/** A JSON patch as the AdmissionReview carries it: its JSON, base64. */
function encodePatch(patch: NonNullable<Allow['patch']>): string {
  return Buffer.from(JSON.stringify(patch)).toString('base64');
}

type Label = 'webhook' | 'kind' | 'operation' | 'outcome';
const LABEL_NAMES = ['webhook', 'kind', 'operation', 'outcome'] as const;
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * One label set of the admission metrics, counted by hand: prom-client's `inc` and `observe` check
 * and hash their label object on every call (about 2 µs a review together, against a few field
 * updates here). The counter is handed its increments when scraped (its collect hook); the
 * histogram's values are read from here (AdmissionDurationHistogram).
 */
class Series {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); past the last bound they count in `count` only. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  /** How many of `count` the prom-client counter has been given. */
  counted = 0;

  constructor(readonly labels: Readonly<Record<Label, string>>) {}

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }
}

const series = new Map<string, Series>();

function seriesFor(webhook: string, kind: string, operation: string, outcome: string): Series {
  const key = `${webhook}\u0000${kind}\u0000${operation}\u0000${outcome}`;
  let found = series.get(key);
  if (found === undefined) {
    found = new Series({ webhook, kind, operation, outcome });
    series.set(key, found);
  }
  return found;
}

const requests = new Counter({
  name: 'gateway_orchestrator_admission_requests_total',
  help: 'Admission reviews answered, by kind, operation and outcome (allowed, denied, error).',
  labelNames: LABEL_NAMES,
  registers: [registry],
  collect() {
    for (const s of series.values()) {
      if (s.count > s.counted) this.inc(s.labels, s.count - s.counted);
      s.counted = s.count;
    }
  },
});

/**
 * prom-client's Histogram (name, help, labels, buckets, type), with its values kept in `series`
 * (withMetrics). Not exported: nothing observes into it.
 */
class AdmissionDurationHistogram extends Histogram<Label> {
  override async get(): Promise<Awaited<ReturnType<Histogram<Label>['get']>>> {
    const self = this as unknown as { name: string; help: string; type: string; aggregator: string };
    const name = self.name;
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of series.values()) {
      let cumulative = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { le: DURATION_BUCKETS[i]!, ...s.labels }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${name}_count` });
    }
    return { name, help: self.help, type: self.type, values, aggregator: self.aggregator } as unknown as Awaited<ReturnType<Histogram<Label>['get']>>;
  }

  /** The registry prefers this to get(); the values are the same. */
  async getForPromString(): Promise<Awaited<ReturnType<Histogram<Label>['get']>>> {
    return this.get();
  }

  override reset(): void {
    for (const s of series.values()) {
      s.count = 0;
      s.sum = 0;
      s.buckets.fill(0);
      s.counted = 0;
    }
    requests.reset();
  }
}

new AdmissionDurationHistogram({
  name: 'gateway_orchestrator_admission_duration_seconds',
  help: 'Time to decide one admission review.',
  labelNames: LABEL_NAMES,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export interface AuditDeps {
  log: Logger;
  events: EventRecorder | undefined;
}

/**
 * Where Events about cluster-scoped objects (DomainClaim, HostnameGrant) go: the API server accepts
 * an Event whose object has no namespace only in `default` (or `kube-system`), as for Nodes.
 */
export const CLUSTER_SCOPED_EVENT_NAMESPACE = 'default';

/** Exceptions become a fail-closed denial with a clear "retry" message (never a crash, never an allow). */
export function withErrors(handler: Handler, log: Logger): Handler {
  const failed = (request: AdmissionRequest, err: unknown): Decision => {
    log.error({ err: String(err), uid: request.uid, kind: request.kind.kind }, 'admission handler failed');
    return {
      allowed: false,
      code: 500,
      reason: 'InvalidRequest',
      message: `gateway-orchestrator could not decide this request (${String(err instanceof Error ? err.message : err).slice(0, 200)}); nothing was changed, retry in a moment.`,
    };
  };
  return (request) => {
    let result: Decision | Promise<Decision>;
    try {
      result = handler(request);
    } catch (err) {
      return failed(request, err);
    }
    return isPending(result) ? result.then(undefined, (err: unknown) => failed(request, err)) : result;
  };
}

export function withMetrics(webhook: string, handler: Handler): Handler {
  // Reviews come in runs of one kind, operation and outcome: the last series found answers most.
  let last: Series | undefined;
  const record = (request: AdmissionRequest, decision: Decision, start: number): Decision => {
    const outcome = decision.allowed ? 'allowed' : decision.code >= 500 ? 'error' : 'denied';
    const kind = request.kind.kind;
    const operation = request.operation;
    let s = last;
    if (s === undefined || s.labels.kind !== kind || s.labels.operation !== operation || s.labels.outcome !== outcome) {
      s = last = seriesFor(webhook, kind, operation, outcome);
    }
    s.observe((performance.now() - start) / 1e3);
    return decision;
  };
  return (request) => {
    const start = performance.now();
    const result = handler(request);
    return isPending(result) ? result.then((decision) => record(request, decision, start)) : record(request, result, start);
  };
}

/** Every denial: one structured log line with the requesting user, and an Event for the requester. */
export function withAudit(webhook: string, handler: Handler, deps: AuditDeps): Handler {
  const audit = (request: AdmissionRequest, decision: Decision): Decision => {
    // An allowed review is logged at debug only: build nothing for it unless that is on.
    if (decision.allowed && !deps.log.isLevelEnabled('debug')) return decision;
    const object = (request.object ?? request.oldObject ?? {}) as { apiVersion?: string; metadata?: { name?: string; uid?: string } };
    const name = request.name || object.metadata?.name || '';
    const entry = {
      webhook,
      uid: request.uid,
      user: request.userInfo.username,
      groups: request.userInfo.groups,
      operation: request.operation,
      kind: request.kind.kind,
      subResource: request.subResource,
      namespace: request.namespace,
      name,
      dryRun: request.dryRun === true,
      decision: decision.allowed ? 'allowed' : 'denied',
    };
    if (decision.allowed) {
      deps.log.debug(entry, 'admission allowed');
      return decision;
    }
    deps.log.info({ ...entry, reason: decision.reason, hostname: decision.hostname, message: decision.message }, 'admission denied');
    if (deps.events && request.dryRun !== true) {
      deps.events.record({
        namespace: request.namespace || CLUSTER_SCOPED_EVENT_NAMESPACE,
        regarding: {
          apiVersion: `${request.kind.group ? `${request.kind.group}/` : ''}${request.kind.version}`,
          kind: request.kind.kind,
          name,
          ...(request.namespace ? { namespace: request.namespace } : {}),
        },
        type: 'Warning',
        reason: decision.reason,
        action: 'Denied',
        note: `${decision.message} (user ${request.userInfo.username})`,
      });
    }
    return decision;
  };
  return (request) => {
    const result = handler(request);
    return isPending(result) ? result.then((decision) => audit(request, decision)) : audit(request, result);
  };
}
