// Leader election on a coordination.k8s.io/v1 Lease. Every replica serves webhooks; only the
// holder of the lease reconciles. Writes carry the resourceVersion they read, so of two replicas
// racing for an expired lease exactly one wins (the other gets a Conflict). A leader that cannot
// renew within the lease duration stops working before anyone else may take over.
import type { Logger } from '../server/log.js';
import type { KubeRest} from '../server/kube/rest.js';
import { isAlreadyExists, isConflict, isNotFound, paths } from '../server/kube/rest.js';

export const LEASE_NAME = 'gateway-orchestrator-leader';

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

export type LeaseDecision =
  | { action: 'create' }
  | { action: 'renew' }
  | { action: 'acquire' } // take over an expired or released lease
  | { action: 'wait'; holder: string; expiresAtMs: number };

/** Pure: what a candidate should do about the lease it read (undefined: there is none). */
export function decideLease(lease: Lease | undefined, identity: string, nowMs: number): LeaseDecision {
  if (!lease) return { action: 'create' };
  const holder = lease.spec.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  if (holder === '') return { action: 'acquire' };
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '');
  const durationMs = (lease.spec.leaseDurationSeconds ?? 0) * 1000;
  if (!Number.isFinite(renewed)) return { action: 'acquire' };
  const expiresAtMs = renewed + durationMs;
  if (nowMs >= expiresAtMs) return { action: 'acquire' };
  return { action: 'wait', holder, expiresAtMs };
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Pure: the lease body to write for a decision (create, renew or acquire). */
export function leaseFor(
  decision: LeaseDecision,
  current: Lease | undefined,
  identity: string,
  namespace: string,
  leaseDurationMs: number,
  nowMs: number,
): Lease {
  const now = microTime(nowMs);
  const spec = current?.spec ?? {};
  const taking = decision.action !== 'renew';
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE_NAME, namespace, ...(current?.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}) },
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
      acquireTime: taking ? now : (spec.acquireTime ?? now),
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (decision.action === 'acquire' ? 1 : 0),
    },
  };
}

export interface LeaderElectorOptions {
  rest: KubeRest;
  namespace: string;
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  renewIntervalMs?: number;
  /** Time a candidate waits between attempts while someone else leads. */
  retryIntervalMs?: number;
  now?: () => number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
}

export class LeaderElector {
  private leading = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  private loop: Promise<void> = Promise.resolve();
  private readonly leaseDurationMs: number;
  private readonly renewIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewIntervalMs = options.renewIntervalMs ?? 5_000;
    this.retryIntervalMs = options.retryIntervalMs ?? this.renewIntervalMs;
    this.now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops trying; a leader stops working and releases the lease so a successor need not wait. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    if (this.leading) {
      await this.setLeading(false);
      await this.release();
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.loop = this.tick().finally(() => {
        this.schedule(this.leading ? this.renewIntervalMs : this.retryIntervalMs);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    const { rest, namespace, identity, log } = this.options;
    try {
      const current = await this.read();
      const now = this.now();
      const decision = decideLease(current, identity, now);
      if (decision.action === 'wait') {
        if (this.leading) {
          log.warn({ holder: decision.holder }, 'leader lease is held by another replica; stopping work');
          await this.setLeading(false);
        }
        return;
      }
      const body = leaseFor(decision, current, identity, namespace, this.leaseDurationMs, now);
      if (decision.action === 'create') await rest.create(paths.leases(namespace), body);
      else await rest.replace(paths.leases(namespace, LEASE_NAME), body);
      this.lastRenewMs = now;
      if (!this.leading) {
        log.info({ identity, lease: `${namespace}/${LEASE_NAME}` }, 'acquired leader lease');
        await this.setLeading(true);
      }
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        // Someone else wrote the lease since we read it: it is theirs.
        if (this.leading) {
          log.warn('lost leader lease (conflict on renew); stopping work');
          await this.setLeading(false);
        }
        return;
      }
      log.warn({ err: String(err) }, 'leader lease update failed');
      // Keep leading only while our last renewal is surely still valid.
      if (this.leading && this.now() - this.lastRenewMs > this.leaseDurationMs - this.renewIntervalMs) {
        log.warn('could not renew leader lease in time; stopping work');
        await this.setLeading(false);
      }
    }
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return await this.options.rest.get<Lease>(paths.leases(this.options.namespace, LEASE_NAME));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async release(): Promise<void> {
    try {
      const current = await this.read();
      if (!current || current.spec.holderIdentity !== this.options.identity) return;
      await this.options.rest.replace(paths.leases(this.options.namespace, LEASE_NAME), {
        ...current,
        spec: { ...current.spec, holderIdentity: null, renewTime: microTime(this.now()), leaseDurationSeconds: 1 },
      });
    } catch (err) {
      this.options.log.warn({ err: String(err) }, 'could not release leader lease; it expires on its own');
    }
  }

  private async setLeading(value: boolean): Promise<void> {
    if (this.leading === value) return;
    this.leading = value;
    try {
      if (value) await this.options.onStartedLeading();
      else await this.options.onStoppedLeading();
    } catch (err) {
      this.options.log.error({ err: String(err) }, value ? 'onStartedLeading failed' : 'onStoppedLeading failed');
    }
  }
}
