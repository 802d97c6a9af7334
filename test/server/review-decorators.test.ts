// The decorators around every admission handler, for handlers that answer synchronously and for
// ones that answer later: a throw or a rejection is a fail-closed 500 denial, never an allow, and
// the full production chain passes every decision on unchanged; through the server too.
import t from 'tap';
import type { AdmissionRequest, Decision } from '../../policy/admission.js';
import { createLogger } from '../../server/log.js';
import { registry } from '../../server/metrics.js';
import { withAudit, withErrors, withMetrics } from '../../server/admission/review.js';
import type { Handler } from '../../server/admission/handlers.js';
import { buildWebhookServer } from '../../server/webhook-server.js';
import { issueStandaloneTls } from '../../server/tls.js';

const log = createLogger('silent');
const request = (uid: string): AdmissionRequest =>
  ({
    uid,
    kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute' },
    resource: { group: 'gateway.networking.k8s.io', version: 'v1', resource: 'httproutes' },
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'r',
    userInfo: { username: 'u', groups: ['g'] },
    object: { metadata: { name: 'r' } },
  }) as AdmissionRequest;

const allowed: Decision = { allowed: true };
const denied: Decision = { allowed: false, code: 403, reason: 'RouteHostnameNotGranted', message: 'no' };
const handlers: Record<string, Handler> = {
  'sync allow': () => allowed,
  'sync deny': () => denied,
  'async allow': async () => allowed,
  'async deny': async () => denied,
  'sync throw': () => {
    throw new Error('boom');
  },
  'async throw': async () => {
    throw new Error('boom');
  },
  'rejected promise': () => Promise.reject(new Error('boom')),
};
const expected: Record<string, 'allowed' | 'denied' | 'error'> = {
  'sync allow': 'allowed',
  'sync deny': 'denied',
  'async allow': 'allowed',
  'async deny': 'denied',
  'sync throw': 'error',
  'async throw': 'error',
  'rejected promise': 'error',
};

const wrap = (handler: Handler) =>
  withMetrics('test-decorators', withAudit('test-decorators', withErrors(handler, log), { log, events: undefined }));

t.test('every kind of handler through the production chain', async (t) => {
  for (const [name, handler] of Object.entries(handlers)) {
    const decision = await wrap(handler)(request(name));
    const outcome = decision.allowed ? 'allowed' : decision.code >= 500 ? 'error' : 'denied';
    t.equal(outcome, expected[name], name);
    if (outcome === 'error') t.match(decision, { allowed: false, code: 500, reason: 'InvalidRequest', message: /could not decide this request \(boom\)/ });
  }
  const text = await registry.metrics();
  t.match(text, /gateway_orchestrator_admission_requests_total\{webhook="test-decorators",kind="HTTPRoute",operation="CREATE",outcome="allowed"\} 2/);
  t.match(text, /gateway_orchestrator_admission_requests_total\{webhook="test-decorators",kind="HTTPRoute",operation="CREATE",outcome="error"\} 3/);
  t.match(text, /gateway_orchestrator_admission_duration_seconds_count\{webhook="test-decorators",kind="HTTPRoute",operation="CREATE",outcome="denied"\} 2/);
  t.match(text, /gateway_orchestrator_admission_duration_seconds_bucket\{le="\+Inf",webhook="test-decorators",kind="HTTPRoute",operation="CREATE",outcome="denied"\} 2/);
});

t.test('through the server: 200 with the decision, or a 500 for a handler that escapes its decorators', async (t) => {
  const tls = issueStandaloneTls({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const routes: Record<string, Handler> = {};
  for (const [name, handler] of Object.entries(handlers)) routes[`/${name.replace(/ /g, '-')}`] = wrap(handler);
  routes['/bare-sync-throw'] = handlers['sync throw']!;
  routes['/bare-rejection'] = handlers['rejected promise']!;
  const app = await buildWebhookServer({ log, tls, routes, ready: () => ({ ready: true, detail: '' }) });
  for (const [name] of Object.entries(handlers)) {
    const res = await app.inject({ method: 'POST', url: `/${name.replace(/ /g, '-')}`, payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(name) } });
    t.equal(res.statusCode, 200, name);
    t.equal(res.json().response.uid, name);
    t.equal(res.json().response.allowed, expected[name] === 'allowed', name);
  }
  for (const url of ['/bare-sync-throw', '/bare-rejection']) {
    const res = await app.inject({ method: 'POST', url, payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request('x') } });
    t.equal(res.statusCode, 500, url);
    t.same(res.json(), { error: 'internal error' });
  }
  const bad = await app.inject({ method: 'POST', url: '/sync-allow', payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' } });
  t.equal(bad.statusCode, 400);
  await app.close();
});
