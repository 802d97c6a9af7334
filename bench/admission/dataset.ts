// The admission benchmark's world, generated deterministically from (size, seed) so the server
// process and the load driver build the same one without sharing files: `size` hostnames held by
// tenant namespaces, each as a DomainClaim and its HostnameGrant (what the informers feed the
// ownership index in production), and realistic AdmissionReview bodies that ask about them.
import { randomUUID } from 'node:crypto';
import { claimNameFor, grantNameFor } from '../../policy/hostname.js';
import type { HostnameOwnershipIndex } from '../../policy/ownership.js';
import { seededRandom } from '../../test/helpers/seeded-random.js';

export const BENCH_DOMAINS = ['opendi.com', 'in-muenchen.de'];
export const BENCH_ZONE_ID = 'ZBENCHOPENDI';
export const POOL_NAMESPACE = 'edge';

export interface Holder {
  hostname: string;
  namespace: string;
  request: string;
}

export interface Population {
  size: number;
  holders: Holder[];
  /** namespace -> exact hostnames and wildcard parents (`*.P` held: P) it holds. */
  byNamespace: Map<string, { exact: string[]; wildcardParents: string[] }>;
  namespaces: string[];
}

/** Namespaces: about one per hundred hostnames, a count coprime with 10 so each gets both kinds. */
function namespaceCount(size: number): number {
  let n = Math.max(7, Math.floor(size / 100));
  while (n % 2 === 0 || n % 5 === 0) n++;
  return n;
}

/**
 * `size` hostnames: nine in ten exact names two labels below an apex (`s000123.t45.opendi.com`),
 * one in ten a wildcard (`*.w000129.opendi.com`); a quarter under in-muenchen.de. The number is
 * padded to the same width at every size, so a larger index does not also mean longer names (every
 * step of a decision costs per character): the sizes differ only in how many names are held.
 */
export function population(size: number): Population {
  const count = namespaceCount(size);
  const namespaces = Array.from({ length: count }, (_, i) => `team-${String(i).padStart(4, '0')}`);
  const holders: Holder[] = [];
  const byNamespace = new Map<string, { exact: string[]; wildcardParents: string[] }>();
  for (const ns of namespaces) byNamespace.set(ns, { exact: [], wildcardParents: [] });
  for (let i = 0; i < size; i++) {
    const namespace = namespaces[i % count]!;
    const apex = i % 4 === 3 ? 'in-muenchen.de' : 'opendi.com';
    const entry = byNamespace.get(namespace)!;
    if (i % 10 === 9) {
      const parent = `w${serial(i)}.${apex}`;
      holders.push({ hostname: `*.${parent}`, namespace, request: `req-${i}` });
      entry.wildcardParents.push(parent);
    } else {
      const hostname = `s${serial(i)}.t${i % 97}.${apex}`;
      holders.push({ hostname, namespace, request: `req-${i}` });
      entry.exact.push(hostname);
    }
  }
  return { size, holders, byNamespace, namespaces };
}

/** The hostname's number, 7 digits at every size (up to 10,000,000 holders). */
function serial(i: number): string {
  return String(i).padStart(7, '0');
}

/** Fills the index the way the claim and grant informers do (server/caches.ts): one claim and one grant per hostname. */
export function fillIndex(index: HostnameOwnershipIndex, pop: Population): void {
  for (const h of pop.holders) {
    index.setClaim(claimNameFor(h.hostname), { hostname: h.hostname, namespace: h.namespace, request: h.request });
    index.setGrant(grantNameFor(h.hostname, h.namespace), { hostname: h.hostname, namespace: h.namespace });
  }
}

export type ScenarioName = 'route' | 'ghr-validate' | 'ghr-mutate';

export const SCENARIO_PATHS: Record<ScenarioName, string> = {
  route: '/validate/routes',
  'ghr-validate': '/validate/gatewayhostnamerequests',
  'ghr-mutate': '/mutate/gatewayhostnamerequests',
};

function userInfo(namespace: string) {
  return {
    username: `${namespace}-deployer`,
    uid: randomUUIDFrom(namespace),
    groups: ['tenants', `oidc:${namespace}`, 'system:authenticated'],
  };
}

function randomUUIDFrom(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const hex = (h >>> 0).toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
}

/** The metadata the API server has filled in by the time a CREATE reaches the webhook. */
function objectMeta(name: string, namespace: string, manager: string, lastApplied: unknown) {
  return {
    name,
    namespace,
    uid: randomUUID(),
    generation: 1,
    creationTimestamp: '2026-11-24T12:00:00Z',
    labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': namespace },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(lastApplied)}\n` },
    managedFields: [
      {
        manager,
        operation: 'Update',
        apiVersion: 'gateway.networking.k8s.io/v1',
        time: '2026-11-24T12:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} }, 'f:labels': {} }, 'f:spec': { '.': {}, 'f:hostnames': {}, 'f:parentRefs': {}, 'f:rules': {} } },
      },
    ],
  };
}

