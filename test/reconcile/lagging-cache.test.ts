// The reconciler against an informer that shows every change 1.5 s late, as one behind a loaded
// API server does: a pass that starts before the cache has the previous pass's status write must
// plan on what it wrote, not on the older cached copy. Otherwise it applies that step again and
// reports it again (an Event series of 2), which a 5,000-request bulk showed for 2,216 Events.
import t from 'tap';
import { paths } from '../../server/kube/rest.js';
import { uniqueHostname, uniqueName, waitFor } from '../helpers/index.js';
import { laggingCache } from '../helpers/lagging-cache.js';
import { createNamespaces, requestManifest, startHarness, waitReady, type Harness } from './harness.js';

let h: Harness;
const ns = uniqueName('team');

t.before(async () => {
  h = await startHarness({ reconcilerCaches: (caches) => ({ ...caches, requests: laggingCache(caches.requests, 1_500) }) });
  await createNamespaces(h, [ns]);
});

t.teardown(async () => {
  await h?.stop();
});

t.test('each step is applied and reported once although the cache shows our writes late', async (t) => {
  const hostname = uniqueHostname('opendi.com', 'late');
  await h.admin.create(paths.requests(ns), requestManifest(ns, 'late', hostname, h.zoneId));
  const ready = await waitReady(h, ns, 'late');
  t.equal(ready.spec.hostname, hostname);
  const reconcilerEvents = async () => {
    const list = await h.admin.list<{ reason: string; reportingController: string; regarding: { name: string }; series?: { count: number } }>(paths.events(ns));
    const mine = list.items.filter((e) => e.reportingController === 'gateway-orchestrator.io/reconciler' && e.regarding.name === 'late');
    return mine.map((e) => `${e.reason} x${e.series?.count ?? 1}`).sort();
  };
  const events = await waitFor(async () => {
    const mine = await reconcilerEvents();
    return mine.some((e) => e.startsWith('Ready ')) ? mine : undefined;
  }, { description: 'reconciler Events for late', timeoutMs: 20_000 });
  t.same(events, ['CertificateIssued x1', 'CertificateRequested x1', 'Ready x1'], 'one Event per transition');
  // The recorder writes a repeat of an Event at most once per key per 10 s window, so a step
  // reported again would show only after the window: look again once it has passed.
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  t.same(await reconcilerEvents(), ['CertificateIssued x1', 'CertificateRequested x1', 'Ready x1'], 'still one Event per transition after the write window');
});
