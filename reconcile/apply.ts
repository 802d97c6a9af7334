// The applier: executes a plan's changes through the ports, in order, stopping at the first
// failure; writes through into the snapshot; writes the request's status (status subresource,
// merge patch, only when it changed) and Events on transitions.
import {
  API_VERSION,
  FINALIZER,
  KIND_GRANT,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type DomainClaim,
  type GatewayHostnameRequest,
  type GatewayHostnameRequestStatus,
  type HostnameGrant,
} from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import { matchAllowedDomain } from '../policy/allowlist.js';
import type { Logger } from '../server/log.js';
import type { KubeRest} from '../server/kube/rest.js';
import { isNotFound, paths } from '../server/kube/rest.js';
import type { ClaimStore } from '../server/admission/claims.js';
import type { EventRecorder } from '../server/admission/events.js';
import type { Route53Batcher } from './batch.js';
import type { Observer } from './observe.js';
import type { AwsPorts } from './ports.js';
import { FIELD_MANAGER, type PoolWriter } from './pool-writer.js';
import { conditionOf, describeChange, type Change, type Plan } from './plan.js';
import { SetIndex } from './indexes.js';

/** A change could not be made yet and should simply be tried again later (not a failure). */
export class NotYetError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'NotYetError';
  }
}

/** Written objects the caches may not show yet, so the next plan does not repeat a change. */
export class WriteOverlay<T> {
  private readonly entries = new Map<string, { value: T | null; at: number }>();
  /** Entry names by what `indexBy` files them under (e.g. grants by request); null values are not filed. */
  private readonly index = new SetIndex();
  private lastSweep = Date.now();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly indexBy?: (value: T) => string | undefined,
  ) {}

  set(name: string, value: T | null): void {
    const now = Date.now();
    // Expired entries go on the next sweep (once a TTL), not only when read again.
    if (now - this.lastSweep > this.ttlMs) {
      this.lastSweep = now;
      for (const [k, e] of this.entries) if (now - e.at > this.ttlMs) this.drop(k);
    }
    this.entries.set(name, { value, at: now });
    if (this.indexBy) {
      const key = value === null ? undefined : this.indexBy(value);
      this.index.set(name, key === undefined ? [] : [key]);
    }
  }

  /** undefined: nothing written recently; null: deleted recently. */
  get(name: string): T | null | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (Date.now() - e.at > this.ttlMs) {
      this.drop(name);
      return undefined;
    }
    return e.value;
  }

  /** Names of the entries whose value `indexBy` files under `key` (expired ones included: read them with get). */
  namesFiledUnder(key: string): string[] {
    return [...this.index.keysOf(key)];
  }

  values(): Array<[string, T | null]> {
    return [...this.entries.keys()].flatMap((k) => {
      const v = this.get(k);
      return v === undefined ? [] : [[k, v] as [string, T | null]];
    });
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(name: string): void {
    this.entries.delete(name);
    this.index.delete(name);
  }
}

export interface ApplierDeps {
  rest: KubeRest;
  config: PlatformConfig;
  ports: AwsPorts;
  observer: Observer;
  batcher: Route53Batcher;
  pool: PoolWriter;
  claims: ClaimStore;
  events: EventRecorder;
  log: Logger;
  claimOverlay: WriteOverlay<DomainClaim>;
  grantOverlay: WriteOverlay<HostnameGrant>;
}

export interface ApplyOutcome {
  /** The request as the API server returned it after our last write to it, if any. */
  request?: GatewayHostnameRequest;
  finalizerRemoved: boolean;
  /** With `deferStatus`: the status the plan asked for, not written yet. */
  deferredStatus?: GatewayHostnameRequestStatus;
}

export interface ApplyOptions {
  /**
   * Apply the changes but leave the status to the caller, who plans again at once and writes
   * the status of its last step (one write per pass instead of one per step). A failing change
   * still writes the status with the failure, as without this option.
   */
  deferStatus?: boolean;
}

export class Applier {
  constructor(private readonly d: ApplierDeps) {}

