// Where a hostname lives: which pool Gateway (and so which ALB) carries its certificate. Pure.
//
// A pool is keyed by (gatewayClass, visibility, environment). Placement is stable first-fit:
// the Gateways of a key in number order, the first with room takes the hostname, a new Gateway
// when all are full. Placed hostnames never move: not when others leave, not when the capacity
// setting changes. Everything needed to rebuild the placement after total state loss is in the
// LoadBalancerConfigurations' placements annotation.
import { createHash } from 'node:crypto';
import { ANNOTATION_PLACEMENTS, type GatewayHostnameRequest, type LoadBalancerConfiguration, type PoolPlacement, type Visibility } from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';

export interface PoolKey {
  gatewayClass: string;
  visibility: Visibility;
  environment: string;
}

export const LABEL_POOL_CLASS = 'gateway-orchestrator.io/gateway-class';
export const LABEL_POOL_VISIBILITY = 'gateway-orchestrator.io/visibility';
export const LABEL_POOL_ENVIRONMENT = 'gateway-orchestrator.io/environment';

export function poolKeyOf(request: GatewayHostnameRequest, defaults: PlatformConfig['defaults']): PoolKey {
  return {
    gatewayClass: request.spec.gatewayClass || defaults.gatewayClass,
    visibility: request.spec.visibility || defaults.visibility,
    environment: request.spec.environment || defaults.environment,
  };
}

export function poolKeyId(key: PoolKey): string {
  return `${key.gatewayClass}/${key.visibility}/${key.environment}`;
}

/** The LABEL_POOL value: a hash of the key (label values are short and restricted). */
export function poolLabelValue(key: PoolKey): string {
  return createHash('sha256').update(poolKeyId(key)).digest('hex').slice(0, 40);
}

export function poolKeyFromLabels(labels: Record<string, string> | undefined): PoolKey | undefined {
  const gatewayClass = labels?.[LABEL_POOL_CLASS];
  const visibility = labels?.[LABEL_POOL_VISIBILITY];
  const environment = labels?.[LABEL_POOL_ENVIRONMENT];
  if (!gatewayClass || !environment || (visibility !== 'internet-facing' && visibility !== 'internal')) return undefined;
  return { gatewayClass, visibility, environment };
}

export function sameKey(a: PoolKey, b: PoolKey): boolean {
  return a.gatewayClass === b.gatewayClass && a.visibility === b.visibility && a.environment === b.environment;
}

/**
 * `gw-01` for the default key; `gw-<env>-<public|internal>[-<class>]-01` otherwise (the class only
 * when it is not the default one).
 */
export function gatewayNameFor(key: PoolKey, number: number, config: Pick<PlatformConfig, 'defaults' | 'pool'>): string {
  const nn = String(number).padStart(2, '0');
  const prefix = config.pool.gatewayNamePrefix;
  const d = config.defaults;
  if (sameKey(key, d)) return `${prefix}-${nn}`;
  const vis = key.visibility === 'internal' ? 'internal' : 'public';
  const cls = key.gatewayClass === d.gatewayClass ? '' : `-${key.gatewayClass}`;
  return `${prefix}-${key.environment}-${vis}${cls}-${nn}`;
}

