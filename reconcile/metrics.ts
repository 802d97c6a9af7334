// Reconcile metrics. Counters and histograms are updated as work happens; the gauges are computed
// at scrape time from the working reconciler's caches, queue and pool, so they can never drift.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { GatewayHostnameRequest } from '../policy/api.js';
import { registry } from '../server/metrics.js';
import type { PoolGateway } from './placement.js';

/** What the gauges read; the Reconciler provides it while it works. */
export interface ReconcileView {
  queueReady(): number;
  queueDelayed(): number;
  requests(): GatewayHostnameRequest[];
  pool(): readonly PoolGateway[];
  capacityPerGateway: number;
  now(): number;
}

const views = new Set<ReconcileView>();

export function registerView(view: ReconcileView): () => void {
  views.add(view);
  return () => views.delete(view);
}

export const reconcileDuration = new Histogram({
  name: 'gateway_orchestrator_reconcile_duration_seconds',
  help: 'Time to reconcile one request (one pass of plan and apply), by result: done, waiting, error.',
  labelNames: ['result'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const reconcileErrors = new Counter({
  name: 'gateway_orchestrator_reconcile_errors_total',
  help: 'Reconcile passes that failed and were retried with back-off, by the condition they affect.',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const resyncsTotal = new Counter({
  name: 'gateway_orchestrator_resyncs_total',
  help: 'Periodic full passes (AWS snapshot refresh), by outcome.',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const sum = (f: (v: ReconcileView) => number) => [...views].reduce((n, v) => n + f(v), 0);

new Gauge({
  name: 'gateway_orchestrator_leader',
  help: '1 while this replica holds the lease and reconciles.',
  registers: [registry],
  collect() {
    this.set(views.size > 0 ? 1 : 0);
  },
});

new Gauge({
  name: 'gateway_orchestrator_queue_depth',
  help: 'Requests waiting in the work queue: ready now, or delayed (back-off, polling).',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    this.set({ state: 'ready' }, sum((v) => v.queueReady()));
    this.set({ state: 'delayed' }, sum((v) => v.queueDelayed()));
  },
});

const conditionStatus = (r: GatewayHostnameRequest, type: string) => r.status?.conditions?.find((c) => c.type === type);

new Gauge({
  name: 'gateway_orchestrator_certificates_pending',
  help: 'Requests whose certificate is requested but not issued yet.',
  registers: [registry],
  collect() {
    this.set(sum((v) => v.requests().filter(isPending).length));
  },
});

new Gauge({
  name: 'gateway_orchestrator_certificate_pending_age_seconds',
  help: 'Age of the oldest certificate still waiting for issuance (0 when none).',
  registers: [registry],
  collect() {
    let oldest = 0;
    for (const view of views) {
      for (const r of view.requests().filter(isPending)) {
        const since = Date.parse(conditionStatus(r, 'CertificateRequested')?.lastTransitionTime ?? r.metadata.creationTimestamp ?? '');
        if (Number.isFinite(since)) oldest = Math.max(oldest, (view.now() - since) / 1000);
      }
    }
    this.set(oldest);
  },
});

new Gauge({
  name: 'gateway_orchestrator_requests',
  help: 'Requests by condition type and status (e.g. ListenerAttached=False counts attach problems).',
  labelNames: ['condition', 'status'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const view of views) {
      for (const r of view.requests()) {
        for (const c of r.status?.conditions ?? []) this.inc({ condition: c.type, status: c.status });
      }
    }
  },
});

new Gauge({
  name: 'gateway_orchestrator_pool_gateway_hostnames',
  help: 'Hostnames placed on each pool Gateway.',
  labelNames: ['gateway'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const view of views) for (const g of view.pool()) this.set({ gateway: g.name }, g.placements.length);
  },
});

new Gauge({
  name: 'gateway_orchestrator_pool_gateway_fill_ratio',
  help: 'Placed hostnames over capacity, per pool Gateway (1 = full; a new Gateway is made for the next).',
  labelNames: ['gateway'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const view of views) for (const g of view.pool()) this.set({ gateway: g.name }, g.placements.length / view.capacityPerGateway);
  },
});

function isPending(r: GatewayHostnameRequest): boolean {
  if (r.metadata.deletionTimestamp) return false;
  return conditionStatus(r, 'CertificateRequested')?.status === 'True' && conditionStatus(r, 'CertificateIssued')?.status !== 'True';
}
