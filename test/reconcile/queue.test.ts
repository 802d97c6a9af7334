// The work queue on a fake clock: de-duplication, one run per key at a time, bounded concurrency,
// per-key back-off with jitter, addAfter.
import t from 'tap';
import { WorkQueue, failureDelayMs, type Timers } from '../../reconcile/queue.js';

class FakeTimers implements Timers {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { due: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { due: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers.delete(h as number);
  };
  /** Moves time forward, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].sort((a, b) => a[1].due - b[1].due)[0];
      if (!next || next[1].due > end) break;
      this.timers.delete(next[0]);
      this.t = next[1].due;
      next[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
  get pending(): number {
    return this.timers.size;
  }
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

/**
 * One worker: `blocker` runs until release(), `returning` asks on its first run to come back
 * after `requeueAfterMs`; every run is recorded in `runs`.
 */
function gatedQueue(returning: string, requeueAfterMs: number) {
  const timers = new FakeTimers();
  const runs: string[] = [];
  let gate!: () => void;
  const q = new WorkQueue({
    concurrency: 1,
    timers,
    worker: async (key) => {
      runs.push(key);
      if (key === 'blocker') await new Promise<void>((r) => (gate = r));
      if (key === returning && runs.filter((k) => k === returning).length === 1) return { requeueAfterMs };
    },
  });
  return { q, timers, runs, release: () => gate() };
}

t.test('back-off: doubling from the base, capped, jittered within [50%, 100%]', async (t) => {
  const cases: Array<[number, number, number]> = [
    [1, 0, 250],
    [1, 0.5, 375],
    [2, 0.5, 750],
    [5, 0.5, 6000],
    [30, 0.5, 45_000],
  ];
  for (const [failures, random, want] of cases) t.equal(failureDelayMs(failures, 500, 60_000, () => random), want, `${failures} failures, random ${random}`);
});

t.test('a key added many times while waiting runs once; added while running, runs again after', async (t) => {
  const timers = new FakeTimers();
  const runs: string[] = [];
  let release!: () => void;
  const q = new WorkQueue({
    concurrency: 1,
    timers,
    worker: async (key) => {
      runs.push(key);
      if (key === 'a' && runs.length === 1) await new Promise<void>((r) => (release = r));
    },
  });
  q.add('a');
  await settle();
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('b');
  await settle();
  t.same(runs, ['a'], 'a is running, b waits');
  release();
  await settle();
  t.same(runs, ['a', 'a', 'b'], 'a once more right after its first run (a follow-up), then b once');
  await q.idle();
});

t.test('follow-ups (back from addAfter, or added as such) go before keys added plainly, each lane in order', async (t) => {
  const { q, timers, runs, release } = gatedQueue('started', 1_000);
  q.add('started');
  await settle();
  t.same(runs, ['started'], 'its first step; it asks to come back in 1 s');
  q.add('blocker');
  await settle();
  for (let i = 0; i < 3; i++) q.add(`new${i}`);
  q.add('event', { followUp: true });
  await timers.advance(1_000); // "started" is due while the blocker runs and three new keys wait
  release();
  await q.idle();
  t.same(runs, ['started', 'blocker', 'event', 'started', 'new0', 'new1', 'new2']);
});

t.test('a key waiting out its delay goes with the follow-ups when an event brings it back; a follow-up add moves a plain key up', async (t) => {
  const { q, runs, release } = gatedQueue('waiting', 5_000);
  q.add('waiting');
  await settle();
  t.same(runs, ['waiting'], 'its first step; it asks to come back in 5 s');
  q.add('blocker');
  await settle();
  for (let i = 0; i < 3; i++) q.add(`new${i}`);
  q.add('plain');
  // The watch echo of its own status write, a plain add, arrives while it waits out its delay.
  q.add('waiting');
  // An event for a key waiting in the plain lane asks for a follow-up.
  q.add('plain', { followUp: true });
  t.equal(q.length, 5, 'five keys wait (the moved key counts once)');
  release();
  await q.idle();
  t.same(runs, ['waiting', 'blocker', 'waiting', 'plain', 'new0', 'new1', 'new2'], 'both before the new keys, each once');
  t.equal(q.pendingDelayed, 0, 'the delay was dropped, not kept as a second run');
});

t.test('concurrency is bounded', async (t) => {
  const timers = new FakeTimers();
  let active = 0;
  let max = 0;
  const q = new WorkQueue({
    concurrency: 3,
    timers,
    worker: async () => {
      active++;
      max = Math.max(max, active);
      await settle();
      active--;
    },
  });
  for (let i = 0; i < 20; i++) q.add(`k${i}`);
  await q.idle();
  t.equal(max, 3);
});

t.test('failures back off per key; success resets; events during back-off do not cause a hot loop', async (t) => {
  const timers = new FakeTimers();
  const runs: number[] = [];
  let fail = true;
  const q = new WorkQueue({
    concurrency: 1,
    timers,
    baseDelayMs: 1000,
    maxDelayMs: 8000,
    random: () => 0, // the low end of the jitter: delays 500, 1000, 2000
    worker: async () => {
      runs.push(timers.now());
      if (fail) throw new Error('boom');
    },
  });
  q.add('k');
  await settle();
  t.same(runs, [0]);
  t.equal(q.failuresOf('k'), 1);
  q.add('k'); // an event during the back-off does not make it run early
  await timers.advance(499);
  t.same(runs, [0], 'not before the back-off');
  await timers.advance(1);
  t.same(runs, [0, 500]);
  await timers.advance(1000);
  t.same(runs, [0, 500, 1500], 'doubled');
  fail = false;
  await timers.advance(2000);
  t.same(runs, [0, 500, 1500, 3500]);
  t.equal(q.failuresOf('k'), 0, 'reset after success');
  t.equal(timers.pending, 0, 'nothing scheduled after success');
});

t.test('addAfter: delayed, earliest wins, add() makes it immediate', async (t) => {
  const timers = new FakeTimers();
  const runs: Array<[string, number]> = [];
  const q = new WorkQueue({ concurrency: 1, timers, worker: async (key) => void runs.push([key, timers.now()]) });
  q.addAfter('a', 5000);
  q.addAfter('a', 2000);
  q.addAfter('a', 9000);
  q.addAfter('b', 3000);
  await timers.advance(10_000);
  t.same(runs, [
    ['a', 2000],
    ['b', 3000],
  ]);
  q.addAfter('c', 5000);
  q.add('c');
  await settle();
  t.same(runs.at(-1), ['c', 10_000]);
  await timers.advance(10_000);
  t.equal(runs.length, 3, 'the delayed entry was dropped');
});

t.test('a worker may ask to be polled again', async (t) => {
  const timers = new FakeTimers();
  const runs: number[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    timers,
    worker: async () => {
      runs.push(timers.now());
      return runs.length < 3 ? { requeueAfterMs: 1500 } : {};
    },
  });
  q.add('k');
  await settle();
  await timers.advance(10_000);
  t.same(runs, [0, 1500, 3000]);
});

t.test('stop drops waiting work and waits for running workers', async (t) => {
  const timers = new FakeTimers();
  let finished = false;
  const q = new WorkQueue({
    concurrency: 1,
    timers,
    worker: async () => {
      await new Promise((r) => setTimeout(r, 20));
      finished = true;
    },
  });
  q.add('a');
  q.add('b');
  q.addAfter('c', 1000);
  await settle();
  await q.stop();
  t.ok(finished, 'running worker finished');
  t.equal(q.length, 0);
  t.equal(timers.pending, 0);
  q.add('d');
  t.equal(q.length, 0, 'no work after stop');
});