  async apply(request: GatewayHostnameRequest, plan: Plan, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const log = this.d.log.child({ namespace: request.metadata.namespace, name: request.metadata.name, hostname: request.spec.hostname });
    let latest: GatewayHostnameRequest | undefined;
    let finalizerRemoved = false;
    for (const change of plan.changes) {
      log.info({ change: describeChange(change) }, 'applying');
      try {
        if (change.kind === 'removeFinalizer') {
          await this.removeFinalizer(request);
          finalizerRemoved = true;
          continue;
        }
        const certificateArn = await this.applyChange(request, change);
        if (certificateArn && plan.status) {
          // Recorded at once: the tags and idempotency token would find it anyway, but status is
          // where people and the next plan look first.
          plan.status.certificateArn = certificateArn;
        }
      } catch (err) {
        if (err instanceof NotYetError) {
          log.info({ change: describeChange(change), reason: err.message }, 'not yet');
          if (plan.status) await this.writeStatus(request, plan.status);
          throw err;
        }
        const condition = request.metadata.deletionTimestamp ? 'Ready' : conditionOf(change);
        const reason = request.metadata.deletionTimestamp ? 'CleanupFailed' : 'ApplyFailed';
        const message = `${describeChange(change)} failed: ${errorText(err)}`;
        log.warn({ change: describeChange(change), err: errorText(err) }, 'change failed');
        if (plan.status) await this.writeStatus(request, withCondition(plan.status, condition, reason, message, request)).catch(() => undefined);
        if (request.metadata.deletionTimestamp) this.event(request, 'Warning', 'CleanupFailed', message);
        throw err;
      }
    }
    for (const e of plan.events) this.event(request, e.type, e.reason, e.note);
    if (!finalizerRemoved && plan.status && options.deferStatus) return { finalizerRemoved, deferredStatus: plan.status };
    if (!finalizerRemoved && plan.status) latest = (await this.writeStatus(request, plan.status)) ?? latest;
    return { ...(latest ? { request: latest } : {}), finalizerRemoved };
  }

  /** Writes a status left to the caller by `deferStatus`, unless the request already shows it. */
  async flushStatus(request: GatewayHostnameRequest, status: GatewayHostnameRequestStatus): Promise<GatewayHostnameRequest | undefined> {
    return this.writeStatus(request, status);
  }

