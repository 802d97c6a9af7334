// Pure admission decisions: (request, view) => decision. No I/O, no clock; the server wraps these.
import type { Operation } from 'fast-json-patch';
import { FINALIZER, GATEWAY_API_GROUP, type GatewayHostnameRequest, type GatewayHostnameRequestSpec } from './api.js';
import type { PlatformConfig } from './config.js';
import { normaliseHostname, validateRequestHostname } from './hostname.js';
import { matchAllowedDomain, isManagedHostname, hostnameInZone } from './allowlist.js';
import type { HostnameOwnershipIndex } from './ownership.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export type DenialReason =
  | 'InvalidRequest'
  | 'InvalidHostname'
  | 'DomainNotAllowed'
  | 'ZoneMismatch'
  | 'HostnameClaimed'
  | 'ImmutableField'
  | 'FinalizerProtected'
  | 'RouteHostnameNotGranted'
  | 'RouteWithoutHostnames'
  | 'ProtectedResource';

export interface Allow {
  allowed: true;
  warnings?: string[];
  patch?: Operation[];
}

export interface Deny {
  allowed: false;
  code: number;
  reason: DenialReason;
  message: string;
  hostname?: string;
}

export type Decision = Allow | Deny;

export const allow = (warnings?: string[], patch?: Operation[]): Allow => ({
  allowed: true,
  ...(warnings && warnings.length ? { warnings } : {}),
  ...(patch && patch.length ? { patch } : {}),
});

