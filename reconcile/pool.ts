// The desired pool objects of one Gateway: the Gateway itself and its LoadBalancerConfiguration,
// both derived from the Gateway's placements. Pure. Certificates reach the ALB only through the
// LoadBalancerConfiguration (the AWS Load Balancer Controller removes what it did not put there).
import {
  ANNOTATION_PLACEMENTS,
  GATEWAY_API_GROUP,
  LABEL_MANAGED_BY,
  LABEL_POOL,
  LBC_GROUP,
  LBC_KIND,
  LBC_VERSION,
  MANAGED_BY,
  type Gateway,
  type LoadBalancerConfiguration,
  type PoolPlacement,
} from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import { LABEL_POOL_CLASS, LABEL_POOL_ENVIRONMENT, LABEL_POOL_VISIBILITY, poolLabelValue, type PoolGateway } from './placement.js';

export const HTTPS_LISTENER = 'https';
export const PROTOCOL_PORT = 'HTTPS:443';
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function poolLabels(gateway: PoolGateway): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_POOL]: poolLabelValue(gateway.key),
    [LABEL_POOL_CLASS]: gateway.key.gatewayClass,
    [LABEL_POOL_VISIBILITY]: gateway.key.visibility,
    [LABEL_POOL_ENVIRONMENT]: gateway.key.environment,
  };
}

/**
 * Namespaces whose routes may attach to the Gateway: every namespace holding a hostname there,
 * plus the additional namespaces its request names. `namespacesOf` answers for one placement.
 */
export function allowedNamespaces(placements: readonly PoolPlacement[], namespacesOf: (p: PoolPlacement) => readonly string[]): string[] {
  const set = new Set<string>();
  for (const p of placements) {
    set.add(p.namespace);
    for (const ns of namespacesOf(p)) set.add(ns);
  }
  return [...set].sort();
}

export function desiredGateway(
  gateway: PoolGateway,
  config: Pick<PlatformConfig, 'pool'>,
  namespacesOf: (p: PoolPlacement) => readonly string[],
): Gateway {
  const namespaces = allowedNamespaces(gateway.placements, namespacesOf);
  const allowedRoutes =
    namespaces.length === 0
      ? { namespaces: { from: 'Same' } }
      : { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces }] } } };
  return {
    apiVersion: `${GATEWAY_API_GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name: gateway.name, namespace: config.pool.namespace, labels: poolLabels(gateway) },
    spec: {
      gatewayClassName: gateway.key.gatewayClass,
      infrastructure: { parametersRef: { group: LBC_GROUP, kind: LBC_KIND, name: gateway.name } },
      listeners: [{ name: HTTPS_LISTENER, port: 443, protocol: 'HTTPS', allowedRoutes }],
    },
  };
}

export function desiredLbConfig(gateway: PoolGateway, config: Pick<PlatformConfig, 'pool'>): LoadBalancerConfiguration {
  const [first, ...rest] = gateway.placements;
  const others = [...new Set(rest.map((p) => p.certificateArn))].filter((arn) => arn !== first?.certificateArn).sort();
  const listener: { protocolPort: string; defaultCertificate?: string; certificates?: string[] } = { protocolPort: PROTOCOL_PORT };
  if (first) listener.defaultCertificate = first.certificateArn;
  // An empty list is left out rather than written as []: the API server may drop it, and the
  // comparison with the cluster would then never settle.
  if (others.length > 0) listener.certificates = others;
  return {
    apiVersion: `${LBC_GROUP}/${LBC_VERSION}`,
    kind: LBC_KIND,
    metadata: {
      name: gateway.name,
      namespace: config.pool.namespace,
      labels: poolLabels(gateway),
      annotations: { [ANNOTATION_PLACEMENTS]: JSON.stringify(gateway.placements) },
    },
    spec: {
      scheme: gateway.key.visibility,
      ipAddressType: config.pool.ipAddressType,
      listenerConfigurations: [listener],
    },
  };
}

/**
 * Whether `actual` already has everything `desired` sets: objects compared key by key (extra keys
 * in `actual`, such as API server defaults, are fine), arrays element by element with equal length.
 */
export function isSubset(desired: unknown, actual: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => isSubset(d, actual[i]));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || isSubset(v, a[k]));
  }
  return desired === actual;
}

/** The parts of a pool object we write, for comparing with what the cluster holds. */
export function managedParts(obj: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: unknown }): unknown {
  return { metadata: { labels: obj.metadata.labels, annotations: obj.metadata.annotations }, spec: obj.spec };
}

export function upToDate(desired: Gateway | LoadBalancerConfiguration, actual: Gateway | LoadBalancerConfiguration | undefined): boolean {
  return actual !== undefined && isSubset(managedParts(desired), managedParts(actual));
}
