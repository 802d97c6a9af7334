// The informer cache (server/kube/cache.ts) against the real API server: list, then watch;
// a watch the server ends is resumed without listing again; a resourceVersion too old (410) lists
// again and reports what changed meanwhile, deletions included.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { ObjectCache, type CacheEvent } from '../../server/kube/cache.js';
import { KubeRest, WatchAborted } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';
import { adminKubeConfig, getEnv, uniqueName, waitFor } from '../helpers/index.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

type ConfigMap = KubernetesObject & { data?: Record<string, string> };

let rest: KubeRest;
t.before(async () => {
  rest = await KubeRest.fromKubeConfig(await adminKubeConfig());
});

async function namespaceWith(names: string[]): Promise<string> {
  const namespace = uniqueName('cache');
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  for (const name of names) await rest.create(`/api/v1/namespaces/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v: '0' } });
  return namespace;
}

function record(cache: ObjectCache<ConfigMap>): string[] {
  const seen: string[] = [];
  cache.on((event: CacheEvent, object) => seen.push(`${event} ${object.metadata?.name}${object.data?.['v'] ? `=${object.data['v']}` : ''}`));
  return seen;
}

const path = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

t.test('lists, then follows every change in order; watches the server ends are resumed, not re-listed', async (t) => {
  const namespace = await namespaceWith(['a', 'b']);
  let lists = 0;
  const cache = new ObjectCache<ConfigMap>({
    rest,
    path: path(namespace),
    log: createLogger('silent'),
    name: 'test',
    watchTimeoutSeconds: 1, // the server ends each watch after 1-2 s
    list: () => {
      lists++;
      return rest.list<ConfigMap>(path(namespace)) as Promise<KubernetesListObject<ConfigMap>>;
    },
  });
  t.teardown(() => cache.stop());
  const seen = record(cache);
  await cache.start();
  t.ok(cache.synced);
  t.same([...seen].sort(), ['add a=0', 'add b=0'], 'the list arrives as adds');
  t.equal(cache.get('a', namespace)?.data?.['v'], '0');
  t.notOk(cache.get('a', namespace)?.metadata?.managedFields, 'managedFields are dropped');

  await rest.patch(`${path(namespace)}/a`, 'merge', { data: { v: '1' } });
  await rest.create(path(namespace), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { v: '0' } });
  await rest.delete(`${path(namespace)}/b`);
  await waitFor(() => seen.length >= 5, { description: 'three watch events' });
  t.same(seen.slice(2), ['update a=1', 'add c=0', 'delete b=0']);

  // Let several server-side watch timeouts pass, then change again.
  await new Promise((resolve) => setTimeout(resolve, 4_500));
  await rest.patch(`${path(namespace)}/c`, 'merge', { data: { v: '2' } });
  await waitFor(() => seen.length >= 6, { description: 'the change after the watches were resumed' });
  t.same(seen.slice(5), ['update c=2']);
  t.equal(lists, 1, 'resumed from the last resourceVersion: listed once');
  t.same(
    cache
      .list(namespace)
      .map((o) => `${o.metadata?.name}=${o.data?.['v']}`)
      .sort(),
    ['a=1', 'c=2'],
  );
  t.same(cache.list('elsewhere'), []);

  await cache.stop();
  await rest.patch(`${path(namespace)}/a`, 'merge', { data: { v: '3' } });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(seen.length, 6, 'nothing after stop');
});

/**
 * The API server answers a watch from a resourceVersion it no longer has with an ERROR event, 410
 * Gone (after etcd compaction, every 5 minutes, or when the watch cache has moved on); a fresh
 * local etcd still has every revision, so this KubeRest sends that event on its first watch, as
 * the API server would, and passes every later watch through.
 */
function restExpiringFirstWatch(): KubeRest {
  const expiring = Object.create(rest) as KubeRest;
  let watches = 0;
  expiring.watch = ((path, query, timeoutSeconds, onEvent) => {
    if (watches++ > 0) return rest.watch(path, query, timeoutSeconds, onEvent);
    const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${query['resourceVersion']}` };
    let aborted: (err: Error) => void = () => undefined;
    const done = new Promise<void>((_resolve, reject) => (aborted = reject));
    setImmediate(() => onEvent({ type: 'ERROR', object: gone as never }));
    return { done, abort: () => aborted(new WatchAborted()) };
  }) as KubeRest['watch'];
  return expiring;
}

