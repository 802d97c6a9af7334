// One copy of each repeated string in the informer caches. JSON.parse gives every object from a
// list or watch its own copies of the text it shares with thousands of others: apiVersion, kind,
// namespace names, condition types, reasons and timestamps, hostnames (a request's, its claim's
// and its grant's), an ALB's DNS name in the status of every request on it. A heap snapshot at
// 5,000 requests found 23 of the 39 MiB of strings to be such copies (docs/BENCHMARKS.md).
// Sharing is invisible to the code reading the objects: strings are immutable.
//
// Bounded: the pool forgets everything when it reaches `maxEntries` (objects keep the copies they
// have; later ones share anew), so it keeps at most 50,000 strings of at most 256 characters that
// no object holds any more. Values unique to one object or one version of it (resourceVersion,
// uid, a condition's message, which names its request) are not pooled at all: they would only
// fill the pool.

const UNIQUE_KEYS = new Set(['resourceVersion', 'uid', 'message']);
/** Longer strings are rarely repeated, and would make the forgotten strings the pool keeps larger. */
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