function review(kind: { group: string; version: string; kind: string }, resource: string, namespace: string, name: string, object: unknown) {
  const res = { group: kind.group, version: kind.version, resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind,
      resource: res,
      requestKind: kind,
      requestResource: res,
      name,
      namespace,
      operation: 'CREATE',
      userInfo: userInfo(namespace),
      object,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' },
    },
  };
}

/** What a route hostname in the generated bodies is, so the mix can be reported. */
export interface RouteMix {
  exact: number;
  wildcardCovered: number;
  unmanaged: number;
}

/**
 * HTTPRoute CREATE reviews with 1, 2 or 3 hostnames (in turn), each hostname one the namespace
 * holds: 60% an exact name (the index answers from its exact map), 30% a name below a wildcard the
 * namespace holds (the index walks the covering wildcards), 10% a name outside the allowlist
 * (normalised, then skipped). Every one is allowed from the index alone: no API call.
 */
export function routeReviews(pop: Population, count: number, seed = 1): { bodies: string[]; mix: RouteMix } {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const mix: RouteMix = { exact: 0, wildcardCovered: 0, unmanaged: 0 };
  const bodies: string[] = [];
  for (let k = 0; k < count; k++) {
    const namespace = pick(pop.namespaces);
    const held = pop.byNamespace.get(namespace)!;
    const hostnames: string[] = [];
    for (let n = 0; n < 1 + (k % 3); n++) {
      const roll = random();
      if (roll < 0.6 || held.wildcardParents.length === 0) {
        hostnames.push(pick(held.exact));
        mix.exact++;
      } else if (roll < 0.9) {
        hostnames.push(`${random() < 0.5 ? 'api' : 'www'}.${pick(held.wildcardParents)}`);
        mix.wildcardCovered++;
      } else {
        hostnames.push(`www.partner-${k}.example.net`);
        mix.unmanaged++;
      }
    }
    const name = `web-${k}`;
    const spec = {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw-01', namespace: POOL_NAMESPACE, sectionName: 'https' }],
      hostnames,
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ group: '', kind: 'Service', name, port: 8080, weight: 1 }],
        },
      ],
    };
    const lastApplied = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace }, spec };
    const object = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: objectMeta(name, namespace, 'kubectl-client-side-apply', lastApplied), spec };
    bodies.push(JSON.stringify(review({ group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute' }, 'httproutes', namespace, name, object)));
  }
  return { bodies, mix };
}

/**
 * GatewayHostnameRequest CREATE reviews for hostnames nobody holds yet. `normalised` false: as a
 * tenant writes them (mixed case, trailing dot, "/hostedzone/" prefix), which is what the mutating
 * webhook sees; true: as the validating webhook sees them after mutation.
 */
export function requestReviews(pop: Population, count: number, normalised: boolean, seed = 2): string[] {
  const random = seededRandom(seed);
  const bodies: string[] = [];
  for (let k = 0; k < count; k++) {
    const namespace = pop.namespaces[Math.floor(random() * pop.namespaces.length)]!;
    const name = `shop-${k}`;
    const hostname = `new-${k}.${namespace}.opendi.com`;
    const spec = normalised
      ? { hostname, zoneId: BENCH_ZONE_ID, environment: 'production', visibility: 'internet-facing', gatewayClass: 'aws-alb' }
      : { hostname: `New-${k}.${namespace}.Opendi.com.`, zoneId: `/hostedzone/${BENCH_ZONE_ID.toLowerCase()}` };
    const object = {
      apiVersion: 'gateway-orchestrator.io/v1alpha1',
      kind: 'GatewayHostnameRequest',
      metadata: { ...objectMeta(name, namespace, 'kubectl-client-side-apply', { spec }), ...(normalised ? { finalizers: ['gateway-orchestrator.io/cleanup'] } : {}) },
      spec,
    };
    bodies.push(JSON.stringify(review({ group: 'gateway-orchestrator.io', version: 'v1alpha1', kind: 'GatewayHostnameRequest' }, 'gatewayhostnamerequests', namespace, name, object)));
  }
  return bodies;
}

export function scenarioBodies(pop: Population, scenario: ScenarioName, count: number): string[] {
  switch (scenario) {
    case 'route':
      return routeReviews(pop, count).bodies;
    case 'ghr-validate':
      return requestReviews(pop, count, true);
    case 'ghr-mutate':
      return requestReviews(pop, count, false);
  }
}
