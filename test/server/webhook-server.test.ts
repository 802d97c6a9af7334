// The webhook server with real handlers and policy, fed JSON AdmissionReview fixtures. The claim
// store is an in-memory fake here; the real one is proven against the API server in test/admission.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parsePlatformConfig } from '../../policy/config.js';
import { HostnameOwnershipIndex } from '../../policy/ownership.js';
import { claimNameFor } from '../../policy/hostname.js';
import type { DomainClaim } from '../../policy/api.js';
import { createLogger } from '../../server/log.js';
import { buildWebhookServer, ADMISSION_BODY_LIMIT } from '../../server/webhook-server.js';
import { issueStandaloneTls } from '../../server/tls.js';
import {
  mutateRequestHandler,
  validateRequestHandler,
  validateRouteHandler,
  type AdmissionState,
} from '../../server/admission/handlers.js';
import { withErrors } from '../../server/admission/review.js';
import type { ClaimInput, ClaimOutcome } from '../../server/admission/claims.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/admission/${name}`, import.meta.url), 'utf8'));
const config = parsePlatformConfig({ allowedDomains: ['opendi.com', { domain: 'in-muenchen.de', namespaces: ['city-*'] }] });
const log = createLogger('silent');
const tls = issueStandaloneTls({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });

class FakeClaims {
  readonly held = new Map<string, { namespace: string; name: string }>();
  async claim(input: ClaimInput): Promise<ClaimOutcome> {
    const holder = this.held.get(input.hostname);
    if (holder && (holder.namespace !== input.namespace || holder.name !== input.name)) {
      return { kind: 'held', holder: { ...holder, hostname: input.hostname } };
    }
    if (holder) return { kind: 'already-ours' };
    if (!input.dryRun) this.held.set(input.hostname, { namespace: input.namespace, name: input.name });
    return { kind: 'claimed' };
  }
  async read(hostname: string): Promise<DomainClaim | undefined> {
    const holder = this.held.get(hostname);
    if (!holder) return undefined;
    return {
      apiVersion: 'gateway-orchestrator.io/v1alpha1',
      kind: 'DomainClaim',
      metadata: { name: claimNameFor(hostname) },
      spec: { hostname, requestRef: holder },
    };
  }
}

async function setup() {
  const claims = new FakeClaims();
  const index = new HostnameOwnershipIndex();
  const state: AdmissionState = { config, index, claims, zoneNameOf: () => undefined };
  const app = await buildWebhookServer({
    log,
    tls,
    ready: () => ({ ready: true, detail: 'test' }),
    routes: {
      '/mutate/gatewayhostnamerequests': withErrors(mutateRequestHandler(state), log),
      '/validate/gatewayhostnamerequests': withErrors(validateRequestHandler(state), log),
      '/validate/routes': withErrors(validateRouteHandler(state), log),
    },
  });
  return { app, claims, index };
}