t.test('a resourceVersion too old (410 Gone) lists again and reports the difference, deletions included', async (t) => {
  const namespace = await namespaceWith(['kept', 'changed']);
  let lists = 0;
  const cache = new ObjectCache<ConfigMap>({
    rest: restExpiringFirstWatch(),
    path: path(namespace),
    log: createLogger('silent'),
    name: 'test',
    list: async () => {
      lists++;
      const list = (await rest.list<ConfigMap>(path(namespace))) as KubernetesListObject<ConfigMap>;
      if (lists > 1) return list;
      // The first list is stale: an object since deleted, an old version of another.
      const stale = list.items.map((o) => (o.metadata?.name === 'changed' ? { ...o, metadata: { ...o.metadata, resourceVersion: '1' }, data: { v: 'old' } } : o));
      const ghost: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ghost', namespace, resourceVersion: '1' }, data: { v: 'g' } };
      return { ...list, items: [...stale, ghost], metadata: { resourceVersion: '1' } };
    },
  });
  t.teardown(() => cache.stop());
  const seen = record(cache);
  await cache.start();
  await waitFor(() => lists >= 2 && seen.length >= 5, { description: 'the second list' });
  t.equal(lists, 2, '410 on the watch: listed again');
  t.same(seen.slice(0, 3).sort(), ['add changed=old', 'add ghost=g', 'add kept=0']);
  t.same(seen.slice(3).sort(), ['delete ghost=g', 'update changed=0'], 'the difference: the newer version and the deletion');
  t.notOk(cache.get('ghost', namespace));

  await rest.patch(`${path(namespace)}/kept`, 'merge', { data: { v: '1' } });
  await waitFor(() => seen.length >= 6, { description: 'a change after the relist' });
  t.equal(seen[5], 'update kept=1', 'watching again from the new list (a real watch)');
});

t.test('a process waiting for its first list stays alive while the list fails and is retried', async (t) => {
  // In its own process: there, nothing but the cache's back-off keeps Node running while it waits
  // (production: startOrchestrator awaits the caches before it listens). A back-off timer that
  // does not hold the process open lets Node exit (code 13, an unsettled top-level await) on the
  // first failed list, without a word.
  const namespace = await namespaceWith(['only']);
  const { kubeconfig } = await getEnv();
  const script = `
    import { ObjectCache } from '${REPO_ROOT}server/kube/cache.ts';
    import { KubeRest } from '${REPO_ROOT}server/kube/rest.ts';
    import { connectionFromKubeconfigFile } from '${REPO_ROOT}server/kube/connection.ts';
    import { createLogger } from '${REPO_ROOT}server/log.ts';
    const rest = KubeRest.connect(await connectionFromKubeconfigFile(${JSON.stringify(kubeconfig)}));
    let lists = 0;
    const cache = new ObjectCache({
      rest, path: ${JSON.stringify(path(namespace))}, log: createLogger('silent'), name: 'test',
      list: () => (++lists === 1 ? Promise.reject(new Error('API server not ready')) : rest.list(${JSON.stringify(path(namespace))})),
    });
    await cache.start();
    console.log(JSON.stringify({ lists, names: cache.list().map((o) => o.metadata.name) }));
    await cache.stop();
  `;
  const file = join(mkdtempSync(join(tmpdir(), 'gwo-cache-')), 'first-list.mts');
  writeFileSync(file, script);
  const child = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(child.status, 0, `the process finished normally (stderr: ${child.stderr.slice(-300)})`);
  t.equal(child.stdout.trim(), JSON.stringify({ lists: 2, names: ['only'] }), 'listed again after the failure, then synced');
});
