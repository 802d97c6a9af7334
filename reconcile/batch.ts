// Route53 change batches: what several requests want changed in one zone within a short window
// goes out as ONE ChangeResourceRecordSets call (the account's Route53 budget is small and
// shared). If AWS rejects the batch, each request's part is retried alone, so one bad record
// (say a CREATE that collides with a foreign record) cannot block the others. One batch per zone
// in flight at a time (Route53 answers PriorRequestNotComplete otherwise).
import { CHANGE_BATCH_LIMITS, changeBatchCost } from './aws/route53.js';
import type { RecordChange, Route53Port } from './ports.js';

interface Part {
  changes: RecordChange[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ZoneQueue {
  parts: Part[];
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<void>;
}

export interface Route53BatcherOptions {
  route53: Route53Port;
  windowMs?: number;
  /** Called after a batch succeeded, with the changes that are now in Route53. */
  onApplied?: (zoneId: string, changes: readonly RecordChange[]) => void;
}

const recordId = (c: RecordChange): string => `${c.record.name.toLowerCase()}|${c.record.type}`;

/**
 * Groups parts into batches: in arrival order, a part joins the current batch unless it touches
 * a record the batch already changes (Route53 refuses two changes of one record in a batch) or
 * the batch would exceed Route53's limits.
 */
export function groupIntoBatches(parts: ReadonlyArray<readonly RecordChange[]>): number[][] {
  const batches: Array<{ indexes: number[]; records: Set<string>; changes: RecordChange[] }> = [];
  parts.forEach((changes, i) => {
    const ids = changes.map(recordId);
    const fits = (b: { records: Set<string>; changes: RecordChange[] }) => {
      if (ids.some((id) => b.records.has(id))) return false;
      const cost = changeBatchCost([...b.changes, ...changes]);
      return cost.changes <= CHANGE_BATCH_LIMITS.changes && cost.records <= CHANGE_BATCH_LIMITS.records && cost.valueChars <= CHANGE_BATCH_LIMITS.valueChars;
    };
    let batch = batches.find(fits);
    if (!batch) {
      batch = { indexes: [], records: new Set(), changes: [] };
      batches.push(batch);
    }
    batch.indexes.push(i);
    for (const id of ids) batch.records.add(id);
    batch.changes.push(...changes);
  });
  return batches.map((b) => b.indexes);
}

export class Route53Batcher {
  private readonly zones = new Map<string, ZoneQueue>();
  private readonly windowMs: number;

  constructor(private readonly options: Route53BatcherOptions) {
    this.windowMs = options.windowMs ?? 150;
  }

  /** Resolves once these changes are in Route53 (alone or within a larger batch). */
  submit(zoneId: string, changes: RecordChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    let zone = this.zones.get(zoneId);
    if (!zone) {
      zone = { parts: [], timer: undefined, inFlight: Promise.resolve() };
      this.zones.set(zoneId, zone);
    }
    const z = zone;
    return new Promise<void>((resolve, reject) => {
      z.parts.push({ changes, resolve, reject });
      if (!z.timer) {
        z.timer = setTimeout(() => {
          z.timer = undefined;
          const parts = z.parts.splice(0);
          z.inFlight = z.inFlight.then(() => this.send(zoneId, parts));
        }, this.windowMs);
      }
    });
  }

  private async send(zoneId: string, parts: Part[]): Promise<void> {
    for (const indexes of groupIntoBatches(parts.map((p) => p.changes))) {
      const batch = indexes.map((i) => parts[i]!);
      const changes = batch.flatMap((p) => p.changes);
      try {
        await this.options.route53.changeRecords(zoneId, changes);
        this.options.onApplied?.(zoneId, changes);
        for (const p of batch) p.resolve();
        continue;
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
      }
      // The batch was refused: find the culprit(s) by sending each part alone.
      for (const p of batch) {
        try {
          await this.options.route53.changeRecords(zoneId, p.changes);
          this.options.onApplied?.(zoneId, p.changes);
          p.resolve();
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }

  /** Waits for everything submitted so far. */
  async drain(): Promise<void> {
    for (;;) {
      const pending = [...this.zones.values()].filter((z) => z.timer || z.parts.length > 0);
      await Promise.all([...this.zones.values()].map((z) => z.inFlight));
      if (pending.length === 0) return;
      await new Promise((r) => setTimeout(r, this.windowMs));
    }
  }
}