t.test('mutation normalises the hostname and zone id, fills defaults and adds the finalizer', async (t) => {
  const { app } = await setup();
  const res = await app.inject({ method: 'POST', url: '/mutate/gatewayhostnamerequests', payload: fixture('ghr-create.json') });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
  t.equal(body.response.allowed, true);
  t.equal(body.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
  t.same(patch, [
    { op: 'replace', path: '/spec/hostname', value: 'shop.opendi.com' },
    { op: 'replace', path: '/spec/zoneId', value: 'Z123' },
    { op: 'add', path: '/spec/environment', value: 'production' },
    { op: 'add', path: '/spec/visibility', value: 'internet-facing' },
    { op: 'add', path: '/spec/gatewayClass', value: 'aws-alb' },
    { op: 'add', path: '/metadata/finalizers', value: ['gateway-orchestrator.io/cleanup'] },
  ]);
});

t.test('validation claims first come, first served and names the holder', async (t) => {
  const { app, claims } = await setup();
  const review = fixture('ghr-create.json');
  review.request.object.spec.hostname = 'shop.opendi.com';
  const first = (await app.inject({ method: 'POST', url: '/validate/gatewayhostnamerequests', payload: review })).json();
  t.equal(first.response.allowed, true);
  t.ok(first.response.warnings.length > 0, 'warns that provisioning takes a while');
  t.same(claims.held.get('shop.opendi.com'), { namespace: 'team-a', name: 'shop' });

  review.request.namespace = 'team-b';
  review.request.object.metadata.namespace = 'team-b';
  const second = (await app.inject({ method: 'POST', url: '/validate/gatewayhostnamerequests', payload: review })).json();
  t.equal(second.response.allowed, false);
  t.equal(second.response.status.code, 403);
  t.equal(second.response.status.reason, 'HostnameClaimed');
  t.match(second.response.status.message, /"shop\.opendi\.com" is already claimed by namespace "team-a" \(GatewayHostnameRequest "shop"\)/);
});

t.test('a hostname outside the allowlist is denied with the allowed domains listed', async (t) => {
  const { app } = await setup();
  const review = fixture('ghr-create.json');
  review.request.object.spec.hostname = 'shop.example.org';
  const body = (await app.inject({ method: 'POST', url: '/validate/gatewayhostnamerequests', payload: review })).json();
  t.equal(body.response.allowed, false);
  t.equal(body.response.status.reason, 'DomainNotAllowed');
  t.match(body.response.status.message, /Allowed domains: opendi\.com/);
  t.notMatch(body.response.status.message, /in-muenchen\.de/, 'a domain restricted to other namespaces is not offered');
});

t.test('routes: granted hostnames pass, others are denied naming the owner, hostname-less routes on the pool are denied', async (t) => {
  const { app, claims, index } = await setup();
  claims.held.set('shop.opendi.com', { namespace: 'team-a', name: 'shop' });
  index.setClaim(claimNameFor('shop.opendi.com'), { hostname: 'shop.opendi.com', namespace: 'team-a', request: 'shop' });

  const denied = (await app.inject({ method: 'POST', url: '/validate/routes', payload: fixture('httproute-create.json') })).json();
  t.equal(denied.response.allowed, false);
  t.equal(denied.response.status.reason, 'RouteHostnameNotGranted');
  t.match(denied.response.status.message, /belongs to namespace "team-a"/);

  const review = fixture('httproute-create.json');
  review.request.namespace = 'team-a';
  const allowed = (await app.inject({ method: 'POST', url: '/validate/routes', payload: review })).json();
  t.equal(allowed.response.allowed, true);

  // Claimed a moment ago, not yet in the cache: the direct read finds it.
  claims.held.set('new.opendi.com', { namespace: 'team-a', name: 'new' });
  review.request.object.spec.hostnames = ['new.opendi.com'];
  const fresh = (await app.inject({ method: 'POST', url: '/validate/routes', payload: review })).json();
  t.equal(fresh.response.allowed, true);

  review.request.object.spec.hostnames = [];
  const bare = (await app.inject({ method: 'POST', url: '/validate/routes', payload: review })).json();
  t.equal(bare.response.allowed, false);
  t.equal(bare.response.status.reason, 'RouteWithoutHostnames');

  review.request.object.spec.parentRefs = [{ name: 'own-gateway' }];
  const ownGateway = (await app.inject({ method: 'POST', url: '/validate/routes', payload: review })).json();
  t.equal(ownGateway.response.allowed, true, 'a hostname-less route on a gateway of its own is not our business');
});

t.test('malformed bodies get a 4xx, never a crash or an allow', async (t) => {
  const { app } = await setup();
  const cases: Array<[string, unknown, number]> = [
    ['not json', 'this is not json', 400],
    ['array', [], 400],
    ['wrong apiVersion', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }, 400],
    ['missing uid', { ...fixture('ghr-create.json'), request: { ...fixture('ghr-create.json').request, uid: undefined } }, 400],
    ['bad groups', { ...fixture('ghr-create.json'), request: { ...fixture('ghr-create.json').request, userInfo: { username: 'x', groups: [1] } } }, 400],
  ];
  for (const [name, payload, status] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/validate/gatewayhostnamerequests',
      headers: { 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    t.equal(res.statusCode, status, name);
  }
  const big = await app.inject({
    method: 'POST',
    url: '/validate/gatewayhostnamerequests',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ pad: 'x'.repeat(ADMISSION_BODY_LIMIT + 1) }),
  });
  t.equal(big.statusCode, 413, 'the body limit holds');

  const noObject = fixture('ghr-create.json');
  noObject.request.object = 'nope';
  const res = (await app.inject({ method: 'POST', url: '/validate/gatewayhostnamerequests', payload: noObject })).json();
  t.equal(res.response.allowed, false, 'a review without a usable object is denied, not allowed');
  t.equal(res.response.status.code, 400);
});
