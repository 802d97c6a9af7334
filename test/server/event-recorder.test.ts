// The Event recorder (server/admission/events.ts) against a recording stand-in for the API: one
// Event per key, repeats counted in its series at most once per window, and the counting goes on
// after a key has gone idle (when it keeps only its counts) and after another writer created it.
import t from 'tap';
import { EventRecorder, type EventInput } from '../../server/admission/events.js';
import { KubeError, type KubeRest } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';

interface Call {
  verb: 'create' | 'patch';
  path: string;
  body: Record<string, unknown>;
}

function recordingRest(existing = new Set<string>()): { rest: KubeRest; calls: Call[] } {
  const calls: Call[] = [];
  const rest = {
    create: async (path: string, body: { metadata: { name: string } }) => {
      calls.push({ verb: 'create', path, body: body as unknown as Record<string, unknown> });
      if (existing.has(body.metadata.name)) throw new KubeError(409, 'AlreadyExists', `${body.metadata.name} already exists`);
      existing.add(body.metadata.name);
      return body;
    },
    patch: async (path: string, _type: string, body: Record<string, unknown>) => {
      calls.push({ verb: 'patch', path, body });
      return body;
    },
  };
  return { rest: rest as unknown as KubeRest, calls };
}

const denial: EventInput = {
  namespace: 'team-a',
  regarding: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', name: 'shop', namespace: 'team-a' },
  type: 'Warning',
  reason: 'RouteHostnameNotGranted',
  action: 'Admit',
  note: 'hostname "shop.example.com" is not granted to namespace "team-a"',
};

const settle = () => new Promise((resolve) => setImmediate(resolve));
const seriesCount = (call: Call | undefined) => (call?.body['series'] as { count?: number } | undefined)?.count;

t.test('creates once, then counts repeats in the series, also after the key went idle', async (t) => {
  const { rest, calls } = recordingRest();
  let now = 1_000_000;
  const recorder = new EventRecorder(rest, createLogger('silent'), 'test', 'test-0', 1_000, () => now);

  recorder.record(denial);
  await settle();
  t.equal(calls.length, 1);
  t.equal(calls[0]?.verb, 'create');
  t.match(calls[0]?.path, /\/namespaces\/team-a\/events$/);
  t.equal(seriesCount(calls[0]), undefined, 'a first occurrence has no series');

  now += 100;
  recorder.record(denial);
  recorder.record(denial);
  await settle();
  t.equal(calls.length, 1, 'repeats within the window wait');
  await recorder.drain();
  t.equal(calls.length, 2);
  t.equal(calls[1]?.verb, 'patch');
  t.equal(calls[1]?.path, `${calls[0]?.path}/${(calls[0]?.body['metadata'] as { name: string }).name}`, 'the same Event');
  t.equal(seriesCount(calls[1]), 3);

  // Idle past its window: the key keeps only its counts, and the next occurrence still counts on.
  now += 5_000;
  recorder.record({ ...denial, regarding: { ...denial.regarding, uid: 'another-uid' } });
  await settle();
  t.equal(calls.length, 3);
  t.equal(calls[2]?.verb, 'patch');
  t.equal(calls[2]?.path, calls[1]?.path);
  t.equal(seriesCount(calls[2]), 4);
});

t.test('an Event another writer created is continued, not duplicated', async (t) => {
  const first = recordingRest();
  new EventRecorder(first.rest, createLogger('silent'), 'test', 'test-0', 1_000, () => 1_000_000).record(denial);
  await settle();
  const name = (first.calls[0]?.body['metadata'] as { name: string }).name;

  const { rest, calls } = recordingRest(new Set([name]));
  const recorder = new EventRecorder(rest, createLogger('silent'), 'test', 'test-1', 1_000, () => 2_000_000);
  recorder.record(denial);
  await settle();
  await settle();
  t.same(
    calls.map((c) => c.verb),
    ['create', 'patch'],
  );
  t.equal(seriesCount(calls[1]), 2, 'counted as a repeat');
});
