// The production default for CREATEs: no whole-zone read before them. Route53 refuses a CREATE at
// a name that already has a record of that type (the whole batch fails, InvalidChangeBatch), so a
// stale zone snapshot costs one refused batch and then a re-read, never an overwrite. moto accepts
// such a CREATE, so here the orchestrator's Route53 port is wrapped to refuse it as Route53 does;
// the other reconcile tests re-read before every CREATE instead (zoneFreshMs: 0).
import t from 'tap';
import { paths } from '../../server/kube/rest.js';
import { createAwsPorts } from '../../reconcile/aws/index.js';
import type { AwsPorts, RecordChange } from '../../reconcile/ports.js';
import { uniqueHostname, uniqueName } from '../helpers/index.js';
import { localPlatformConfig, requireLocalEnv } from '../../server/dev/local.js';
import { conditionOf, createNamespaces, getRequest, requestManifest, startHarness, waitReady, waitRequest, type Harness } from './harness.js';

interface RefusedCreate {
  name: string;
  type: string;
  /** The orchestrator's whole-zone reads before the refusal. */
  zoneReadsBefore: number;
}

/** The orchestrator's Route53 as Route53 behaves: a CREATE over an existing record refuses the batch. */
function route53LikeAws(inner: AwsPorts) {
  const seen = { zoneReads: 0, refused: [] as RefusedCreate[] };
  const ports: AwsPorts = {
    ...inner,
    route53: {
      getHostedZone: (zoneId) => inner.route53.getHostedZone(zoneId),
      listRecords: async (zoneId) => {
        seen.zoneReads++;
        return inner.route53.listRecords(zoneId);
      },
      changeRecords: async (zoneId: string, changes: RecordChange[]) => {
        const creates = changes.filter((c) => c.action === 'CREATE');
        if (creates.length > 0) {
          // Not counted as the orchestrator's read: this is Route53's own check.
          const existing = new Set((await inner.route53.listRecords(zoneId)).map((r) => `${r.name}|${r.type}`));
          const collision = creates.find((c) => existing.has(`${c.record.name}|${c.record.type}`));
          if (collision) {
            seen.refused.push({ name: collision.record.name, type: collision.record.type, zoneReadsBefore: seen.zoneReads });
            throw Object.assign(new Error(`[Tried to create resource record set [name='${collision.record.name}.', type='${collision.record.type}'] but it already exists]`), {
              name: 'InvalidChangeBatch',
            });
          }
        }
        return inner.route53.changeRecords(zoneId, changes);
      },
    },
  };
  return { ports, seen };
}

const state = requireLocalEnv();
const aws = route53LikeAws(createAwsPorts(localPlatformConfig(state).aws));
let h: Harness;
const ns = uniqueName('stale');

t.before(async () => {
  // zoneFreshMs unset: the production default.
  h = await startHarness({ start: { ports: aws.ports, zoneFreshMs: undefined } });
  await createNamespaces(h, [ns]);
});

t.teardown(async () => {
  await h?.stop();
});

t.test('a CREATE on a stale zone snapshot is refused, the zone re-read, and the foreign record reported and left alone', async (t) => {
  const first = uniqueHostname('opendi.com', 'first');
  await h.admin.create(paths.requests(ns), requestManifest(ns, 'first', first, h.zoneId));
  await waitReady(h, ns, 'first');
  const readsAfterFirst = aws.seen.zoneReads;
  t.ok(readsAfterFirst >= 1, 'the orchestrator read the zone once it needed it');
  t.equal(aws.seen.refused.length, 0, 'nothing refused while the snapshot was right');

  // Someone else writes at the next request's hostname after the snapshot was taken. The snapshot
  // then ages past the 10 s after which the orchestrator used to re-read a zone before a CREATE.
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const taken = uniqueHostname('opendi.com', 'taken');
  const foreign = { name: taken, type: 'A', ttl: 60, values: ['192.0.2.20'] };
  await h.ports.route53.changeRecords(h.zoneId, [{ action: 'CREATE', record: foreign }]);
  t.teardown(() => h.ports.route53.changeRecords(h.zoneId, [{ action: 'DELETE', record: foreign }]));

  await h.admin.create(paths.requests(ns), requestManifest(ns, 'second', taken, h.zoneId));
  const r = await waitRequest(h, ns, 'second', 'DnsAliasReady=False RecordNotOwned', (r) => conditionOf(r, 'DnsAliasReady')?.reason === 'RecordNotOwned');
  t.match(conditionOf(r, 'DnsAliasReady')?.message, /not owned by this orchestrator/);

  const refusal = aws.seen.refused.find((x) => x.name === taken && x.type === 'A');
  t.ok(refusal, `the orchestrator tried to CREATE ${taken} A on its old snapshot and Route53 refused it`);
  t.equal(refusal?.zoneReadsBefore, readsAfterFirst, 'no whole-zone read between the snapshot and that CREATE (the validation CNAME was CREATEd without one too)');
  t.ok(aws.seen.zoneReads > readsAfterFirst, 'after the refusal the zone was read again');
  t.same((await h.ports.route53.listRecords(h.zoneId)).find((x) => x.name === taken && x.type === 'A')?.values, ['192.0.2.20'], 'the foreign record is unchanged');
  t.equal(conditionOf(await getRequest(h, ns, 'first'), 'Ready')?.status, 'True', 'the other request is unaffected');
});
