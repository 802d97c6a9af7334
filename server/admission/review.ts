// AdmissionReview in and out, and the decorators every handler is wrapped in: errors become a
// fail-closed answer, every decision is measured, every denial is logged and recorded as an Event.
import { Counter, Histogram } from 'prom-client';
import type { AdmissionRequest, Decision } from '../../policy/admission.js';
import type { Logger } from '../log.js';
import { registry } from '../metrics.js';
import type { EventRecorder } from './events.js';
import type { Handler } from './handlers.js';

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
        ...(decision.patch ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(decision.patch)).toString('base64') } : {}),
      },
    };
  }
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { code: decision.code, message: decision.message, reason: decision.reason } },
  };
}

const requests = new Counter({
  name: 'gateway_orchestrator_admission_requests_total',
  help: 'Admission reviews answered, by kind, operation and outcome (allowed, denied, error).',
  labelNames: ['webhook', 'kind', 'operation', 'outcome'] as const,
  registers: [registry],
});

const duration = new Histogram({
  name: 'gateway_orchestrator_admission_duration_seconds',
  help: 'Time to decide one admission review.',
  labelNames: ['webhook', 'kind', 'operation', 'outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export interface AuditDeps {
  log: Logger;
  events: EventRecorder | undefined;
  /** Namespace for Events about cluster-scoped objects (they have no requester namespace). */
  fallbackEventNamespace: string;
}

/** Exceptions become a fail-closed denial with a clear "retry" message (never a crash, never an allow). */
export function withErrors(handler: Handler, log: Logger): Handler {
  return async (request) => {
    try {
      return await handler(request);
    } catch (err) {
      log.error({ err: String(err), uid: request.uid, kind: request.kind.kind }, 'admission handler failed');
      return {
        allowed: false,
        code: 500,
        reason: 'InvalidRequest',
        message: `gateway-orchestrator could not decide this request (${String(err instanceof Error ? err.message : err).slice(0, 200)}); nothing was changed, retry in a moment.`,
      };
    }
  };
}

export function withMetrics(webhook: string, handler: Handler): Handler {
  return async (request) => {
    const start = process.hrtime.bigint();
    const decision = await handler(request);
    const outcome = decision.allowed ? 'allowed' : decision.code >= 500 ? 'error' : 'denied';
    const labels = { webhook, kind: request.kind.kind, operation: request.operation, outcome };
    requests.inc(labels);
    duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    return decision;
  };
}

/** Every denial: one structured log line with the requesting user, and an Event for the requester. */
export function withAudit(webhook: string, handler: Handler, deps: AuditDeps): Handler {
  return async (request) => {
    const decision = await handler(request);
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
        namespace: request.namespace || deps.fallbackEventNamespace,
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
}
