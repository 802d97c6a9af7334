// Who owns which hostname: the pure core of first-come-first-serve claims and of route ownership.
//
// Two wildcard semantics meet here. Gateway API route hostnames: `*.example.com` matches names any
// number of labels below example.com (never example.com itself). ACM and ALB: a wildcard matches
// exactly one label. Ownership follows the wider, Gateway API one, because a route is where a
// tenant could take traffic: a claim on `*.example.com` stands for every name strictly below
// example.com, so it conflicts with another namespace's claim on any of them (`a.example.com`,
// `b.a.example.com`, `*.a.example.com`). The apex `example.com` is a name of its own.
// Overlaps within one namespace are fine. All hostnames here are normalised (hostname.ts).

import { isStrictlyBelow, isWildcard, wildcardParent } from './hostname.js';

export interface HostnameHolder {
  hostname: string;
  namespace: string;
}

/**
 * Whether claims on `a` and `b` cannot both stand: held by different namespaces, and either the
 * same name or one is a wildcard `*.P` and the other lies strictly below P. Symmetric.
 * Two claims of one namespace never conflict (whether a claim on the same name belongs to the same
 * *request* is for the claim object to say, not this function).
 */
export function claimsConflict(a: HostnameHolder, b: HostnameHolder): boolean {
  if (a.namespace === b.namespace) return false;
  if (a.hostname === b.hostname) return true;
  if (isWildcard(a.hostname) && isStrictlyBelow(b.hostname, wildcardParent(a.hostname))) return true;
  if (isWildcard(b.hostname) && isStrictlyBelow(a.hostname, wildcardParent(b.hostname))) return true;
  return false;
}

/**
 * The wildcard hostnames whose claim by another namespace would conflict with a claim on
 * `hostname` from above, nearest first: `*.A` for every proper ancestor A of the name (of its
 * parent, for a wildcard) that has at least two labels, since `*.com` can never be claimed.
 *
 *   a.b.example.com  -> [*.b.example.com, *.example.com]
 *   *.b.example.com  -> [*.example.com]
 *   example.com, *.example.com -> []
 *
 * Together with "no other namespace claims a name strictly below P" (for a wildcard `*.P`, see
 * HostnameOwnershipIndex.wildcardConflictsBelow) and the exact name itself, this is every claim
 * claimsConflict could object to.
 */
export function wildcardClaimsCovering(hostname: string): string[] {
  const base = wildcardParent(hostname);
  const covering: string[] = [];
  forEachCoveringParent(base, (parent) => {
    covering.push(`*.${parent}`);
    return false;
  });
  return covering;
}

/** Calls `visit` with each proper ancestor of `name` that has two labels or more, nearest first; stops when it returns true. */
function forEachCoveringParent(name: string, visit: (parent: string) => boolean): boolean {
  let dot = name.indexOf('.');
  while (dot !== -1) {
    const next = name.indexOf('.', dot + 1);
    if (next === -1) return false;
    if (visit(name.slice(dot + 1))) return true;
    dot = next;
  }
  return false;
}

/** Proper ancestors of any length, for the per-parent claim counts. */
function forEachAncestor(name: string, visit: (ancestor: string) => void): void {
  let dot = name.indexOf('.');
  while (dot !== -1) {
    visit(name.slice(dot + 1));
    dot = name.indexOf('.', dot + 1);
  }
}

export interface ClaimEntry {
  hostname: string;
  namespace: string;
  /** Name of the GatewayHostnameRequest (in `namespace`) that holds the claim. */
  request: string;
}

export interface GrantEntry {
  hostname: string;
  namespace: string;
}

export interface ClaimHolder extends ClaimEntry {
  /** The DomainClaim object's name. */
  name: string;
}

/**
 * namespace -> how many claims and grants (or claims only) of it are counted under one key.
 * Nearly every hostname has one holding namespace, so that case is two fields rather than a Map
 * (about 13 MB less for 100,000 claims and their grants).
 */
class NamespaceCounts {
  private first: string;
  private firstCount = 1;
  private others: Map<string, number> | undefined;

  constructor(namespace: string) {
    this.first = namespace;
  }

  has(namespace: string): boolean {
    return (this.firstCount > 0 && this.first === namespace) || (this.others?.has(namespace) ?? false);
  }

  /** Some namespace other than `namespace` is counted here. */
  hasOtherThan(namespace: string): boolean {
    if (this.firstCount > 0 && this.first !== namespace) return true;
    if (this.others !== undefined) for (const other of this.others.keys()) if (other !== namespace) return true;
    return false;
  }

  add(namespace: string): void {
    if (this.first === namespace) this.firstCount++;
    else if (this.firstCount === 0 && !this.others?.has(namespace)) {
      this.first = namespace;
      this.firstCount = 1;
    } else {
      this.others ??= new Map();
      this.others.set(namespace, (this.others.get(namespace) ?? 0) + 1);
    }
  }

  /** Returns whether anything is left. */
  remove(namespace: string): boolean {
    if (this.first === namespace && this.firstCount > 0) this.firstCount--;
    else if (this.others !== undefined) {
      const count = this.others.get(namespace);
      if (count !== undefined) {
        if (count > 1) this.others.set(namespace, count - 1);
        else this.others.delete(namespace);
        if (this.others.size === 0) this.others = undefined;
      }
    }
    return this.firstCount > 0 || this.others !== undefined;
  }
}

function increment(map: Map<string, NamespaceCounts>, key: string, namespace: string): void {
  const counts = map.get(key);
  if (counts === undefined) map.set(key, new NamespaceCounts(namespace));
  else counts.add(namespace);
}

function decrement(map: Map<string, NamespaceCounts>, key: string, namespace: string): void {
  const counts = map.get(key);
  if (counts !== undefined && !counts.remove(namespace)) map.delete(key);
}

