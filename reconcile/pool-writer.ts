// The pool's memory and its only writer. Placements live in the LoadBalancerConfigurations'
// annotations; this keeps them in memory (loaded from the cache when leadership starts, updated
// only after a successful write) and serialises every change to the pool behind one lock, since
// many requests share a Gateway and first-fit needs a consistent view. Gateway and
// LoadBalancerConfiguration are written with server-side apply, only when different. Placements
// that queue up while a write is in flight are decided in order and written together: one apply
// per Gateway instead of one per request (the controller reprograms the listener per change, too).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Gateway, LoadBalancerConfiguration, PoolPlacement } from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import type { Logger } from '../server/log.js';
import type { KubeRest} from '../server/kube/rest.js';
import { paths } from '../server/kube/rest.js';
import { findPlacement, placeRequest, poolFromLbConfigs, withPlacement, withoutPlacement, type PlacementDecision, type PoolGateway, type PoolKey } from './placement.js';
import { desiredGateway, desiredLbConfig, upToDate } from './pool.js';

export const FIELD_MANAGER = 'gateway-orchestrator';

/** A simple FIFO async lock. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** The later of two versions of an object (resourceVersions of one etcd are increasing integers). */
export function newer<T extends { metadata?: { resourceVersion?: string } }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a) return b;
  if (!b) return a;
  const ra = Number(a.metadata?.resourceVersion ?? 0);
  const rb = Number(b.metadata?.resourceVersion ?? 0);
  return rb > ra ? b : a;
}

export interface PoolWriterOptions {
  rest: KubeRest;
  config: PlatformConfig;
  log: Logger;
  /** Namespaces a placement's request admits (its own and routePolicy.additionalNamespaces). */
  namespacesOf: (p: PoolPlacement) => readonly string[];
  gatewayFromCache: (name: string) => (Gateway & KubernetesObject) | undefined;
  lbConfigFromCache: (name: string) => (LoadBalancerConfiguration & KubernetesObject) | undefined;
  /** After a Gateway's LoadBalancerConfiguration was written with new content. */
  onLbConfigWritten?: (gateway: string) => void;
}

interface QueuedPlacement {
  key: PoolKey;
  entry: PoolPlacement;
  resolve: (gateway: string) => void;
  reject: (err: unknown) => void;
}

export class PoolWriter {
  private gateways: PoolGateway[] = [];
  private readonly lock = new Mutex();
  /** What our last write returned, per name: fresher than the cache right after a write. */
  private readonly writtenGateways = new Map<string, Gateway>();
  private readonly writtenLbConfigs = new Map<string, LoadBalancerConfiguration>();
  private queued: QueuedPlacement[] = [];

  constructor(private readonly o: PoolWriterOptions) {}

  /** Rebuilds the memory from the LoadBalancerConfigurations (at the start of leadership). */
  load(lbConfigs: ReadonlyArray<LoadBalancerConfiguration>): void {
    this.gateways = poolFromLbConfigs(lbConfigs);
    this.writtenGateways.clear();
    this.writtenLbConfigs.clear();
  }

  get all(): readonly PoolGateway[] {
    return this.gateways;
  }

  find(requestUID: string): { gateway: string; entry: PoolPlacement } | undefined {
    const found = findPlacement(this.gateways, requestUID);
    return found ? { gateway: found.gateway.name, entry: found.placement } : undefined;
  }

  gateway(name: string): Gateway | undefined {
    return newer(this.o.gatewayFromCache(name), this.writtenGateways.get(name));
  }

  lbConfig(name: string): LoadBalancerConfiguration | undefined {
    return newer(this.o.lbConfigFromCache(name), this.writtenLbConfigs.get(name));
  }

  /**
   * Places (or updates) a request's entry; resolves with the Gateway it is on once that Gateway's
   * objects say so. Placements that queue up meanwhile (while a write holds the lock) are written
   * together. No gathering window: a placement holds a reconcile worker while it waits.
   */
  place(key: PoolKey, entry: PoolPlacement): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queued.push({ key, entry, resolve, reject });
      if (this.queued.length === 1) setImmediate(() => void this.lock.run(() => this.placeQueued()));
    });
  }

  /**
   * Decides the queued placements in arrival order (each sees the ones before it), then writes
   * each Gateway they touch once. The memory takes a Gateway's new placements only once its write
   * succeeded, so it never says more than the cluster; the placements on a Gateway whose write
   * failed are refused and their requests retry.
   */
  private async placeQueued(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    let next = this.gateways;
    const decided: Array<{ queued: QueuedPlacement; gateway: string; kind: PlacementDecision['kind'] }> = [];
    try {
      for (const queued of batch) {
        const decision = placeRequest(next, queued.key, queued.entry.requestUID, this.o.config);
        next = withPlacement(next, decision.gateway, queued.key, queued.entry);
        decided.push({ queued, gateway: decision.gateway, kind: decision.kind });
      }
    } catch (err) {
      // Nothing written: every caller hears of it (none may wait forever).
      for (const queued of batch) queued.reject(err);
      return;
    }
    const failed = new Map<string, unknown>();
    for (const name of new Set(decided.map((d) => d.gateway))) {
      try {
        await this.write(next.find((g) => g.name === name)!);
      } catch (err) {
        failed.set(name, err);
      }
    }
    const before = new Map(this.gateways.map((g) => [g.name, g]));
    this.gateways = next.flatMap((g) => (!failed.has(g.name) ? [g] : before.has(g.name) ? [before.get(g.name)!] : []));
    for (const d of decided) {
      if (failed.has(d.gateway)) {
        d.queued.reject(failed.get(d.gateway));
        continue;
      }
      if (d.kind !== 'existing') this.o.log.info({ hostname: d.queued.entry.hostname, gateway: d.gateway, decision: d.kind, together: batch.length }, 'placed hostname');
      d.queued.resolve(d.gateway);
    }
  }

  unplace(requestUID: string): Promise<void> {
    return this.lock.run(async () => {
      const found = findPlacement(this.gateways, requestUID);
      if (!found) return;
      const next = withoutPlacement(this.gateways, requestUID);
      await this.write(next.find((g) => g.name === found.gateway.name)!);
      this.gateways = next;
    });
  }

  /**
   * Re-applies a Gateway's objects when the cluster's copy differs from what the placements say
   * (drift, a changed additionalNamespaces list). No write when up to date.
   */
  ensure(name: string): Promise<void> {
    return this.lock.run(async () => {
      const g = this.gateways.find((x) => x.name === name);
      if (g) await this.write(g);
    });
  }

  private async write(g: PoolGateway): Promise<void> {
    const { rest, config } = this.o;
    const ns = config.pool.namespace;
    const lbc = desiredLbConfig(g, config);
    const gw = desiredGateway(g, config, this.o.namespacesOf);
    // The configuration first: the Gateway refers to it.
    if (!upToDate(lbc, this.lbConfig(g.name))) {
      const written = await rest.patch<LoadBalancerConfiguration>(paths.lbConfigs(ns, g.name), 'apply', lbc, { fieldManager: FIELD_MANAGER, force: true });
      this.writtenLbConfigs.set(g.name, written);
      this.o.onLbConfigWritten?.(g.name);
    }
    if (!upToDate(gw, this.gateway(g.name))) {
      const written = await rest.patch<Gateway>(paths.gateways(ns, g.name), 'apply', gw, { fieldManager: FIELD_MANAGER, force: true });
      this.writtenGateways.set(g.name, written);
    }
  }
}
