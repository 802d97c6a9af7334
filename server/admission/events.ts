// Denials as Kubernetes Events (events.k8s.io/v1) in the requester's namespace. One Event per
// (object, reason, message), counted through `series`, and at most one API write per key per
// window, so a client retrying in a loop cannot flood etcd. Writes are fire-and-forget: an
// admission answer never waits for them.
import { createHash } from 'node:crypto';
import { hostname as machineName } from 'node:os';
import type { Logger } from '../log.js';
import type { KubeRest} from '../kube/rest.js';
import { isAlreadyExists, paths } from '../kube/rest.js';

export interface EventInput {
  namespace: string;
  regarding: { apiVersion?: string; kind: string; name?: string; namespace?: string; uid?: string };
  type: 'Warning' | 'Normal';
  reason: string;
  action: string;
  note: string;
}

interface Pending {
  count: number;
  written: number; // count already written
  lastWriteMs: number;
  timer: NodeJS.Timeout | undefined;
  /** What to write; dropped once everything is written (the key and counts are all a series needs). */
  input: EventInput | undefined;
}

const MAX_KEYS = 10_000;

export class EventRecorder {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly rest: KubeRest,
    private readonly log: Logger,
    private readonly controller = 'gateway-orchestrator.io/admission',
    private readonly instance = process.env['POD_NAME'] ?? machineName(),
    private readonly windowMs = 10_000,
    private readonly now = () => Date.now(),
  ) {}

  record(input: EventInput): void {
    const key = eventName(input);
    let entry = this.pending.get(key);
    if (!entry) {
      if (this.pending.size >= MAX_KEYS) this.evictOldest();
      entry = { count: 0, written: 0, lastWriteMs: 0, timer: undefined, input };
      this.pending.set(key, entry);
    }
    entry.input = input;
    entry.count++;
    const due = entry.lastWriteMs + this.windowMs - this.now();
    if (due <= 0) {
      void this.flush(key, entry);
    } else if (!entry.timer) {
      entry.timer = setTimeout(() => void this.flush(key, entry), due);
      entry.timer.unref();
    }
  }

  /** Waits for writes in flight; used by tests and at shutdown. */
  async drain(): Promise<void> {
    await Promise.all([...this.pending.entries()].filter(([, e]) => e.timer || e.count > e.written).map(([k, e]) => this.flush(k, e)));
  }

  private evictOldest(): void {
    const first = this.pending.keys().next();
    if (!first.done) {
      const entry = this.pending.get(first.value);
      if (entry?.timer) clearTimeout(entry.timer);
      this.pending.delete(first.value);
    }
  }

  private async flush(key: string, entry: Pending): Promise<void> {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    const { input } = entry;
    if (entry.count === entry.written || !input) return;
    entry.lastWriteMs = this.now();
    const count = entry.count;
    const nowIso = new Date(this.now()).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    try {
      if (entry.written === 0) {
        try {
          await this.rest.create(paths.events(input.namespace), {
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            metadata: { name: key, namespace: input.namespace },
            eventTime: nowIso,
            reportingController: this.controller,
            reportingInstance: this.instance.slice(0, 128),
            action: input.action,
            reason: input.reason,
            regarding: input.regarding,
            note: input.note.slice(0, 1024),
            type: input.type,
            ...(count > 1 ? { series: { count, lastObservedTime: nowIso } } : {}),
          });
          this.written(entry, count);
          return;
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          // Written by an earlier run or another replica: continue the series.
        }
      }
      await this.rest.patch(paths.events(input.namespace, key), 'merge', { series: { count: Math.max(count, 2), lastObservedTime: nowIso } });
      this.written(entry, count);
    } catch (err) {
      this.log.warn({ err: String(err), event: key, namespace: input.namespace }, 'could not write event');
    }
  }

  private written(entry: Pending, count: number): void {
    entry.written = count;
    // Nothing more to write: an idle key keeps only its counts (at 5,000 requests the reconciler's
    // Events fill all 10,000 keys; their notes and references were a few MiB of the heap).
    if (entry.count === count && !entry.timer) entry.input = undefined;
  }
}

function eventName(input: EventInput): string {
  const digest = createHash('sha256').update(`${input.regarding.kind}\0${input.regarding.name ?? ''}\0${input.reason}\0${input.note}`).digest('hex').slice(0, 16);
  const base = (input.regarding.name ?? input.regarding.kind.toLowerCase()).slice(0, 200);
  return `${base}.${digest}`;
}
