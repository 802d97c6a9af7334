// Entry point of the reconciling half: leader election around the Reconciler. Every replica
// calls this; only the holder of the Lease works, and it stops as soon as it loses the lease.
import { hostname as machineName } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ReconcilerDeps } from '../server/orchestrator.js';
import { createAwsPorts } from './aws/index.js';
import { LeaderElector } from './leader.js';
import type { AwsPorts } from './ports.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';

export interface StartOptions {
  /** AWS ports; default the SDK adapters for config.aws. */
  ports?: AwsPorts;
  identity?: string;
  leaseDurationMs?: number;
  renewIntervalMs?: number;
  resyncMs?: number;
  batchWindowMs?: number;
  zoneFreshMs?: number;
  namespaces?: ReconcilerOptions['namespaces'];
  observer?: ReconcilerOptions['observer'];
  onPlan?: ReconcilerOptions['onPlan'];
  /** Receives the Reconciler (tests read its state and trigger resyncs). */
  onReconciler?: (reconciler: Reconciler) => void;
}

export interface RunningReconciler {
  stop(): Promise<void>;
  readonly reconciler: Reconciler;
  readonly isLeader: boolean;
}

export async function startReconciler(deps: ReconcilerDeps, options: StartOptions = {}): Promise<RunningReconciler> {
  const { config, rest, caches, log, zoneNames } = deps;
  const ports = options.ports ?? createAwsPorts(config.aws);
  const reconciler = new Reconciler({
    config,
    rest,
    caches,
    ports,
    log,
    zoneNames,
    ...(options.resyncMs !== undefined ? { resyncMs: options.resyncMs } : {}),
    ...(options.batchWindowMs !== undefined ? { batchWindowMs: options.batchWindowMs } : {}),
    ...(options.zoneFreshMs !== undefined ? { zoneFreshMs: options.zoneFreshMs } : {}),
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.onPlan ? { onPlan: options.onPlan } : {}),
  });
  options.onReconciler?.(reconciler);
  const identity = options.identity ?? `${process.env['POD_NAME'] ?? machineName()}_${randomBytes(4).toString('hex')}`;
  const elector = new LeaderElector({
    rest,
    namespace: config.orchestrator.namespace,
    identity,
    log: log.child({ component: 'leader' }),
    ...(options.leaseDurationMs !== undefined ? { leaseDurationMs: options.leaseDurationMs } : {}),
    ...(options.renewIntervalMs !== undefined ? { renewIntervalMs: options.renewIntervalMs } : {}),
    onStartedLeading: async () => {
      // The caches must hold the pool before placements are rebuilt from it.
      await Promise.all(caches.all.map((c) => c.waitForSync()));
      reconciler.start();
    },
    onStoppedLeading: () => reconciler.stop(),
  });
  elector.start();
  return {
    reconciler,
    get isLeader() {
      return elector.isLeader;
    },
    async stop() {
      await elector.stop();
      await reconciler.stop();
    },
  };
}
