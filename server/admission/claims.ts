// First-come-first-serve, made atomic by the API server: a DomainClaim's name is derived from the
// hostname, so of two simultaneous creates exactly one succeeds, whichever replica handles it.
// Wildcard overlaps (*.example.com against a.example.com) span two names; for those each claimant
// writes its own claim first and then reads the other's (quorum reads). Of two racing claimants at
// least one sees the other, so both may lose (and retry) but never both win.
import { createHash } from 'node:crypto';
import { API_VERSION, KIND_CLAIM, LABEL_APEX, LABEL_MANAGED_BY, MANAGED_BY, type DomainClaim } from '../../policy/api.js';
import { claimNameFor, isWildcard, wildcardParent, isSameOrBelow } from '../../policy/hostname.js';
import { wildcardClaimsCovering } from '../../policy/ownership.js';
import type { KubeRest} from '../kube/rest.js';
import { isAlreadyExists, isConflict, isNotFound, paths } from '../kube/rest.js';

export interface ClaimHolder {
  namespace: string;
  name: string;
  hostname: string;
}

export type ClaimOutcome = { kind: 'claimed' } | { kind: 'already-ours' } | { kind: 'held'; holder: ClaimHolder };

export interface ClaimInput {
  hostname: string;
  apexDomain: string;
  namespace: string;
  name: string;
  dryRun: boolean;
}

export const apexLabelValue = (apexDomain: string): string => createHash('sha256').update(apexDomain).digest('hex').slice(0, 40);

/** When the webhook last admitted a request with this claim (set when it found the claim already its own). */
export const ANNOTATION_ADMITTED_AT = 'gateway-orchestrator.io/admitted-at';

/** Since when an unbound claim has been waiting for its request: its creation or latest admission. */
export function claimWaitingSince(claim: DomainClaim): number {
  const created = Date.parse(claim.metadata.creationTimestamp ?? '');
  const admitted = Date.parse(claim.metadata.annotations?.[ANNOTATION_ADMITTED_AT] ?? '');
  return Math.max(Number.isFinite(created) ? created : 0, Number.isFinite(admitted) ? admitted : 0);
}

const holderOf = (claim: DomainClaim): ClaimHolder => ({
  namespace: claim.spec.requestRef.namespace,
  name: claim.spec.requestRef.name,
  hostname: claim.spec.hostname,
});

export class ClaimStore {
  constructor(
    private readonly rest: KubeRest,
    private readonly fieldManager = 'gateway-orchestrator',
  ) {}

  /** Direct (uncached, quorum) read of the claim on one hostname. */
  async read(hostname: string): Promise<DomainClaim | undefined> {
    try {
      return await this.rest.get<DomainClaim>(paths.claims(claimNameFor(hostname)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async claim(input: ClaimInput): Promise<ClaimOutcome> {
    const exact = await this.claimExact(input);
    if (exact.kind === 'held') return exact;
    const overlap = await this.findOverlap(input);
    if (!overlap) return exact;
    if (exact.kind === 'claimed' && !input.dryRun) await this.release(input.hostname, input.namespace, input.name);
    return { kind: 'held', holder: overlap };
  }

  /**
   * Releases a claim whose request never came to exist, if it has waited `graceMs` since it was
   * created or last admitted. Read fresh and deleted with that resourceVersion as precondition, so
   * an admission that touches the claim in between wins (the delete fails with a conflict).
   */
  async releaseOrphan(hostname: string, namespace: string, name: string, graceMs: number, now = Date.now()): Promise<boolean> {
    const claim = await this.read(hostname);
    if (!claim || claim.spec.requestRef.namespace !== namespace || claim.spec.requestRef.name !== name) return false;
    if (now - claimWaitingSince(claim) < graceMs) return false;
    try {
      await this.rest.delete(paths.claims(claim.metadata.name ?? ''), {
        ...(claim.metadata.uid ? { preconditionUid: claim.metadata.uid } : {}),
        ...(claim.metadata.resourceVersion ? { preconditionResourceVersion: claim.metadata.resourceVersion } : {}),
      });
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  /** Deletes the claim on hostname if (and only if) it is held by namespace/name. */
  async release(hostname: string, namespace: string, name: string): Promise<boolean> {
    const claim = await this.read(hostname);
    if (!claim || claim.spec.requestRef.namespace !== namespace || claim.spec.requestRef.name !== name) return false;
    try {
      await this.rest.delete(paths.claims(claim.metadata.name ?? ''), claim.metadata.uid ? { preconditionUid: claim.metadata.uid } : {});
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async claimExact(input: ClaimInput): Promise<ClaimOutcome> {
    const body: DomainClaim = {
      apiVersion: API_VERSION,
      kind: KIND_CLAIM,
      metadata: {
        name: claimNameFor(input.hostname),
        labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_APEX]: apexLabelValue(input.apexDomain) },
      },
      spec: { hostname: input.hostname, requestRef: { namespace: input.namespace, name: input.name } },
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.rest.create(paths.claims(), body, { dryRun: input.dryRun, fieldManager: this.fieldManager });
        return { kind: 'claimed' };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      const existing = await this.read(input.hostname);
      if (!existing) continue; // released between our create and read: try again
      const holder = holderOf(existing);
      if (holder.namespace === input.namespace && holder.name === input.name) {
        // A retry of an admission whose object never came to exist: mark the claim as just
        // admitted, so the orphan release neither counts its grace from the first attempt nor
        // deletes it with a resourceVersion read before this write. The write is tied to the version
        // read: if the claim was released (404) or changed (409) since, decide again from the top.
        if (!input.dryRun && !(await this.markAdmitted(existing))) continue;
        return { kind: 'already-ours' };
      }
      return { kind: 'held', holder };
    }
    throw new Error(`claim on "${input.hostname}" kept changing hands; retry`);
  }

  /** Stamps the claim as just admitted; false if it is gone or no longer the version read. */
  private async markAdmitted(claim: DomainClaim): Promise<boolean> {
    const patch = { metadata: { resourceVersion: claim.metadata.resourceVersion, annotations: { [ANNOTATION_ADMITTED_AT]: new Date().toISOString() } } };
    try {
      await this.rest.patch(paths.claims(claim.metadata.name ?? ''), 'merge', patch);
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  /** A claim of another namespace that overlaps through a wildcard, if any. */
  private async findOverlap(input: ClaimInput): Promise<ClaimHolder | undefined> {
    const foreign = (claim: DomainClaim | undefined): claim is DomainClaim => !!claim && claim.spec.requestRef.namespace !== input.namespace;
    const covering = await Promise.all(wildcardClaimsCovering(input.hostname).map((w) => this.read(w)));
    const above = covering.find(foreign);
    if (above) return holderOf(above);
    if (!isWildcard(input.hostname)) return undefined;
    const parent = wildcardParent(input.hostname);
    const list = await this.rest.list<DomainClaim>(paths.claims(), { labelSelector: `${LABEL_APEX}=${apexLabelValue(input.apexDomain)}` });
    const below = list.items.find((c) => foreign(c) && c.spec.hostname !== parent && isSameOrBelow(stripWildcard(c.spec.hostname), parent));
    return below ? holderOf(below) : undefined;
  }
}

const stripWildcard = (hostname: string): string => (isWildcard(hostname) ? wildcardParent(hostname) : hostname);
