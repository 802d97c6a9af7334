// Admission under stress, against the real API server: two webhook replicas behind a round-robin
// balancer, 100 racing claims, a CA rotation while admissions run, hostile bodies, TLS floor,
// no secrets in logs, and the lock-out behaviour when every replica is gone.
import https from 'node:https';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import t from 'tap';
import fc from 'fast-check';
import { pino } from 'pino';
import { claimNameFor } from '../../policy/hostname.js';
import type { DomainClaim } from '../../policy/api.js';
import { KubeRest, KubeError, paths } from '../../server/kube/rest.js';
import { startOrchestrator, type Orchestrator } from '../../server/orchestrator.js';
import {
  ensureNamespaces,
  localConnection,
  localPlatformConfig,
  localWebhookOptions,
  webhookNames,
  requireLocalEnv,
  useLocalAwsCredentials,
  waitForWebhooks,
} from '../../server/dev/local.js';
import { registerLocalWebhooks, unregisterLocalWebhooks } from '../../server/dev/register-webhooks.js';
import { ADMISSION_BODY_LIMIT } from '../../server/webhook-server.js';
import { createTenant, hostedZoneId, uniqueName, waitFor, type Tenant } from '../helpers/index.js';
import { startRoundRobin, type RoundRobin } from './round-robin.js';

const state = requireLocalEnv();
useLocalAwsCredentials(state);
const suffix = uniqueName('f').slice(2);
const config = localPlatformConfig(state, { orchestrator: { namespace: `gwo-${suffix}` } });
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});
const log = pino({ level: 'debug' }, logSink);

let admin: KubeRest;
let replicas: Orchestrator[] = [];
let balancer: RoundRobin;
let zoneId: string;
const tenants: Tenant[] = [];
const rests: KubeRest[] = [];

const request = (namespace: string, name: string, hostname: string) => ({
  apiVersion: 'gateway-orchestrator.io/v1alpha1',
  kind: 'GatewayHostnameRequest',
  metadata: { name, namespace },
  spec: { hostname, zoneId },
});

t.before(async () => {
  const kube = await localConnection(state);
  admin = KubeRest.connect(kube);
  await ensureNamespaces(admin, [config.orchestrator.namespace]);
  zoneId = await hostedZoneId('opendi.com');
  for (let i = 0; i < 2; i++) {
    replicas.push(
      await startOrchestrator({
        config,
        kube,
        log: log.child({ replica: i }),
        webhook: { host: '127.0.0.1', port: 0, metricsPort: -1, ipAddresses: ['127.0.0.1'], tlsCheckIntervalMs: 300, tlsOverlapMs: 2_500 },
      }),
    );
  }
  balancer = await startRoundRobin(replicas.map((r) => r.port));
  await registerLocalWebhooks(admin, localWebhookOptions(config, `https://127.0.0.1:${balancer.port}`, replicas[0]!.tls.caBundle()));
  await waitForWebhooks(admin, balancer.port);
  for (let i = 0; i < 10; i++) {
    const tenant = await createTenant(`race-${i}-${suffix}`);
    tenants.push(tenant);
    rests.push(await KubeRest.fromKubeConfig(tenant.kubeConfig()));
  }
});

t.teardown(async () => {
  await unregisterLocalWebhooks(admin, webhookNames(config)).catch(() => undefined);
  await balancer?.close();
  for (const replica of replicas) await replica.stop().catch(() => undefined);
  for (const tenant of tenants) {
    const list = await admin.list<{ metadata: { name: string } }>(paths.requests(tenant.namespace)).catch(() => ({ items: [] }));
    for (const item of list.items) {
      await admin.patch(paths.requests(tenant.namespace, item.metadata.name), 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
      await admin.delete(paths.requests(tenant.namespace, item.metadata.name)).catch(() => undefined);
    }
  }
  const claims = await admin.list<DomainClaim>(paths.claims()).catch(() => ({ items: [] as DomainClaim[] }));
  for (const claim of claims.items) {
    if (claim.spec.hostname.includes(suffix)) await admin.delete(paths.claims(claim.metadata.name)).catch(() => undefined);
  }
});

t.test('100 simultaneous creates of one hostname across 10 namespaces and two replicas: exactly one admitted', async (t) => {
  for (let round = 0; round < 3; round++) {
    const hostname = `race${round}-${suffix}.opendi.com`;
    const before = [...balancer.counts];
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const tenant = tenants[i % tenants.length]!;
        return rests[i % rests.length]!.create(paths.requests(tenant.namespace), request(tenant.namespace, `r${round}-${i}`, hostname)).then(
          () => ({ admitted: true, ns: tenant.namespace, name: `r${round}-${i}` }),
          (err: unknown) => ({ admitted: false, status: err instanceof KubeError ? err.status : -1, message: String(err) }),
        );
      }),
    );
    const admitted = results.filter((r) => r.admitted) as Array<{ ns: string; name: string }>;
    t.equal(admitted.length, 1, `round ${round}: exactly one admitted`);
    if (admitted.length !== 1) t.comment(JSON.stringify(results.slice(0, 3)));
    const refused = results.filter((r) => !r.admitted) as Array<{ status: number; message: string }>;
    t.ok(refused.every((r) => r.status === 403 && /already claimed/.test(r.message)), `round ${round}: every other one is a clear 403`);
    const claims = (await admin.list<DomainClaim>(paths.claims())).items.filter((c) => c.spec.hostname === hostname);
    t.equal(claims.length, 1, `round ${round}: one claim`);
    t.same(claims[0]?.spec.requestRef, { namespace: admitted[0]?.ns, name: admitted[0]?.name }, `round ${round}: held by the admitted request`);
    t.ok(balancer.counts.every((c, i) => c > (before[i] ?? 0)) || round > 0, 'both replicas served connections');
  }
  t.ok(balancer.counts.every((c) => c > 0), `both replicas answered (${balancer.counts.join(', ')} connections)`);
  t.notOk(logLines.some((l) => l.includes('webhook TLS rotated')), 'a fresh certificate is not renewed again at every TLS check');
});

