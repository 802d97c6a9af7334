// The server side of the admission benchmark, compiled with the production build (dist/) and run
// as its own process pinned to one core:
//
//   node dist/bench/admission/server-main.js orchestrator <holders> <tls.json>
//   node dist/bench/admission/server-main.js bare [patch] <tls.json>
//
// "orchestrator" is the production webhook server (server/webhook-server.ts) with the production
// handlers, wrapped as server/orchestrator.ts wraps them (metrics, audit, errors), and the
// ownership index filled with <holders> claims and as many grants. What differs from production:
// the index is filled directly instead of by the informers (no Kubernetes here), denials record no
// Event (the load has none), and the claim store answers from memory. The route load never touches
// the claim store (every route is decided from the index; the driver checks that through `stats`);
// the GatewayHostnameRequest validation does, and its figures say so.
//
// "bare" is the ceiling: fastify over the same TLS with the same options, answering every
// AdmissionReview "allowed" after the same JSON body parse. "bare patch" answers the mutation
// path with a patch about as long as the orchestrator's for the benchmark's requests (six
// operations; 548 characters of base64 against 552-556): the ceiling for a mutating webhook,
// which cannot answer without one.
//
// Prints one JSON line {port} when listening; answers {type:'stats'} over IPC.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { parsePlatformConfig } from '../../policy/config.js';
import { HostnameOwnershipIndex } from '../../policy/ownership.js';
import { claimNameFor } from '../../policy/hostname.js';
import type { DomainClaim } from '../../policy/api.js';
import { createLogger } from '../../server/log.js';
import { registry } from '../../server/metrics.js';
import { ADMISSION_BODY_LIMIT, buildWebhookServer, type TlsMaterial } from '../../server/webhook-server.js';
import { mutateRequestHandler, validateRequestHandler, validateRouteHandler, type AdmissionState, type Handler } from '../../server/admission/handlers.js';
import { withAudit, withErrors, withMetrics } from '../../server/admission/review.js';
import type { ClaimInput, ClaimOutcome } from '../../server/admission/claims.js';
import { BENCH_DOMAINS, BENCH_ZONE_ID, POOL_NAMESPACE, fillIndex, population } from './dataset.js';

/**
 * STAND-IN, not production: the real ClaimStore creates a DomainClaim through the API server (one
 * round trip, more for wildcards). This one keeps claims in a Map and counts how often it is asked.
 */
class InMemoryClaimStore {
  readonly held = new Map<string, { namespace: string; name: string }>();
  claims = 0;
  reads = 0;

  async claim(input: ClaimInput): Promise<ClaimOutcome> {
    this.claims++;
    const holder = this.held.get(input.hostname);
    if (holder && (holder.namespace !== input.namespace || holder.name !== input.name)) return { kind: 'held', holder: { ...holder, hostname: input.hostname } };
    if (holder) return { kind: 'already-ours' };
    if (!input.dryRun) this.held.set(input.hostname, { namespace: input.namespace, name: input.name });
    return { kind: 'claimed' };
  }

  async read(hostname: string): Promise<DomainClaim | undefined> {
    this.reads++;
    const holder = this.held.get(hostname);
    if (!holder) return undefined;
    return { apiVersion: 'gateway-orchestrator.io/v1alpha1', kind: 'DomainClaim', metadata: { name: claimNameFor(hostname) }, spec: { hostname, requestRef: holder } };
  }
}

async function orchestrator(holders: number, tls: TlsMaterial) {
  const config = parsePlatformConfig({ clusterId: 'bench', allowedDomains: BENCH_DOMAINS.map((domain) => ({ domain })), pool: { namespace: POOL_NAMESPACE } });
  const log = createLogger(); // production default: info (allowed decisions log at debug)
  const index = new HostnameOwnershipIndex();
  const started = process.hrtime.bigint();
  fillIndex(index, population(holders));
  const fillMs = Number(process.hrtime.bigint() - started) / 1e6;
  const claims = new InMemoryClaimStore();
  const zoneNames = new Map([[BENCH_ZONE_ID, 'opendi.com']]);
  const state: AdmissionState = { config, index, claims, zoneNameOf: (zoneId) => zoneNames.get(zoneId) };
  // As server/orchestrator.ts composes them.
  const wrap = (webhook: string, handler: Handler): Handler =>
    withMetrics(webhook, withAudit(webhook, withErrors(handler, log), { log, events: undefined }));
  const app = await buildWebhookServer({
    log,
    tls,
    ready: () => ({ ready: true, detail: 'bench' }),
    serveMetrics: true,
    routes: {
      '/mutate/gatewayhostnamerequests': wrap('mutate-requests', mutateRequestHandler(state)),
      '/validate/gatewayhostnamerequests': wrap('validate-requests', validateRequestHandler(state)),
      '/validate/routes': wrap('validate-routes', validateRouteHandler(state)),
    },
  });
  const stats = async () => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'gateway_orchestrator_admission_duration_seconds');
    const values = (metric as { values?: Array<{ metricName?: string; value: number; labels: Record<string, string> }> } | undefined)?.values ?? [];
    const sums: Record<string, { count: number; seconds: number }> = {};
    for (const v of values) {
      const webhook = v.labels['webhook'] ?? '?';
      const entry = (sums[webhook] ??= { count: 0, seconds: 0 });
      if (v.metricName?.endsWith('_count')) entry.count += v.value;
      if (v.metricName?.endsWith('_sum')) entry.seconds += v.value;
    }
    return { claimCreates: claims.claims, claimReads: claims.reads, claimCount: index.claimCount, grantCount: index.grantCount, fillMs, handlerTime: sums };
  };
  return { app, stats };
}

/** What the orchestrator's mutation answers for the benchmark's requests, base64 as sent. */
const BARE_PATCH = Buffer.from(
  JSON.stringify([
    { op: 'replace', path: '/spec/hostname', value: 'new-1234.t12.opendi.com' },
    { op: 'replace', path: '/spec/zoneId', value: BENCH_ZONE_ID },
    { op: 'add', path: '/spec/environment', value: 'production' },
    { op: 'add', path: '/spec/visibility', value: 'internet-facing' },
    { op: 'add', path: '/spec/gatewayClass', value: 'aws-alb' },
    { op: 'add', path: '/metadata/finalizers', value: ['gateway-orchestrator.io/cleanup'] },
  ]),
).toString('base64');

async function bare(tls: TlsMaterial, withPatch: boolean) {
  const app = Fastify({
    https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' },
    bodyLimit: ADMISSION_BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  for (const path of ['/mutate/gatewayhostnamerequests', '/validate/gatewayhostnamerequests', '/validate/routes']) {
    app.post(path, async (req) => {
      const uid = (req.body as { request?: { uid?: string } }).request?.uid ?? '';
      if (withPatch && path.startsWith('/mutate/')) {
        return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, patchType: 'JSONPatch', patch: BARE_PATCH } };
      }
      return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
    });
  }
  return { app, stats: async () => ({}) };
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  const tlsPath = rest[rest.length - 1];
  if (!tlsPath || (mode !== 'orchestrator' && mode !== 'bare')) throw new Error('usage: server-main.js orchestrator <holders> <tls.json> | bare [patch] <tls.json>');
  const tls = JSON.parse(readFileSync(tlsPath, 'utf8')) as TlsMaterial;
  const { app, stats } = mode === 'orchestrator' ? await orchestrator(Number(rest[0]), tls) : await bare(tls, rest[0] === 'patch');
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stats') void stats().then((s) => process.send?.({ type: 'stats', stats: s, memory: process.memoryUsage() }));
  });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