export const deny = (reason: DenialReason, message: string, hostname?: string, code = 403): Deny => ({
  allowed: false,
  code,
  reason,
  message,
  ...(hostname ? { hostname } : {}),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the request object or explains in one sentence why it is not one. */
export function asHostnameRequest(value: unknown): GatewayHostnameRequest | string {
  if (!isObject(value)) return 'the object is missing or not a JSON object';
  const metadata = value['metadata'];
  const spec = value['spec'];
  if (!isObject(metadata)) return 'metadata is missing';
  if (!isObject(spec)) return 'spec is missing';
  if (typeof spec['hostname'] !== 'string') return 'spec.hostname is required and must be a string';
  if (typeof spec['zoneId'] !== 'string') return 'spec.zoneId is required and must be a string';
  return value as unknown as GatewayHostnameRequest;
}

// ---- GatewayHostnameRequest: mutation on CREATE -------------------------------------------------

/**
 * Normalises the hostname and zone id, fills defaults from the platform config and adds the
 * cleanup finalizer. Returns the JSON patch, or a denial when the hostname cannot be normalised.
 */
export function mutateHostnameRequest(request: AdmissionRequest, config: PlatformConfig): Decision {
  const ghr = asHostnameRequest(request.object);
  if (typeof ghr === 'string') return deny('InvalidRequest', `GatewayHostnameRequest rejected: ${ghr}.`, undefined, 400);
  const normalised = normaliseHostname(ghr.spec.hostname);
  if (!normalised.ok) {
    return deny('InvalidHostname', `hostname "${printable(ghr.spec.hostname)}" is not valid: ${normalised.reason}.`, undefined, 400);
  }
  const patch: Operation[] = [];
  if (normalised.hostname !== ghr.spec.hostname) patch.push({ op: 'replace', path: '/spec/hostname', value: normalised.hostname });
  const zoneId = ghr.spec.zoneId.replace(/^\/?hostedzone\//, '').toUpperCase();
  if (zoneId !== ghr.spec.zoneId) patch.push({ op: 'replace', path: '/spec/zoneId', value: zoneId });
  const defaults: Array<[keyof GatewayHostnameRequestSpec, string]> = [
    ['environment', config.defaults.environment],
    ['visibility', config.defaults.visibility],
    ['gatewayClass', config.defaults.gatewayClass],
  ];
  for (const [field, value] of defaults) {
    if (ghr.spec[field] === undefined || ghr.spec[field] === '') patch.push({ op: 'add', path: `/spec/${field}`, value });
  }
  const finalizers = ghr.metadata.finalizers;
  if (!Array.isArray(finalizers)) patch.push({ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] });
  else if (!finalizers.includes(FINALIZER)) patch.push({ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER });
  return allow(undefined, patch);
}

// ---- GatewayHostnameRequest: validation ----------------------------------------------------------

/** ACM RequestCertificate: DomainName is at most 64 characters (longer names only as extra SANs). */
export const ACM_DOMAIN_NAME_LIMIT = 64;

/** What validation of a CREATE decides before the claim: deny now, or claim this hostname. */
export type CreateCheck = Deny | { allowed: true; hostname: string; apexDomain: string; warnings: string[] };

/**
 * Everything about a new request that needs no state beyond the config and the zone names the
 * reconciler has learned: name, hostname rules, allowlist, zone. The claim itself follows.
 */
export function checkHostnameRequestCreate(
  request: AdmissionRequest,
  config: PlatformConfig,
  zoneNameOf: (zoneId: string) => string | undefined,
): CreateCheck {
  const ghr = asHostnameRequest(request.object);
  if (typeof ghr === 'string') return deny('InvalidRequest', `GatewayHostnameRequest rejected: ${ghr}.`, undefined, 400);
  const namespace = request.namespace ?? ghr.metadata.namespace ?? '';
  if (!ghr.metadata.name) {
    return deny('InvalidRequest', 'GatewayHostnameRequest needs metadata.name (generateName is not supported: the hostname claim records the name).', undefined, 400);
  }
  const valid = validateRequestHostname(ghr.spec.hostname);
  if (!valid.ok) return deny('InvalidHostname', `hostname "${printable(ghr.spec.hostname)}" is not valid: ${valid.reason}.`, undefined, 400);
  const hostname = valid.hostname;
  if (hostname.length > ACM_DOMAIN_NAME_LIMIT) {
    return deny(
      'InvalidHostname',
      `hostname "${hostname}" has ${hostname.length} characters; an ACM certificate's domain name takes at most ${ACM_DOMAIN_NAME_LIMIT}. Choose a shorter hostname.`,
      undefined,
      400,
    );
  }
  const match = matchAllowedDomain(hostname, namespace, config.allowedDomains);
  if (!match.ok) {
    const allowed = match.allowedDomains.length ? match.allowedDomains.join(', ') : 'none';
    return deny(
      'DomainNotAllowed',
      `hostname "${hostname}" is not under a domain namespace "${namespace}" may use (${match.reason}). ` +
        `Allowed domains: ${allowed}. Ask the platform team to allowlist the domain.`,
      hostname,
    );
  }
  const warnings: string[] = [];
  const zoneName = zoneNameOf(ghr.spec.zoneId);
  if (zoneName !== undefined && !hostnameInZone(hostname, zoneName)) {
    return deny(
      'ZoneMismatch',
      `hostname "${hostname}" does not lie in hosted zone ${ghr.spec.zoneId} (${zoneName}). Use the id of the hosted zone that holds ${match.domain}.`,
      hostname,
    );
  }
  if (zoneName === undefined) warnings.push(`hosted zone ${ghr.spec.zoneId} is not known yet; the orchestrator checks it before writing any record.`);
  warnings.push('certificate issuance and DNS take a few minutes: watch `kubectl get ghr` until READY is True.');
  return { allowed: true, hostname, apexDomain: match.domain, warnings };
}

/** The claim held by another request, as the message of a denial. */
export function claimedDenial(hostname: string, holder: { namespace: string; name: string; hostname: string }): Deny {
  const what = holder.hostname === hostname ? `hostname "${hostname}"` : `hostname "${hostname}" overlaps "${holder.hostname}", which`;
  return deny(
    'HostnameClaimed',
    `${what} is already claimed by namespace "${holder.namespace}" (GatewayHostnameRequest "${holder.name}"). ` +
      `Hostnames are first come, first served: choose another hostname, or ask the owners of "${holder.namespace}" to delete their request.`,
    hostname,
  );
}

const IMMUTABLE_SPEC_FIELDS = ['hostname', 'zoneId', 'environment', 'visibility', 'gatewayClass'] as const;

/** UPDATE: immutable fields stay, and only privileged users may drop the cleanup finalizer. */
export function validateHostnameRequestUpdate(request: AdmissionRequest, privileged: boolean): Decision {
  const next = asHostnameRequest(request.object);
  const prev = asHostnameRequest(request.oldObject);
  if (typeof next === 'string' || typeof prev === 'string') return allow();
  for (const field of IMMUTABLE_SPEC_FIELDS) {
    if (prev.spec[field] !== undefined && next.spec[field] !== prev.spec[field]) {
      return deny(
        'ImmutableField',
        `spec.${field} of GatewayHostnameRequest "${prev.metadata.name}" cannot change (was "${String(prev.spec[field])}"); delete the request and create a new one.`,
        prev.spec.hostname,
      );
    }
  }
  const hadFinalizer = prev.metadata.finalizers?.includes(FINALIZER) ?? false;
  const hasFinalizer = next.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (hadFinalizer && !hasFinalizer && !privileged) {
    return deny(
      'FinalizerProtected',
      `the finalizer ${FINALIZER} on "${prev.metadata.name}" is removed by the orchestrator once AWS resources and the claim on "${prev.spec.hostname}" are cleaned up; delete the request and wait.`,
      prev.spec.hostname,
    );
  }
  return allow();
}

// ---- Routes ---------------------------------------------------------------------------------------

interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name?: string;
}

/** Hostnames of a route that the namespace may not use, or the denial for a hostname-less route. */
export type RouteCheck =
  | { kind: 'allow'; warnings: string[] }
  | { kind: 'deny'; decision: Deny }
  /** Not granted according to the cache: the server confirms with a direct read before denying. */
  | { kind: 'confirm'; hostnames: string[]; warnings: string[] };

export function checkRoute(request: AdmissionRequest, config: PlatformConfig, index: HostnameOwnershipIndex): RouteCheck {
  const route = request.object;
  if (!isObject(route)) return { kind: 'deny', decision: deny('InvalidRequest', 'route rejected: the object is missing.', undefined, 400) };
  const namespace = request.namespace ?? '';
  const spec = isObject(route['spec']) ? route['spec'] : {};
  const rawHostnames = Array.isArray(spec['hostnames']) ? (spec['hostnames'] as unknown[]) : [];
  const parentRefs = Array.isArray(spec['parentRefs']) ? (spec['parentRefs'] as ParentRef[]) : [];
  const kind = request.kind.kind;
  const name = isObject(route['metadata']) ? String(route['metadata']['name'] ?? '') : '';

  if (rawHostnames.length === 0) {
    const managed = parentRefs.find((ref) => isObject(ref) && isManagedGatewayRef(ref, namespace, config));
    if (managed) {
      return {
        kind: 'deny',
        decision: deny(
          'RouteWithoutHostnames',
          `${kind} "${name}" has no spec.hostnames but attaches to the shared Gateway ${config.pool.namespace}/${managed.name ?? ''}: ` +
            `it would receive the traffic of every hostname on that Gateway. List your own hostnames in spec.hostnames.`,
        ),
      };
    }
    return { kind: 'allow', warnings: [] };
  }

  const missing: string[] = [];
  const warnings: string[] = [];
  for (const raw of rawHostnames) {
    const normalised = normaliseHostname(raw);
    if (!normalised.ok) {
      return {
        kind: 'deny',
        decision: deny('InvalidHostname', `${kind} "${name}": hostname "${printable(raw)}" is not valid: ${normalised.reason}.`, undefined, 400),
      };
    }
    const hostname = normalised.hostname;
    if (!isManagedHostname(hostname, config.allowedDomains)) {
      if (parentRefs.some((ref) => isObject(ref) && isManagedGatewayRef(ref, namespace, config))) {
        warnings.push(`hostname "${hostname}" is not under a domain this platform manages; the shared Gateway has no certificate for it.`);
      }
      continue;
    }
    if (!index.isGrantedTo(hostname, namespace)) missing.push(hostname);
  }
  if (missing.length > 0) return { kind: 'confirm', hostnames: missing, warnings };
  return { kind: 'allow', warnings };
}

export function routeNotGrantedDenial(
  kind: string,
  routeName: string,
  namespace: string,
  hostname: string,
  holder: { namespace: string; name: string } | undefined,
): Deny {
  const who = holder ? `it belongs to namespace "${holder.namespace}" (GatewayHostnameRequest "${holder.name}")` : 'no GatewayHostnameRequest in this namespace claims it';
  return deny(
    'RouteHostnameNotGranted',
    `${kind} "${routeName}": hostname "${hostname}" is not granted to namespace "${namespace}": ${who}. ` +
      `Create a GatewayHostnameRequest for it in "${namespace}" first, or use a hostname your namespace owns.`,
    hostname,
  );
}

function isManagedGatewayRef(ref: ParentRef, routeNamespace: string, config: PlatformConfig): boolean {
  const group = ref.group ?? GATEWAY_API_GROUP;
  const kind = ref.kind ?? 'Gateway';
  const namespace = ref.namespace ?? routeNamespace;
  return group === GATEWAY_API_GROUP && kind === 'Gateway' && namespace === config.pool.namespace;
}

// ---- Protected objects ----------------------------------------------------------------------------

/** The orchestrator's ServiceAccount, and the break-glass groups, may write what it owns. */
export function isPrivileged(user: UserInfo, config: PlatformConfig): boolean {
  const sa = `system:serviceaccount:${config.orchestrator.namespace}:${config.orchestrator.serviceAccount}`;
  if (user.username === sa) return true;
  const groups = user.groups ?? [];
  return config.orchestrator.breakGlassGroups.some((g) => groups.includes(g));
}

/**
 * Claims, grants, request status and the pool's Gateways and LoadBalancerConfigurations are written
 * only by the orchestrator. On pool objects others (the load balancer controller) may still change
 * status and finalizers, which is what that controller does.
 */
export function validateProtectedWrite(request: AdmissionRequest, config: PlatformConfig): Decision {
  if (isPrivileged(request.userInfo, config)) return allow();
  const resource = request.resource.resource;
  const sub = request.subResource ? `/${request.subResource}` : '';
  const target = `${resource}${sub} ${request.namespace ? `${request.namespace}/` : ''}${request.name ?? ''}`.trim();
  const pool = resource === 'gateways' || resource === 'loadbalancerconfigurations';
  if (pool && (request.subResource === 'status' || (request.operation === 'UPDATE' && onlyStatusOrFinalizersChanged(request)))) {
    return allow();
  }
  return deny(
    'ProtectedResource',
    `${request.operation} of ${target} is reserved to the gateway-orchestrator (user "${request.userInfo.username}" is not allowed). ` +
      `Tenants use GatewayHostnameRequest and HTTPRoute; platform admins use the break-glass group (${config.orchestrator.breakGlassGroups.join(', ')}).`,
  );
}

function onlyStatusOrFinalizersChanged(request: AdmissionRequest): boolean {
  if (!isObject(request.object) || !isObject(request.oldObject)) return false;
  const strip = (o: Record<string, unknown>) => {
    const metadata = isObject(o['metadata']) ? { ...o['metadata'] } : {};
    for (const key of ['finalizers', 'resourceVersion', 'generation', 'managedFields', 'annotations']) delete metadata[key];
    return JSON.stringify({ ...o, status: undefined, metadata });
  };
  const annotationsOf = (o: Record<string, unknown>) => (isObject(o['metadata']) ? JSON.stringify(o['metadata']['annotations'] ?? {}) : '{}');
  return strip(request.object) === strip(request.oldObject) && annotationsOf(request.object) === annotationsOf(request.oldObject);
}

/** Keeps hostile input printable and short inside messages. */
export function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

