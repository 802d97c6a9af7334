// One copy of each repeated string in the informer caches. JSON.parse gives every object from a
// list or watch its own copies of the text it shares with thousands of others: apiVersion, kind,
// namespace names, condition types, reasons and timestamps, hostnames (a request's, its claim's
// and its grant's), an ALB's DNS name in the status of every request on it. A heap snapshot at
// 5,000 requests found 23 of the 39 MiB of strings to be such copies (docs/BENCHMARKS.md).
// Sharing is invisible to the code reading the objects: strings are immutable.
//
// Bounded: the pool forgets everything when it reaches `maxEntries` (objects keep the copies they
// have; later ones share anew), so names of deleted objects are not kept for long. Values that
// differ in every version of an object (resourceVersion, uid) are not pooled at all.

/** Keys whose string values are unique per object or per version: pooling them would only churn. */
const UNIQUE_KEYS = new Set(['resourceVersion', 'uid']);
/** Longer strings are rarely repeated (condition messages name their request). */
const MAX_LENGTH = 256;

export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly maxEntries = 50_000) {}

  get size(): number {
    return this.pool.size;
  }

  intern(value: string): string {
    const known = this.pool.get(value);
    if (known !== undefined) return known;
    if (this.pool.size >= this.maxEntries) this.pool.clear();
    this.pool.set(value, value);
    return value;
  }

  /** Replaces, in place, every pooled string in a JSON value (objects and arrays, any depth). */
  share<T>(value: T): T {
    this.shareIn(value as unknown);
    return value;
  }

  private shareIn(value: unknown): void {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'string') {
          if (item.length <= MAX_LENGTH) value[i] = this.intern(item);
        } else if (typeof item === 'object' && item !== null) {
          this.shareIn(item);
        }
      }
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'string') {
        if (item.length <= MAX_LENGTH && !UNIQUE_KEYS.has(key)) record[key] = this.intern(item);
      } else if (typeof item === 'object' && item !== null) {
        this.shareIn(item);
      }
    }
  }
}