t.test('a forced CA rotation while admissions run: zero failed admissions, old and new CA trusted during the overlap', async (t) => {
  const tenant = tenants[0]!;
  const rest = rests[0]!;
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const caCounts = new Set<number>();
  const worker = async (w: number) => {
    let i = 0;
    while (running) {
      const body = request(tenant.namespace, `rot-${w}-${i++}`, `rot-${w}-${i}-${suffix}.opendi.com`);
      try {
        await rest.create(paths.requests(tenant.namespace), body, { dryRun: true });
        ok++;
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  const firstCa = replicas[0]!.tls.bundle!.caCert;
  await replicas[0]!.rotateTls({ ca: true });
  // Watch the bundle the API server is given: first old + new, then new only.
  await waitFor(
    async () => {
      const vwc = await admin.get<{ webhooks: Array<{ clientConfig: { caBundle: string } }> }>(paths.validatingWebhooks(config.webhook.validatingConfigurationName));
      const pem = Buffer.from(vwc.webhooks[0]!.clientConfig.caBundle, 'base64').toString('utf8');
      const count = (pem.match(/BEGIN CERTIFICATE/g) ?? []).length;
      caCounts.add(count);
      const done = replicas.every((r) => !r.tls.bundle?.previousCaCert && r.tls.bundle?.caCert !== firstCa);
      return done && count === 1;
    },
    { description: 'the CA rotation to complete on both replicas', timeoutMs: 30_000, intervalMs: 100 },
  );
  // Keep the load on a moment after the old CA is gone.
  await new Promise((r) => setTimeout(r, 1_500));
  running = false;
  await Promise.all(workers);
  t.ok(caCounts.has(2), 'both CAs were in the bundle during the overlap');
  t.not(replicas[1]!.tls.bundle!.caCert, firstCa, 'the second replica moved to the new CA too');
  t.ok(ok > 20, `admissions kept flowing (${ok} answered)`);
  t.same(failures, [], 'zero failed admissions');
});

const len = (s: string) => s.length;

function postRaw(port: number, path: string, body: string | Buffer): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, method: 'POST', ca: replicas[0]!.tls.caBundle(), headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const ROUTES = ['/mutate/gatewayhostnamerequests', '/validate/gatewayhostnamerequests', '/validate/routes', '/validate/protected'];

function wellFormed(status: number, json: unknown): boolean {
  if (status >= 400 && status < 500) return true;
  if (status !== 200 || typeof json !== 'object' || json === null) return false;
  const review = json as { apiVersion?: string; kind?: string; response?: { uid?: unknown; allowed?: unknown } };
  return review.apiVersion === 'admission.k8s.io/v1' && review.kind === 'AdmissionReview' && typeof review.response?.uid === 'string' && typeof review.response.allowed === 'boolean';
}

t.test('hostile input: every answer is a well-formed AdmissionReview or a 4xx, and the process stays up', async (t) => {
  const port = replicas[1]!.port;
  const review = (request: unknown) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  const base = {
    uid: 'u1',
    kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute' },
    resource: { group: 'gateway.networking.k8s.io', version: 'v1', resource: 'httproutes' },
    namespace: tenants[0]!.namespace,
    operation: 'CREATE',
    userInfo: { username: 'fuzzer' },
  };
  const fixed: Array<[string, string | Buffer]> = [
    ['malformed JSON', '{"apiVersion": "admission.k8s.io/v1", '],
    ['wrong types', JSON.stringify(review({ ...base, uid: 42 }))],
    ['missing uid', JSON.stringify(review({ ...base, uid: undefined }))],
    ['unknown kind', JSON.stringify(review({ ...base, kind: { group: 'x', version: 'v9', kind: 'Teapot' }, object: { spec: 1 } }))],
    ['deep nesting', '['.repeat(200_000) + ']'.repeat(200_000)],
    // Built as text: JSON.stringify itself cannot walk an object this deep.
    ['deep object', `${JSON.stringify(review({ ...base, object: null })).slice(0, -len('null}}'))}${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}}`],
    ['oversized body', Buffer.alloc(ADMISSION_BODY_LIMIT + 1024, 0x20)],
    ['proto poisoning', `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","__proto__":{"allowed":true},"request":${JSON.stringify(base)}}`],
    [
      'thousands of hostnames',
      JSON.stringify(
        review({
          ...base,
          object: {
            metadata: { name: 'many' },
            spec: { parentRefs: [{ name: 'gw-01', namespace: 'edge' }], hostnames: Array.from({ length: 5_000 }, (_, i) => `h${i}-${suffix}.opendi.com`) },
          },
        }),
      ),
    ],
    ['hostname of wrong type', JSON.stringify(review({ ...base, object: { metadata: { name: 'x' }, spec: { hostnames: [{ evil: true }, 7, null] } } }))],
  ];
  for (const [name, body] of fixed) {
    for (const path of ROUTES) {
      const res = await postRaw(port, path, body);
      t.ok(wellFormed(res.status, res.json), `${name} on ${path}: ${res.status}`);
      if (res.status === 200) {
        const allowed = (res.json as { response: { allowed: boolean } }).response.allowed;
        if (name === 'thousands of hostnames' && path === '/validate/routes') t.equal(allowed, false, 'ungranted hostnames are denied');
      }
    }
  }
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(...ROUTES), fc.boolean(), async (value, path, wrap) => {
      const body = JSON.stringify(wrap ? review(value) : value);
      const res = await postRaw(port, path, body);
      return wellFormed(res.status, res.json);
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({ hostnames: fc.array(fc.oneof(fc.string(), fc.domain(), fc.jsonValue()), { maxLength: 5 }), parentRefs: fc.jsonValue() }),
      async (spec) => {
        const res = await postRaw(port, '/validate/routes', JSON.stringify(review({ ...base, object: { metadata: { name: 'fz' }, spec } })));
        return wellFormed(res.status, res.json);
      },
    ),
    { numRuns: 300 },
  );
  const health = await new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/healthz', ca: replicas[0]!.tls.caBundle() }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
  });
  t.equal(health, 200, 'the replica is still healthy');
});

