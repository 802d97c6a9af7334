// A virtual clock for budget tests: sleep() parks the caller on a timer, run() moves time to
// each due timer in order, letting pending promise callbacks settle between steps.
import type { Clock } from '../../reconcile/aws/budget.js';

export class FakeClock implements Clock {
  private t = 0;
  private timers: Array<{ due: number; seq: number; resolve: () => void }> = [];
  private seq = 0;
  readonly sleeps: number[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => this.timers.push({ due: this.t + ms, seq: this.seq++, resolve }));
  }

  /** Advances virtual time until no timer is left and `done` (if given) has settled. */
  async run(done?: Promise<unknown>): Promise<void> {
    let settled = false;
    void done?.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.timers.length === 0) {
        if (!done || settled) return;
        continue;
      }
      this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.due);
      next.resolve();
    }
  }

  advance(ms: number): void {
    this.t += ms;
  }
}