  /** Returns a new certificate's ARN when the change requested one. */
  private async applyChange(request: GatewayHostnameRequest, change: Exclude<Change, { kind: 'removeFinalizer' }>): Promise<string | undefined> {
    const { rest, ports, observer, claims, config } = this.d;
    const ns = request.metadata.namespace ?? '';
    const name = request.metadata.name ?? '';
    switch (change.kind) {
      case 'createClaim': {
        const match = matchAllowedDomain(change.hostname, ns, config.allowedDomains);
        if (!match.ok) throw new Error(`hostname ${change.hostname} is not allowlisted for namespace ${ns}: ${match.reason}`);
        const outcome = await claims.claim({ hostname: change.hostname, apexDomain: match.domain, namespace: ns, name, dryRun: false });
        const claim = await claims.read(change.hostname);
        if (claim) this.d.claimOverlay.set(claim.metadata.name ?? '', claim);
        if (outcome.kind === 'held') this.d.log.info({ hostname: change.hostname, holder: outcome.holder }, 'claim is held by another request');
        return undefined;
      }
      case 'bindClaim': {
        const claim = await rest.patch<DomainClaim>(paths.claimStatus(change.claim), 'merge', {
          status: { requestUID: change.requestUID, boundAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
        });
        this.d.claimOverlay.set(change.claim, claim);
        return undefined;
      }
      case 'releaseClaim': {
        await claims.release(change.hostname, ns, name);
        return undefined;
      }
      case 'applyGrant': {
        const body: HostnameGrant = {
          apiVersion: API_VERSION,
          kind: KIND_GRANT,
          metadata: { name: change.name, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
          spec: { hostname: change.hostname, namespace: change.namespace, requestRef: { namespace: ns, name } },
        };
        if (change.replace) {
          try {
            await rest.delete(paths.grants(change.name));
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
        const grant = await rest.patch<HostnameGrant>(paths.grants(change.name), 'apply', body, { fieldManager: FIELD_MANAGER, force: true });
        this.d.grantOverlay.set(change.name, grant);
        return undefined;
      }
      case 'deleteGrant': {
        try {
          await rest.delete(paths.grants(change.name));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        this.d.grantOverlay.set(change.name, null);
        return undefined;
      }
      case 'requestCertificate': {
        const arn = await ports.acm.requestCertificate({ domainName: change.domainName, idempotencyToken: change.idempotencyToken, tags: change.tags });
        observer.certificateRequested(arn, change.domainName, change.tags);
        return arn;
      }
      case 'deleteCertificate': {
        const result = await ports.acm.deleteCertificate(change.arn);
        if (result === 'in-use') throw new NotYetError(`ACM reports certificate ${change.arn} still in use`, 10_000);
        observer.certificateDeleted(change.arn);
        return undefined;
      }
      case 'changeRecords': {
        await this.d.batcher.submit(change.zoneId, change.changes);
        return undefined;
      }
      case 'place': {
        await this.d.pool.place(change.key, change.entry);
        return undefined;
      }
      case 'unplace': {
        await this.d.pool.unplace(change.requestUID);
        return undefined;
      }
    }
  }

  private async removeFinalizer(request: GatewayHostnameRequest): Promise<void> {
    const finalizers = (request.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    try {
      await this.d.rest.patch(paths.requests(request.metadata.namespace, request.metadata.name), 'merge', {
        metadata: { finalizers, resourceVersion: request.metadata.resourceVersion },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Merge-patches the status when it differs from what the request shows; returns the result. */
  private async writeStatus(request: GatewayHostnameRequest, status: GatewayHostnameRequestStatus): Promise<GatewayHostnameRequest | undefined> {
    if (sameStatus(request.status, status)) return undefined;
    const body: Record<string, unknown> = {};
    for (const key of STATUS_KEYS) body[key] = status[key] ?? null;
    try {
      return await this.d.rest.patch<GatewayHostnameRequest>(paths.requestStatus(request.metadata.namespace ?? '', request.metadata.name ?? ''), 'merge', { status: body });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private event(request: GatewayHostnameRequest, type: 'Normal' | 'Warning', reason: string, note: string): void {
    this.d.events.record({
      namespace: request.metadata.namespace ?? 'default',
      regarding: { apiVersion: API_VERSION, kind: 'GatewayHostnameRequest', name: request.metadata.name, namespace: request.metadata.namespace, uid: request.metadata.uid },
      type,
      reason,
      action: 'Reconcile',
      note,
    });
  }
}

const STATUS_KEYS = ['observedGeneration', 'assignedGateway', 'assignedLoadBalancer', 'certificateArn', 'validationRecords', 'conditions'] as const;

/**
 * Whether a status written now would change nothing. Compared as canonical JSON: the API server
 * returns objects with their keys sorted (it serialises maps in order), so a plain
 * JSON.stringify of the status we built never matched what it returned, and every reconcile
 * pass wrote the status again: 11.7 writes per request in the 1,000 bulk, and one per request
 * on every resync in steady state.
 */
export function sameStatus(a: GatewayHostnameRequestStatus | undefined, b: GatewayHostnameRequestStatus): boolean {
  return STATUS_KEYS.every((k) => canonicalJson(a?.[k]) === canonicalJson(b[k]));
}

/** JSON with object keys sorted and undefined members dropped; undefined itself is null. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

function withCondition(
  status: GatewayHostnameRequestStatus,
  type: Parameters<typeof conditionOf>[0] extends never ? never : ReturnType<typeof conditionOf>,
  reason: string,
  message: string,
  request: GatewayHostnameRequest,
): GatewayHostnameRequestStatus {
  const conditions = (status.conditions ?? []).filter((c) => c.type !== type);
  const prev = (request.status?.conditions ?? []).find((c) => c.type === type);
  const lastTransitionTime = prev?.status === 'False' ? prev.lastTransitionTime : new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  conditions.push({ type, status: 'False', reason, message: message.slice(0, 2000), lastTransitionTime, ...(request.metadata.generation !== undefined ? { observedGeneration: request.metadata.generation } : {}) });
  return { ...status, conditions };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
  return String(err);
}