t.test('the webhook refuses TLS below 1.2', async (t) => {
  const port = replicas[0]!.port;
  const handshake = (options: tls.ConnectionOptions) =>
    new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: replicas[0]!.tls.caBundle(), ...options }, () => {
        const version = socket.getProtocol() ?? 'unknown';
        socket.end();
        resolve(version);
      });
      socket.on('error', (err) => resolve(`refused: ${err.message}`));
    });
  t.equal(await handshake({ minVersion: 'TLSv1.2' }), 'TLSv1.3');
  t.equal(await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'TLSv1.2');
  // The client is willing (security level 0 lets OpenSSL offer 1.0/1.1); the server must say no.
  t.match(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /^refused/);
});

t.test('no private keys or credentials in the logs', async (t) => {
  const text = logLines.join('');
  t.ok(logLines.length > 10, `logs were written (${logLines.length} lines)`);
  t.notMatch(text, /PRIVATE KEY/, 'no private key material');
  t.notMatch(text, /BEGIN CERTIFICATE/, 'no certificates either');
  t.notMatch(text, new RegExp(`"${state.aws.secretAccessKey}"`), 'no AWS secret');
  t.match(text, /admission denied/, 'denials are logged');
});

t.test('lock-out: with every replica gone, kube-system and the orchestrator namespace stay writable; requests and routes fail closed', async (t) => {
  await balancer.close();
  for (const replica of replicas) await replica.stop();
  replicas = [];
  const configMap = (ns: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `lockout-${suffix}`, namespace: ns }, data: { ok: 'yes' } });
  for (const ns of ['kube-system', config.orchestrator.namespace]) {
    await t.resolves(admin.create(`/api/v1/namespaces/${ns}/configmaps`, configMap(ns)), `${ns} is writable`);
    await admin.delete(`/api/v1/namespaces/${ns}/configmaps/lockout-${suffix}`);
  }
  const tenant = tenants[1]!;
  const err = await rests[1]!.create(paths.requests(tenant.namespace), request(tenant.namespace, 'locked', `locked-${suffix}.opendi.com`)).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof KubeError, 'a request is refused');
  t.match(String(err), /failed calling webhook/, 'with the API server\'s clear "failed calling webhook" message');
  const routeErr = await rests[1]!
    .create(`/apis/gateway.networking.k8s.io/v1/namespaces/${tenant.namespace}/httproutes`, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'locked', namespace: tenant.namespace },
      spec: { parentRefs: [{ name: 'gw-01', namespace: 'edge' }], hostnames: [`locked-${suffix}.opendi.com`] },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.match(String(routeErr), /failed calling webhook/, 'routes fail closed too');
  const claimErr = await admin.get(paths.claims(claimNameFor(`locked-${suffix}.opendi.com`))).then(
    () => 'exists',
    () => 'absent',
  );
  t.equal(claimErr, 'absent', 'nothing was claimed');
});
