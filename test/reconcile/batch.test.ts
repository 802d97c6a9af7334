// Route53 batching: parts from several requests within the window go out as one change batch per
// zone; a refused batch is retried part by part so one bad record blocks nobody else.
import t from 'tap';
import { Route53Batcher, groupIntoBatches } from '../../reconcile/batch.js';
import type { HostedZone, RecordChange, RecordSet, Route53Port } from '../../reconcile/ports.js';

class FakeRoute53 implements Route53Port {
  calls: Array<{ zoneId: string; changes: RecordChange[] }> = [];
  /** Records a CREATE must not collide with (AWS: InvalidChangeBatch). */
  existing = new Set<string>();
  async getHostedZone(): Promise<HostedZone | undefined> {
    return undefined;
  }
  async listRecords(): Promise<RecordSet[]> {
    return [];
  }
  async changeRecords(zoneId: string, changes: RecordChange[]): Promise<void> {
    this.calls.push({ zoneId, changes });
    for (const c of changes) if (c.action === 'CREATE' && this.existing.has(c.record.name)) throw Object.assign(new Error(`Tried to create resource record set ${c.record.name} but it already exists`), { name: 'InvalidChangeBatch' });
  }
}

const create = (name: string): RecordChange => ({ action: 'CREATE', record: { name, type: 'A', aliasTarget: { hostedZoneId: 'Z', dnsName: 'lb', evaluateTargetHealth: true } } });
const upsert = (name: string): RecordChange => ({ action: 'UPSERT', record: { name, type: 'TXT', ttl: 300, values: ['"x"'] } });

t.test('groupIntoBatches: one batch unless two parts touch one record', async (t) => {
  t.same(groupIntoBatches([[create('a')], [create('b')], [upsert('a')]]), [[0, 1, 2]], 'A and TXT of one name are different records');
  t.same(groupIntoBatches([[create('a')], [create('b')], [create('a')]]), [[0, 1], [2]]);
  const many = Array.from({ length: 600 }, (_, i) => [upsert(`n${i}`)]);
  const batches = groupIntoBatches(many);
  t.ok(batches.length >= 2, 'split at the record limit (UPSERT counts twice)');
  t.equal(batches.flat().length, 600);
});

t.test('parts within the window share one ChangeResourceRecordSets per zone', async (t) => {
  const r53 = new FakeRoute53();
  const applied: string[] = [];
  const b = new Route53Batcher({ route53: r53, windowMs: 30, onApplied: (z, c) => applied.push(`${z}:${c.length}`) });
  await Promise.all([b.submit('Z1', [create('a'), upsert('a')]), b.submit('Z1', [create('b')]), b.submit('Z2', [create('c')])]);
  t.equal(r53.calls.length, 2);
  t.same(r53.calls.map((c) => [c.zoneId, c.changes.length]).sort(), [
    ['Z1', 3],
    ['Z2', 1],
  ]);
  t.same(applied.sort(), ['Z1:3', 'Z2:1'], 'written through once per batch');
});

t.test('a refused batch is retried part by part: only the bad part fails', async (t) => {
  const r53 = new FakeRoute53();
  r53.existing.add('taken');
  const b = new Route53Batcher({ route53: r53, windowMs: 30 });
  const results = await Promise.allSettled([b.submit('Z1', [create('ok1')]), b.submit('Z1', [create('taken')]), b.submit('Z1', [create('ok2')])]);
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.match((results[1] as PromiseRejectedResult).reason, { name: 'InvalidChangeBatch' });
  t.same(
    r53.calls.map((c) => c.changes.map((x) => x.record.name)),
    [['ok1', 'taken', 'ok2'], ['ok1'], ['taken'], ['ok2']],
    'one combined attempt, then each part alone',
  );
});

t.test('batches of one zone never overlap in time', async (t) => {
  let inFlight = 0;
  let max = 0;
  const r53 = new FakeRoute53();
  r53.changeRecords = async () => {
    inFlight++;
    max = Math.max(max, inFlight);
    await new Promise((r) => setTimeout(r, 40));
    inFlight--;
  };
  const b = new Route53Batcher({ route53: r53, windowMs: 10 });
  const first = b.submit('Z1', [create('a')]);
  await new Promise((r) => setTimeout(r, 20));
  await Promise.all([first, b.submit('Z1', [create('b')])]);
  t.equal(max, 1);
});