/** The number at the end of a pool Gateway's name (`gw-07` -> 7), undefined when there is none. */
export function gatewayNumber(name: string): number | undefined {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Hostnames one Gateway takes: its default certificate plus `certificatesPerGateway` others, and
 * no more than the ALB's rules (each hostname needs at least one).
 */
export function capacityPerGateway(pool: Pick<PlatformConfig['pool'], 'certificatesPerGateway' | 'rulesPerGateway'>): number {
  return Math.max(1, Math.min(pool.certificatesPerGateway + 1, pool.rulesPerGateway));
}

export interface PoolGateway {
  name: string;
  key: PoolKey;
  /** In the order they were placed; the first carries the listener's default certificate. */
  placements: PoolPlacement[];
}

export type PlacementDecision =
  | { kind: 'existing'; gateway: string } // already placed there (maybe with a new certificate)
  | { kind: 'fit'; gateway: string }
  | { kind: 'new'; gateway: string };

/** Where is the request with this UID placed, across all Gateways. */
export function findPlacement(gateways: readonly PoolGateway[], requestUID: string): { gateway: PoolGateway; placement: PoolPlacement } | undefined {
  for (const gateway of gateways) {
    const placement = gateway.placements.find((p) => p.requestUID === requestUID);
    if (placement) return { gateway, placement };
  }
  return undefined;
}

/** Stable first-fit. `gateways` may hold every pool Gateway; only those of `key` are considered. */
export function placeRequest(
  gateways: readonly PoolGateway[],
  key: PoolKey,
  requestUID: string,
  config: Pick<PlatformConfig, 'defaults' | 'pool'>,
): PlacementDecision {
  const found = findPlacement(gateways, requestUID);
  if (found) return { kind: 'existing', gateway: found.gateway.name };
  const capacity = capacityPerGateway(config.pool);
  const ofKey = gateways
    .filter((g) => sameKey(g.key, key))
    .sort((a, b) => (gatewayNumber(a.name) ?? 0) - (gatewayNumber(b.name) ?? 0) || a.name.localeCompare(b.name));
  const fit = ofKey.find((g) => g.placements.length < capacity);
  if (fit) return { kind: 'fit', gateway: fit.name };
  let next = ofKey.reduce((max, g) => Math.max(max, gatewayNumber(g.name) ?? 0), 0) + 1;
  const taken = new Set(gateways.map((g) => g.name));
  while (taken.has(gatewayNameFor(key, next, config))) next++;
  return { kind: 'new', gateway: gatewayNameFor(key, next, config) };
}

/** The gateways after adding or updating a placement (new list; inputs untouched). */
export function withPlacement(gateways: readonly PoolGateway[], gatewayName: string, key: PoolKey, entry: PoolPlacement): PoolGateway[] {
  const out = gateways.map((g) => ({ ...g, placements: [...g.placements] }));
  let target = out.find((g) => g.name === gatewayName);
  if (!target) {
    target = { name: gatewayName, key, placements: [] };
    out.push(target);
  }
  const i = target.placements.findIndex((p) => p.requestUID === entry.requestUID);
  if (i >= 0) target.placements[i] = entry;
  else target.placements.push(entry);
  return out;
}

/** The gateways after removing the request's placement, wherever it is. */
export function withoutPlacement(gateways: readonly PoolGateway[], requestUID: string): PoolGateway[] {
  return gateways.map((g) => ({ ...g, placements: g.placements.filter((p) => p.requestUID !== requestUID) }));
}

function isPlacement(value: unknown): value is PoolPlacement {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['hostname', 'namespace', 'request', 'requestUID', 'certificateArn'].every((k) => typeof v[k] === 'string' && v[k] !== '');
}

/** The placements a LoadBalancerConfiguration records; malformed entries are skipped, never thrown. */
export function readPlacements(lbc: Pick<LoadBalancerConfiguration, 'metadata'>): PoolPlacement[] {
  const raw = lbc.metadata.annotations?.[ANNOTATION_PLACEMENTS];
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    const seen = new Set<string>();
    const out: PoolPlacement[] = [];
    for (const entry of parsed) {
      if (!isPlacement(entry) || seen.has(entry.requestUID)) continue;
      seen.add(entry.requestUID);
      out.push({ hostname: entry.hostname, namespace: entry.namespace, request: entry.request, requestUID: entry.requestUID, certificateArn: entry.certificateArn });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Rebuilds the pool from the LoadBalancerConfigurations alone (total state loss): each labelled
 * with its pool key, each listing its placements. A request placed twice (should not happen)
 * keeps the Gateway with the lower number.
 */
export function poolFromLbConfigs(lbcs: ReadonlyArray<Pick<LoadBalancerConfiguration, 'metadata'>>): PoolGateway[] {
  const gateways: PoolGateway[] = [];
  const sorted = [...lbcs].sort((a, b) => (gatewayNumber(a.metadata.name ?? '') ?? 0) - (gatewayNumber(b.metadata.name ?? '') ?? 0));
  const placed = new Set<string>();
  for (const lbc of sorted) {
    const key = poolKeyFromLabels(lbc.metadata.labels);
    if (!key || !lbc.metadata.name) continue;
    const placements = readPlacements(lbc).filter((p) => !placed.has(p.requestUID));
    for (const p of placements) placed.add(p.requestUID);
    gateways.push({ name: lbc.metadata.name, key, placements });
  }
  return gateways;
}
