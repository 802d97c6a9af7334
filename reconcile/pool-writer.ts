// The pool's memory and its only writer. Placements live in the LoadBalancerConfigurations'
// annotations; this keeps them in memory (loaded from the cache when leadership starts, updated
// only after a successful write) and serialises every change to the pool behind one lock, since
// many requests share a Gateway and first-fit needs a consistent view. Gateway and
// LoadBalancerConfiguration are written with server-side apply, only when different.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Gateway, LoadBalancerConfiguration, PoolPlacement } from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import type { Logger } from '../server/log.js';
import type { KubeRest} from '../server/kube/rest.js';
import { paths } from '../server/kube/rest.js';
import { findPlacement, placeRequest, poolFromLbConfigs, withPlacement, withoutPlacement, type PoolGateway, type PoolKey } from './placement.js';
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
}

export class PoolWriter {
  private gateways: PoolGateway[] = [];
  private readonly lock = new Mutex();
  /** What our last write returned, per name: fresher than the cache right after a write. */
  private readonly writtenGateways = new Map<string, Gateway>();
  private readonly writtenLbConfigs = new Map<string, LoadBalancerConfiguration>();

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

  /** Places (or updates) a request's entry; returns the Gateway it is on. */
  place(key: PoolKey, entry: PoolPlacement): Promise<string> {
    return this.lock.run(async () => {
      const decision = placeRequest(this.gateways, key, entry.requestUID, this.o.config);
      const next = withPlacement(this.gateways, decision.gateway, key, entry);
      await this.write(next.find((g) => g.name === decision.gateway)!);
      this.gateways = next;
      if (decision.kind !== 'existing') this.o.log.info({ hostname: entry.hostname, gateway: decision.gateway, decision: decision.kind }, 'placed hostname');
      return decision.gateway;
    });
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
    }
    if (!upToDate(gw, this.gateway(g.name))) {
      const written = await rest.patch<Gateway>(paths.gateways(ns, g.name), 'apply', gw, { fieldManager: FIELD_MANAGER, force: true });
      this.writtenGateways.set(g.name, written);
    }
  }
}
