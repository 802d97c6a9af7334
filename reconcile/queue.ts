// The reconciler's work queue: keys (namespace/name of a request) de-duplicated while waiting,
// never processed twice at once, retried with per-key exponential back-off and jitter when the
// worker fails, delayed with addAfter, at most `concurrency` workers running. Time comes from an
// injectable Timers so tests run on a fake clock.
//
// Two lanes, both first in, first out: follow-ups (a key back from its own addAfter, back-off or
// re-run, or added as a follow-up) go before keys added plainly (new objects, the periodic
// resync). A request half-way through provisioning, whose certificate was just issued, then does
// not wait behind a thousand requests not yet started: the bulk benchmark's median wait from
// "certificate requested" to "placed" was 24 s at 1,000 requests with one lane
// (docs/BENCHMARKS.md). Follow-ups cannot starve new keys for long: each is one key's next step,
// and every key waits out its delay before it comes back.
//
// A key waiting out its delay is work under way too: an event that brings it back early (the
// watch echo of its own status write, the periodic resync) puts it with the follow-ups, and a
// follow-up add moves a key already waiting in the plain lane up. Without that, the echo of a
// status write moved a request from its 5 s delay to the back of a thousand new keys: at 1,000
// requests whole Gateways' worth of requests waited 60 s for their next look.

type Lane = 'followUp' | 'ready';

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What a worker may ask for after a successful run: come back later (polling with a reason). */
export interface WorkResult {
  requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  concurrency: number;
  worker: (key: string) => Promise<WorkResult | void>;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** [0, 1); injectable for deterministic tests. */
  random?: () => number;
  timers?: Timers;
}

/** Back-off after the n-th consecutive failure (n >= 1): base * 2^(n-1), capped, jittered to [50%, 100%]. */
export function failureDelayMs(failures: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, failures - 1));
  return Math.max(1, Math.round(ceiling * (0.5 + 0.5 * random())));
}

export class WorkQueue {
  private readonly followUps: string[] = [];
  private readonly ready: string[] = [];
  /** The lane each waiting key is in; an entry of the other lane's array is stale (moved up). */
  private readonly queued = new Map<string, Lane>();
  private readonly running = new Set<string>();
  /** Keys added while running: processed again once the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { due: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly backoffUntil = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private active = 0;
  private stopped = false;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly base: number;
  private readonly max: number;

  constructor(private readonly options: WorkQueueOptions) {
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.base = options.baseDelayMs ?? 500;
    this.max = options.maxDelayMs ?? 300_000;
  }

  /**
   * Process `key` as soon as a worker is free (once, however often it is added meanwhile);
   * `followUp`: before keys added plainly (a step of work already under way).
   */
  add(key: string, options: { followUp?: boolean } = {}): void {
    if (this.stopped) return;
    // A failing key waits out its back-off, however many events arrive for it meanwhile.
    const until = this.backoffUntil.get(key);
    if (until !== undefined && until > this.timers.now() && !this.running.has(key)) {
      this.addAfter(key, until - this.timers.now());
      return;
    }
    const timer = this.delayed.get(key);
    if (timer) {
      this.timers.clearTimeout(timer.handle);
      this.delayed.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    const lane: Lane = options.followUp || timer ? 'followUp' : 'ready';
    const current = this.queued.get(key);
    if (current === 'followUp' || current === lane) return;
    // New, or moved up from the plain lane (its old entry there is skipped when reached).
    this.queued.set(key, lane);
    (lane === 'followUp' ? this.followUps : this.ready).push(key);
    this.pump();
  }

  /** Process `key` after `ms`; an earlier pending time wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.backoffUntil.delete(key);
      return this.add(key, { followUp: true });
    }
    if (this.queued.has(key)) return;
    const due = this.timers.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) return;
    if (existing) this.timers.clearTimeout(existing.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.backoffUntil.delete(key);
      this.add(key, { followUp: true });
    }, ms);
    this.delayed.set(key, { due, handle });
  }

  /** Consecutive failures of `key` so far. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Forgets a key's failures (e.g. the object was deleted). */
  forget(key: string): void {
    this.failures.delete(key);
    this.backoffUntil.delete(key);
  }

  get length(): number {
    return this.queued.size;
  }

  get pendingDelayed(): number {
    return this.delayed.size;
  }

  /** Resolves when nothing is ready or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.active === 0 && this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Accepts work again after stop() (leadership regained). */
  resume(): void {
    this.stopped = false;
  }

  /** Drops everything waiting and resolves when running workers have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.backoffUntil.clear();
    this.followUps.length = 0;
    this.ready.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.concurrency && this.length > 0) {
      const key = this.next();
      if (key === undefined) break;
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
    if (this.active === 0 && this.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The first follow-up, else the first plain key; stale entries (keys moved up) are dropped. */
  private next(): string | undefined {
    for (const [entries, lane] of [
      [this.followUps, 'followUp'],
      [this.ready, 'ready'],
    ] as const) {
      while (entries.length > 0) {
        const key = entries.shift()!;
        if (this.queued.get(key) !== lane) continue;
        this.queued.delete(key);
        return key;
      }
    }
    return undefined;
  }

  private async run(key: string): Promise<void> {
    let retryInMs: number | undefined;
    let failed = false;
    try {
      const result = await this.options.worker(key);
      this.failures.delete(key);
      this.backoffUntil.delete(key);
      retryInMs = result?.requeueAfterMs;
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      failed = true;
      retryInMs = failureDelayMs(n, this.base, this.max, this.random);
      this.backoffUntil.set(key, this.timers.now() + retryInMs);
      try {
        this.options.onError?.(key, err, retryInMs);
      } catch {
        // a failing error handler must not stop the queue
      }
    } finally {
      this.running.delete(key);
      this.active--;
    }
    // A failed key waits out its back-off even when events arrived meanwhile: no hot retry loop.
    const dirty = this.dirty.delete(key);
    if (dirty && !failed) this.add(key, { followUp: true });
    else if (retryInMs !== undefined) this.addAfter(key, retryInMs);
    this.pump();
  }
}