/**
 * What the route webhook knows about ownership: every DomainClaim and HostnameGrant, kept current
 * from informer events (set on add/update, delete on delete). Every lookup costs O(labels of the
 * name asked about), never O(entries): Maps keyed by hostname, plus per-parent counts.
 *
 * The index trusts what it is given to be normalised; it does not re-validate hostnames.
 */
export class HostnameOwnershipIndex {
  private readonly claims = new Map<string, ClaimHolder>();
  private readonly grants = new Map<string, GrantEntry>();
  /** Claims by hostname. Claim names are derived from hostnames, so there is normally one; a
   *  hand-made claim under another name must not make the real one disappear from the index. */
  private readonly claimsByHostname = new Map<string, ClaimHolder[]>();
  /** hostname -> namespaces holding it by claim or grant. */
  private readonly holders = new Map<string, NamespaceCounts>();
  /** P -> namespaces holding `*.P` by claim or grant (the same facts keyed so lookups need no concatenation). */
  private readonly wildcardHolders = new Map<string, NamespaceCounts>();
  /** ancestor -> namespaces holding claims strictly below it. */
  private readonly claimsBelow = new Map<string, NamespaceCounts>();

  get claimCount(): number {
    return this.claims.size;
  }

  get grantCount(): number {
    return this.grants.size;
  }

  /** Adds or replaces the DomainClaim called `name`. */
  setClaim(name: string, entry: ClaimEntry): void {
    this.deleteClaim(name);
    const claim: ClaimHolder = { name, hostname: entry.hostname, namespace: entry.namespace, request: entry.request };
    this.claims.set(name, claim);
    const same = this.claimsByHostname.get(claim.hostname);
    if (same === undefined) this.claimsByHostname.set(claim.hostname, [claim]);
    else same.push(claim);
    this.addHolder(claim.hostname, claim.namespace);
    forEachAncestor(claim.hostname, (ancestor) => increment(this.claimsBelow, ancestor, claim.namespace));
  }

  deleteClaim(name: string): void {
    const claim = this.claims.get(name);
    if (claim === undefined) return;
    this.claims.delete(name);
    const same = this.claimsByHostname.get(claim.hostname);
    if (same !== undefined) {
      const rest = same.filter((c) => c !== claim);
      if (rest.length === 0) this.claimsByHostname.delete(claim.hostname);
      else this.claimsByHostname.set(claim.hostname, rest);
    }
    this.removeHolder(claim.hostname, claim.namespace);
    forEachAncestor(claim.hostname, (ancestor) => decrement(this.claimsBelow, ancestor, claim.namespace));
  }

  /** Adds or replaces the HostnameGrant called `name`. */
  setGrant(name: string, entry: GrantEntry): void {
    this.deleteGrant(name);
    const grant: GrantEntry = { hostname: entry.hostname, namespace: entry.namespace };
    this.grants.set(name, grant);
    this.addHolder(grant.hostname, grant.namespace);
  }

  deleteGrant(name: string): void {
    const grant = this.grants.get(name);
    if (grant === undefined) return;
    this.grants.delete(name);
    this.removeHolder(grant.hostname, grant.namespace);
  }

  /**
   * The claim on exactly `hostname`, if any. Should two claims name one hostname (only possible
   * by hand), the longest-standing one in this index answers.
   */
  holderOf(hostname: string): Readonly<ClaimHolder> | undefined {
    return this.claimsByHostname.get(hostname)?.[0];
  }

  /**
   * Whether `namespace` may use `routeHostname` in a route: it holds that exact name (claim or
   * grant), or a wildcard `*.P` (claim or grant) with the route hostname strictly below P.
   *   route a.b.example.com: covered by *.b.example.com and *.example.com
   *   route *.x.example.com: covered by *.x.example.com (exact) and *.example.com
   *   route *.example.com:   NOT covered by a.example.com
   *
   * The most specific name anybody holds decides: if another namespace holds `a.example.com`
   * (say, by a hand-written grant for a legacy name), holding `*.example.com` does not let this
   * namespace route `a.example.com`, and `*.a.example.com` held elsewhere shadows `*.example.com`
   * for names below a.example.com. Claims cannot overlap like that across namespaces, but grants
   * and races can, and a route is where traffic would be taken.
   */
  isGrantedTo(routeHostname: string, namespace: string): boolean {
    const exact = this.holders.get(routeHostname);
    if (exact !== undefined) return exact.has(namespace);
    // Walk the covering wildcards nearest first (the loop of forEachCoveringParent, inlined: this
    // runs for every route hostname on every route admission).
    const base = wildcardParent(routeHostname);
    let dot = base.indexOf('.');
    while (dot !== -1) {
      const next = base.indexOf('.', dot + 1);
      if (next === -1) break;
      const held = this.wildcardHolders.get(base.slice(dot + 1));
      if (held !== undefined) return held.has(namespace);
      dot = next;
    }
    return false;
  }

  /**
   * Whether a namespace other than `namespace` holds a claim on any name strictly below `domain`
   * (`*.domain` included; `domain` itself not). A claim on `*.domain` must then be refused.
   */
  wildcardConflictsBelow(domain: string, namespace: string): boolean {
    return this.claimsBelow.get(domain)?.hasOtherThan(namespace) ?? false;
  }

  private addHolder(hostname: string, namespace: string): void {
    increment(this.holders, hostname, namespace);
    if (isWildcard(hostname)) increment(this.wildcardHolders, wildcardParent(hostname), namespace);
  }

  private removeHolder(hostname: string, namespace: string): void {
    decrement(this.holders, hostname, namespace);
    if (isWildcard(hostname)) decrement(this.wildcardHolders, wildcardParent(hostname), namespace);
  }
}
