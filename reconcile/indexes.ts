// Secondary indexes the reconciler keeps from cache events, so that per-request work looks up
// what concerns one request (its grants, the requests waiting on a hostname, the validation
// names other requests use) instead of walking every cached object on every step.
import type { GatewayHostnameRequest, HostnameGrant } from '../policy/api.js';

const EMPTY: ReadonlySet<string> = new Set<string>();

/**
 * Keys by the values they are filed under, e.g. grant names by the request they name. Each key
 * holds a set of values; `set` replaces what the key held before, `delete` drops it.
 */
export class SetIndex {
  private readonly keysByValue = new Map<string, Set<string>>();
  private readonly valuesByKey = new Map<string, readonly string[]>();

  /** Files `key` under `values` (only), replacing what it was filed under. */
  set(key: string, values: Iterable<string>): void {
    const next = [...new Set(values)];
    const previous = this.valuesByKey.get(key);
    if (previous) {
      for (const v of previous) if (!next.includes(v)) this.remove(v, key);
    }
    if (next.length === 0) {
      this.valuesByKey.delete(key);
      return;
    }
    this.valuesByKey.set(key, next);
    for (const v of next) {
      let keys = this.keysByValue.get(v);
      if (!keys) this.keysByValue.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  delete(key: string): void {
    const previous = this.valuesByKey.get(key);
    if (!previous) return;
    for (const v of previous) this.remove(v, key);
    this.valuesByKey.delete(key);
  }

  /** The keys filed under `value` (live: copy before changing the index while iterating). */
  keysOf(value: string): ReadonlySet<string> {
    return this.keysByValue.get(value) ?? EMPTY;
  }

  /** Values with at least one key (tests). */
  get valueCount(): number {
    return this.keysByValue.size;
  }

  get keyCount(): number {
    return this.valuesByKey.size;
  }

  private remove(value: string, key: string): void {
    const keys = this.keysByValue.get(value);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.keysByValue.delete(value);
  }
}

/** "namespace/name" of the request a grant was made for, if it names one. */
export function grantRequestKey(grant: Pick<HostnameGrant, 'spec'>): string | undefined {
  const ref = grant.spec.requestRef;
  return ref ? `${ref.namespace}/${ref.name}` : undefined;
}

/** Grant names by the request (namespace/name) they were made for. */
export class GrantsByRequest {
  private readonly index = new SetIndex();

  update(event: 'add' | 'update' | 'delete', grant: Pick<HostnameGrant, 'spec' | 'metadata'>): void {
    const name = grant.metadata.name;
    if (!name) return;
    if (event === 'delete') {
      this.index.delete(name);
      return;
    }
    const ref = grantRequestKey(grant);
    this.index.set(name, ref ? [ref] : []);
  }

  /** Names of the grants made for the request `namespace/name`. */
  namesOf(requestKey: string): ReadonlySet<string> {
    return this.index.keysOf(requestKey);
  }

  get size(): number {
    return this.index.keyCount;
  }
}

type IndexedRequest = Pick<GatewayHostnameRequest, 'metadata' | 'spec' | 'status'>;

export function requestKey(r: { metadata?: { namespace?: string; name?: string } }): string {
  return `${r.metadata?.namespace ?? ''}/${r.metadata?.name ?? ''}`;
}

/**
 * The requests a reconciler serves, by key, with two secondary indexes: by hostname (which
 * requests a claim event concerns) and by the validation record names in their status (which
 * names live requests still need; requests being deleted do not count).
 */
export class RequestIndex<R extends IndexedRequest> {
  private readonly byKey = new Map<string, R>();
  private readonly hostnames = new SetIndex();
  private readonly validationNames = new SetIndex();

  update(event: 'add' | 'update' | 'delete', r: R): void {
    const key = requestKey(r);
    if (event === 'delete') {
      // A delete event may carry an older object than the cache held: drop by key.
      this.byKey.delete(key);
      this.hostnames.delete(key);
      this.validationNames.delete(key);
      return;
    }
    this.byKey.set(key, r);
    this.hostnames.set(key, r.spec.hostname ? [r.spec.hostname] : []);
    this.validationNames.set(key, r.metadata.deletionTimestamp ? [] : (r.status?.validationRecords ?? []).map((v) => v.name));
  }

  get(key: string): R | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<R> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Keys of the requests for `hostname`. */
  keysWithHostname(hostname: string): ReadonlySet<string> {
    return this.hostnames.keysOf(hostname);
  }

  /**
   * Of `names`, those a request other than the one with `exceptUid` still needs: named in the
   * validation records of its status, and not being deleted.
   */
  validationNamesInUse(names: Iterable<string>, exceptUid: string): Set<string> {
    const inUse = new Set<string>();
    for (const name of names) {
      for (const key of this.validationNames.keysOf(name)) {
        if (this.byKey.get(key)?.metadata.uid !== exceptUid) {
          inUse.add(name);
          break;
        }
      }
    }
    return inUse;
  }
}
