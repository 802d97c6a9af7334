// Leader election: the pure lease decision as a table, then two electors against the real API
// server: one leads, the other takes over within the lease duration when the leader goes.
import t from 'tap';
import { KubeRest, paths } from '../../server/kube/rest.js';
import { createLogger } from '../../server/log.js';
import { LEASE_NAME, LeaderElector, decideLease, leaseFor, type Lease } from '../../reconcile/leader.js';
import { adminKubeConfig, uniqueName, waitFor } from '../helpers/index.js';

const T0 = Date.parse('2026-11-24T12:00:00Z');
const lease = (holder: string | null, renewedAt: number, seconds = 15): Lease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: LEASE_NAME, namespace: 'gwo', resourceVersion: '7' },
  spec: { holderIdentity: holder, leaseDurationSeconds: seconds, renewTime: new Date(renewedAt).toISOString(), acquireTime: new Date(renewedAt).toISOString(), leaseTransitions: 2 },
});

t.test('decideLease', async (t) => {
  const cases: Array<[string, Lease | undefined, number, string]> = [
    ['no lease', undefined, T0, 'create'],
    ['ours', lease('me', T0 - 60_000), T0, 'renew'],
    ['released', lease(null, T0), T0, 'acquire'],
    ['held, fresh', lease('other', T0 - 5_000), T0, 'wait'],
    ['held, just expired', lease('other', T0 - 15_000), T0, 'acquire'],
    ['held, no renew time', { ...lease('other', T0), spec: { holderIdentity: 'other' } }, T0, 'acquire'],
  ];
  for (const [name, l, now, action] of cases) t.equal(decideLease(l, 'me', now).action, action, name);
  const w = decideLease(lease('other', T0 - 5_000), 'me', T0);
  t.same(w, { action: 'wait', holder: 'other', expiresAtMs: T0 + 10_000 });
});

t.test('leaseFor: renew keeps acquireTime, acquire counts a transition, resourceVersion carried', async (t) => {
  const current = lease('me', T0 - 5_000);
  const renewed = leaseFor({ action: 'renew' }, current, 'me', 'gwo', 15_000, T0);
  t.equal(renewed.spec.acquireTime, current.spec.acquireTime);
  t.equal(renewed.spec.leaseTransitions, 2);
  t.equal(renewed.metadata.resourceVersion, '7');
  t.equal(renewed.spec.renewTime, '2026-11-24T12:00:00.000000Z');
  const taken = leaseFor({ action: 'acquire' }, lease('other', T0 - 20_000), 'me', 'gwo', 15_000, T0);
  t.equal(taken.spec.holderIdentity, 'me');
  t.equal(taken.spec.leaseTransitions, 3);
  t.equal(taken.spec.acquireTime, '2026-11-24T12:00:00.000000Z');
  t.equal(leaseFor({ action: 'create' }, undefined, 'me', 'gwo', 4_500, T0).spec.leaseDurationSeconds, 5);
});

t.test('two electors against the API server: one leads, the other takes over', async (t) => {
  const rest = await KubeRest.fromKubeConfig(await adminKubeConfig());
  const namespace = uniqueName('lease');
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const log = createLogger('silent');
  const state: Record<string, boolean> = { a: false, b: false };
  const transitions: string[] = [];
  const make = (id: string) =>
    new LeaderElector({
      rest,
      namespace,
      identity: id,
      log,
      leaseDurationMs: 3_000,
      renewIntervalMs: 500,
      onStartedLeading: () => {
        state[id] = true;
        transitions.push(`${id}+`);
      },
      onStoppedLeading: () => {
        state[id] = false;
        transitions.push(`${id}-`);
      },
    });
  const a = make('a');
  const b = make('b');
  a.start();
  await waitFor(() => state['a'], { description: 'a to lead', timeoutMs: 10_000 });
  b.start();
  await new Promise((r) => setTimeout(r, 2_000));
  t.same(state, { a: true, b: false }, 'b waits while a renews');

  // a stops cleanly: releases the lease, b takes over without waiting for expiry.
  await a.stop();
  await waitFor(() => state['b'], { description: 'b to lead', timeoutMs: 10_000 });
  const held = await rest.get<Lease>(paths.leases(namespace, LEASE_NAME));
  t.equal(held.spec.holderIdentity, 'b');

  // Someone else writes the lease (b's next renewal conflicts or finds it held): b stops working.
  const current = await rest.get<Lease>(paths.leases(namespace, LEASE_NAME));
  await rest.replace(paths.leases(namespace, LEASE_NAME), { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') } });
  await waitFor(() => !state['b'], { description: 'b to stop leading', timeoutMs: 10_000 });
  await b.stop();
  t.same(transitions, ['a+', 'a-', 'b+', 'b-']);
  await rest.delete(`/api/v1/namespaces/${namespace}`);
});
