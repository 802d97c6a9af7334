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
 * Who holds one key (a hostname, a wildcard's parent, an ancestor of claims), by namespace id
 * (HostnameOwnershipIndex.namespaceIds), with how many claims and grants (or claims only) of that
 * namespace are counted under the key.
 *
 * Nearly every key has one holding namespace, so that case is a small integer stored in the Map
 * entry itself, `id << COUNT_BITS | count`: a lookup reads the answer from the entry it has just
 * found, with no object to follow into the heap (at 100,000 holders every such load is a cache
 * miss). Several namespaces, or more than COUNT_MASK entries of one, become a Map id -> count.
 */
type Holding = number | Map<number, number>;

const COUNT_BITS = 10;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
/** Ids below this pack with a count into a small integer (below 2^30, a V8 Smi). */
const MAX_PACKED_ID = 1 << 20;

function holds(holding: Holding, id: number): boolean {
  return typeof holding === 'number' ? holding >>> COUNT_BITS === id : holding.has(id);
}

/** Some namespace other than `id` is counted here. */
function holdsOtherThan(holding: Holding, id: number): boolean {
  if (typeof holding === 'number') return holding >>> COUNT_BITS !== id;
  for (const other of holding.keys()) if (other !== id) return true;
  return false;
}

function increment(map: HoldingMap, key: string, id: number): void {
  const holding = map.get(key);
  if (holding === undefined) {
    map.set(key, id < MAX_PACKED_ID ? (id << COUNT_BITS) | 1 : new Map([[id, 1]]));
  } else if (typeof holding === 'number') {
    const holder = holding >>> COUNT_BITS;
    const count = holding & COUNT_MASK;
    if (holder === id && count < COUNT_MASK) {
      map.set(key, holding + 1);
    } else {
      const shared = new Map([[holder, count]]);
      shared.set(id, (shared.get(id) ?? 0) + 1);
      map.set(key, shared);
    }
  } else {
    holding.set(id, (holding.get(id) ?? 0) + 1);
  }
}

function decrement(map: HoldingMap, key: string, id: number): void {
  const holding = map.get(key);
  if (holding === undefined) return;
  if (typeof holding === 'number') {
    if (holding >>> COUNT_BITS !== id) return;
    if ((holding & COUNT_MASK) > 1) map.set(key, holding - 1);
    else map.delete(key);
    return;
  }
  const count = holding.get(id);
  if (count === undefined) return;
  if (count > 1) holding.set(id, count - 1);
  else holding.delete(id);
  if (holding.size === 0) {
    map.delete(key);
  } else if (holding.size === 1) {
    const [only, left] = holding.entries().next().value as [number, number];
    if (only < MAX_PACKED_ID && left <= COUNT_MASK) map.set(key, (only << COUNT_BITS) | left);
  }
}

/** What increment and decrement need of a map from keys to Holdings. */
interface HoldingMap {
  get(key: string): Holding | undefined;
  set(key: string, holding: Holding): unknown;
  delete(key: string): unknown;
}

const SLOT_BYTES = 64;
const SLOT_INTS = SLOT_BYTES / 4;
/** Slot header, in 32-bit words: the key's hash, the value, the key's length + 1 (0: empty), inline (1) or not (0). */
const HASH = 0;
const VALUE = 1;
const LENGTH = 2;
const INLINE = 3;
const HEADER_BYTES = 16;
/** Keys of at most this many characters below U+0100 (every normalised hostname short enough) live in the slot. */
const INLINE_CHARS = SLOT_BYTES - HEADER_BYTES;
const MIN_SLOTS = 16;

/**
 * key -> Holding for the lookups every route admission makes (`holders`, `wildcardHolders`): open
 * addressing with linear probing in one ArrayBuffer, 64 bytes (one cache line) per slot holding
 * the key's hash, the value and the key's characters. A lookup that finds its key reads one cache
 * line, where a V8 Map reads its bucket, then the entry, then the key string: three unrelated
 * places in a heap of 100+ MiB, each a cache and TLB miss at 100,000 holders. A miss usually ends
 * at the first empty slot, in the same or the next line.
 *
 * Values: a packed Holding (a non-negative small integer) is stored as it is; a shared one (a
 * Map) as -1 - its index in `shared`. The hash is seeded per table (random), so names chosen to
 * collide in one process do not collide in another; the table is at most 3/4 full.
 * Deletion shifts later entries of the probe run back (no tombstones), so every lookup stays as
 * short as the entries present make it.
 */
export class HoldingTable implements HoldingMap {
  private slots = MIN_SLOTS;
  private ints = new Int32Array(MIN_SLOTS * SLOT_INTS);
  private bytes = new Uint8Array(this.ints.buffer);
  /** Keys that are not inline, by slot. */
  private longKeys: Array<string | undefined> = [];
  private readonly shared: Array<Map<number, number> | undefined> = [];
  private readonly freeShared: number[] = [];
  private count = 0;

  constructor(private readonly seed: number = (Math.random() * 0x100000000) | 0) {}

  get size(): number {
    return this.count;
  }

  /** Seeded FNV-1a over the UTF-16 code units, then murmur3's finaliser to spread the low bits. */
  hash(key: string): number {
    let h = (0x811c9dc5 ^ this.seed) | 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot holding `key`, or -1 - the empty slot where it would go. */
  private find(key: string, hash: number): number {
    const ints = this.ints;
    const bytes = this.bytes;
    const mask = this.slots - 1;
    const length = key.length + 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const base = slot * SLOT_INTS;
      const stored = ints[base + LENGTH]!;
      if (stored === 0) return -1 - slot;
      if (ints[base + HASH] !== hash || stored !== length) continue;
      if (ints[base + INLINE] === 1) {
        let i = 0;
        const at = slot * SLOT_BYTES + HEADER_BYTES;
        while (i < key.length && bytes[at + i] === key.charCodeAt(i)) i++;
        if (i === key.length) return slot;
      } else if (this.longKeys[slot] === key) {
        return slot;
      }
    }
  }

  get(key: string): Holding | undefined {
    const slot = this.find(key, this.hash(key));
    if (slot < 0) return undefined;
    const value = this.ints[slot * SLOT_INTS + VALUE]!;
    return value >= 0 ? value : this.shared[-1 - value];
  }

  set(key: string, holding: Holding): this {
    const hash = this.hash(key);
    let slot = this.find(key, hash);
    if (slot >= 0) {
      const base = slot * SLOT_INTS;
      const old = this.ints[base + VALUE]!;
      if (old < 0 && this.shared[-1 - old] === holding) return this;
      this.ints[base + VALUE] = this.encode(holding);
      if (old < 0) this.releaseShared(-1 - old);
      return this;
    }
    if ((this.count + 1) * 4 > this.slots * 3) {
      this.grow();
      slot = this.find(key, hash);
    }
    this.place(-1 - slot, key, hash, this.encode(holding));
    this.count++;
    return this;
  }

  delete(key: string): boolean {
    let hole = this.find(key, this.hash(key));
    if (hole < 0) return false;
    const ints = this.ints;
    const old = ints[hole * SLOT_INTS + VALUE]!;
    if (old < 0) this.releaseShared(-1 - old);
    // Shift back every later entry of the run that may move to the hole: one whose home slot is
    // not cyclically within (hole, its slot].
    const mask = this.slots - 1;
    for (let slot = (hole + 1) & mask; ints[slot * SLOT_INTS + LENGTH] !== 0; slot = (slot + 1) & mask) {
      const home = ints[slot * SLOT_INTS + HASH]! & mask;
      const stays = hole < slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (stays) continue;
      this.bytes.copyWithin(hole * SLOT_BYTES, slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES);
      this.longKeys[hole] = this.longKeys[slot];
      hole = slot;
    }
    ints.fill(0, hole * SLOT_INTS, (hole + 1) * SLOT_INTS);
    this.longKeys[hole] = undefined;
    this.count--;
    return true;
  }

  private place(slot: number, key: string, hash: number, value: number): void {
    const base = slot * SLOT_INTS;
    this.ints[base + HASH] = hash;
    this.ints[base + VALUE] = value;
    this.ints[base + LENGTH] = key.length + 1;
    let inline = key.length <= INLINE_CHARS;
    for (let i = 0; inline && i < key.length; i++) if (key.charCodeAt(i) > 0xff) inline = false;
    if (inline) {
      const at = slot * SLOT_BYTES + HEADER_BYTES;
      for (let i = 0; i < key.length; i++) this.bytes[at + i] = key.charCodeAt(i);
      this.ints[base + INLINE] = 1;
      this.longKeys[slot] = undefined;
    } else {
      this.ints[base + INLINE] = 0;
      this.longKeys[slot] = key;
    }
  }

  private grow(): void {
    const oldBytes = this.bytes;
    const oldInts = this.ints;
    const oldLong = this.longKeys;
    const oldSlots = this.slots;
    this.slots *= 2;
    this.ints = new Int32Array(this.slots * SLOT_INTS);
    this.bytes = new Uint8Array(this.ints.buffer);
    this.longKeys = [];
    const mask = this.slots - 1;
    for (let from = 0; from < oldSlots; from++) {
      const base = from * SLOT_INTS;
      if (oldInts[base + LENGTH] === 0) continue;
      let to = oldInts[base + HASH]! & mask;
      while (this.ints[to * SLOT_INTS + LENGTH] !== 0) to = (to + 1) & mask;
      this.bytes.set(oldBytes.subarray(from * SLOT_BYTES, (from + 1) * SLOT_BYTES), to * SLOT_BYTES);
      if (oldLong[from] !== undefined) this.longKeys[to] = oldLong[from];
    }
  }

  private encode(holding: Holding): number {
    if (typeof holding === 'number') return holding;
    const index = this.freeShared.pop() ?? this.shared.length;
    this.shared[index] = holding;
    return -1 - index;
  }

  private releaseShared(index: number): void {
    this.shared[index] = undefined;
    this.freeShared.push(index);
  }
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
  /** Claims by hostname. Claim names are derived from hostnames, so there is normally one (kept
   *  as is: no array per claim for the collector to trace); a hand-made claim under another name
   *  must not make the real one disappear from the index (then an array, oldest first). */
  private readonly claimsByHostname = new Map<string, ClaimHolder | ClaimHolder[]>();
  /** hostname -> namespaces holding it by claim or grant. */
  private readonly holders = new HoldingTable();
  /** P -> namespaces holding `*.P` by claim or grant (the same facts keyed so lookups need no concatenation). */
  private readonly wildcardHolders = new HoldingTable();
  /** ancestor -> namespaces holding claims strictly below it. */
  private readonly claimsBelow = new Map<string, Holding>();
  /**
   * namespace -> its id in the Holdings above, for every namespace with at least one claim or
   * grant here. The name is interned: claims and grants keep this one string, not a copy each.
   */
  private readonly namespaceIds = new Map<string, number>();
  /** id -> the namespace's name and how many claims and grants it has here (0: the id is free). */
  private readonly namespaceNames: string[] = [];
  private readonly namespaceRefs: number[] = [];
  private readonly freeIds: number[] = [];

  get claimCount(): number {
    return this.claims.size;
  }

  get grantCount(): number {
    return this.grants.size;
  }

  /** Adds or replaces the DomainClaim called `name`. */
  setClaim(name: string, entry: ClaimEntry): void {
    this.deleteClaim(name);
    const id = this.acquireNamespace(entry.namespace);
    const claim: ClaimHolder = { name, hostname: entry.hostname, namespace: this.namespaceNames[id]!, request: entry.request };
    this.claims.set(name, claim);
    const same = this.claimsByHostname.get(claim.hostname);
    if (same === undefined) this.claimsByHostname.set(claim.hostname, claim);
    else if (Array.isArray(same)) same.push(claim);
    else this.claimsByHostname.set(claim.hostname, [same, claim]);
    this.addHolder(claim.hostname, id);
    forEachAncestor(claim.hostname, (ancestor) => increment(this.claimsBelow, ancestor, id));
  }

  deleteClaim(name: string): void {
    const claim = this.claims.get(name);
    if (claim === undefined) return;
    const id = this.namespaceIds.get(claim.namespace)!;
    this.claims.delete(name);
    const same = this.claimsByHostname.get(claim.hostname);
    if (same === claim) this.claimsByHostname.delete(claim.hostname);
    else if (Array.isArray(same)) {
      const rest = same.filter((c) => c !== claim);
      if (rest.length === 1) this.claimsByHostname.set(claim.hostname, rest[0]!);
      else this.claimsByHostname.set(claim.hostname, rest);
    }
    this.removeHolder(claim.hostname, id);
    forEachAncestor(claim.hostname, (ancestor) => decrement(this.claimsBelow, ancestor, id));
    this.releaseNamespace(id);
  }

  /** Adds or replaces the HostnameGrant called `name`. */
  setGrant(name: string, entry: GrantEntry): void {
    this.deleteGrant(name);
    const id = this.acquireNamespace(entry.namespace);
    const grant: GrantEntry = { hostname: entry.hostname, namespace: this.namespaceNames[id]! };
    this.grants.set(name, grant);
    this.addHolder(grant.hostname, id);
  }

  deleteGrant(name: string): void {
    const grant = this.grants.get(name);
    if (grant === undefined) return;
    const id = this.namespaceIds.get(grant.namespace)!;
    this.grants.delete(name);
    this.removeHolder(grant.hostname, id);
    this.releaseNamespace(id);
  }

  /**
   * The claim on exactly `hostname`, if any. Should two claims name one hostname (only possible
   * by hand), the longest-standing one in this index answers.
   */
  holderOf(hostname: string): Readonly<ClaimHolder> | undefined {
    const claims = this.claimsByHostname.get(hostname);
    return Array.isArray(claims) ? claims[0] : claims;
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
    // A namespace without any claim or grant here is granted nothing, whoever holds the name.
    const id = this.namespaceIds.get(namespace);
    if (id === undefined) return false;
    const exact = this.holders.get(routeHostname);
    if (exact !== undefined) return holds(exact, id);
    // Walk the covering wildcards nearest first (the loop of forEachCoveringParent, inlined: this
    // runs for every route hostname on every route admission).
    const base = wildcardParent(routeHostname);
    let dot = base.indexOf('.');
    while (dot !== -1) {
      const next = base.indexOf('.', dot + 1);
      if (next === -1) break;
      const held = this.wildcardHolders.get(base.slice(dot + 1));
      if (held !== undefined) return holds(held, id);
      dot = next;
    }
    return false;
  }

  /**
   * Whether a namespace other than `namespace` holds a claim on any name strictly below `domain`
   * (`*.domain` included; `domain` itself not). A claim on `*.domain` must then be refused.
   */
  wildcardConflictsBelow(domain: string, namespace: string): boolean {
    const below = this.claimsBelow.get(domain);
    if (below === undefined) return false;
    // -1: no namespace has that id, so any holder is another namespace.
    return holdsOtherThan(below, this.namespaceIds.get(namespace) ?? -1);
  }

  private acquireNamespace(namespace: string): number {
    let id = this.namespaceIds.get(namespace);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.namespaceRefs.length;
      this.namespaceIds.set(namespace, id);
      this.namespaceNames[id] = namespace;
      this.namespaceRefs[id] = 0;
    }
    this.namespaceRefs[id]!++;
    return id;
  }

  /** Once a namespace has no claim or grant left, no Holding names its id and it can be reused. */
  private releaseNamespace(id: number): void {
    if (--this.namespaceRefs[id]! > 0) return;
    this.namespaceIds.delete(this.namespaceNames[id]!);
    this.namespaceNames[id] = '';
    this.freeIds.push(id);
  }

  private addHolder(hostname: string, id: number): void {
    increment(this.holders, hostname, id);
    if (isWildcard(hostname)) increment(this.wildcardHolders, wildcardParent(hostname), id);
  }

  private removeHolder(hostname: string, id: number): void {
    decrement(this.holders, hostname, id);
    if (isWildcard(hostname)) decrement(this.wildcardHolders, wildcardParent(hostname), id);
  }
}
