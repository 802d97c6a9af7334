// The admission handlers: policy decisions (pure) plus the little state they need (caches, the
// claim create). Handlers read caches and never call AWS; the claim create is their only write.
import {
  allow,
  checkHostnameRequestCreate,
  checkRoute,
  claimedDenial,
  isPrivileged,
  mutateHostnameRequest,
  routeNotGrantedDenial,
  validateHostnameRequestUpdate,
  validateProtectedWrite,
  type AdmissionRequest,
  type Decision,
} from '../../policy/admission.js';
import type { PlatformConfig } from '../../policy/config.js';
import type { HostnameOwnershipIndex } from '../../policy/ownership.js';
import { wildcardClaimsCovering } from '../../policy/ownership.js';
import type { ClaimStore } from './claims.js';

/**
 * Decides one review. A handler that needs no I/O answers synchronously (a route decided from the
 * index, a mutation): the decorators and the server then pass the decision on without a promise
 * per layer. Callers await the result either way.
 */
export type Handler = (request: AdmissionRequest) => Decision | Promise<Decision>;

/** The result of a Handler is still to come. */
export function isPending(result: Decision | Promise<Decision>): result is Promise<Decision> {
  return typeof (result as { then?: unknown }).then === 'function';
}

export interface AdmissionState {
  config: PlatformConfig;
  /** Claims and grants from the informer caches. */
  index: HostnameOwnershipIndex;
  claims: Pick<ClaimStore, 'claim' | 'read'>;
  /** Zone names the reconciler has read from Route53; undefined when not known (yet). */
  zoneNameOf: (zoneId: string) => string | undefined;
}

export function mutateRequestHandler(state: AdmissionState): Handler {
  return (request) => (request.operation === 'CREATE' ? mutateHostnameRequest(request, state.config) : allow());
}

export function validateRequestHandler(state: AdmissionState): Handler {
  return async (request) => {
    switch (request.operation) {
      case 'CREATE': {
        const check = checkHostnameRequestCreate(request, state.config, state.zoneNameOf);
        if (!check.allowed) return check;
        const namespace = request.namespace ?? '';
        const name = request.name || ((request.object as { metadata?: { name?: string } }).metadata?.name ?? '');
        const outcome = await state.claims.claim({
          hostname: check.hostname,
          apexDomain: check.apexDomain,
          namespace,
          name,
          dryRun: request.dryRun === true,
        });
        if (outcome.kind === 'held') return claimedDenial(check.hostname, outcome.holder);
        return allow(check.warnings);
      }
      case 'UPDATE':
        return validateHostnameRequestUpdate(request, isPrivileged(request.userInfo, state.config));
      default:
        // DELETE: the finalizer cleans up and releases the claim at its end.
        return allow();
    }
  };
}

export function validateRouteHandler(state: AdmissionState): Handler {
  return (request) => {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
    const check = checkRoute(request, state.config, state.index);
    if (check.kind === 'deny') return check.decision;
    if (check.kind === 'allow') return allow(check.warnings);
    return confirmFromClaims(state, request, check.hostnames, check.warnings);
  };
}

/**
 * Not granted according to the cache: a claim made a moment ago (request and route in one
 * `kubectl apply`) may not have reached it. Read the deterministic claim names directly.
 */
async function confirmFromClaims(state: AdmissionState, request: AdmissionRequest, hostnames: string[], warnings: string[]): Promise<Decision> {
  const namespace = request.namespace ?? '';
  const routeName = (request.object as { metadata?: { name?: string } }).metadata?.name ?? request.name ?? '';
  for (const hostname of hostnames) {
    // The exact name first, then covering wildcards nearest first: the most specific claim decides.
    const candidates = [hostname, ...wildcardClaimsCovering(hostname)];
    const claims = await Promise.all(candidates.map((h) => state.claims.read(h)));
    const decisive = claims.find((c) => c !== undefined);
    if (decisive && decisive.spec.requestRef.namespace === namespace) continue;
    return routeNotGrantedDenial(request.kind.kind, routeName, namespace, hostname, decisive?.spec.requestRef);
  }
  return allow(warnings);
}

export function validateProtectedHandler(state: AdmissionState): Handler {
  return (request) => validateProtectedWrite(request, state.config);
}
