// Admission against the real API server, as tenant identities with their own credentials and RBAC:
// first-come-first-serve claims, the allowlist, route ownership, protection, dry-run and Events.
import t from 'tap';
import { claimNameFor } from '../../policy/hostname.js';
import type { DomainClaim } from '../../policy/api.js';
import { KubeRest, KubeError, isNotFound, paths } from '../../server/kube/rest.js';
import { startLocalOrchestrator, type LocalOrchestrator } from '../../server/dev/local.js';
import { adminKubeConfig, createTenant, hostedZoneId, uniqueName, waitFor, type Tenant } from '../helpers/index.js';

const suffix = uniqueName('x').slice(2);
const hostname = (label: string, zone = 'opendi.com') => `${label}-${suffix}.${zone}`;

let orchestrator: LocalOrchestrator;
let admin: KubeRest;
let zoneId: string;
const tenants: Record<string, Tenant> = {};
const rests: Record<string, KubeRest> = {};

const request = (namespace: string, name: string, host: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'gateway-orchestrator.io/v1alpha1',
  kind: 'GatewayHostnameRequest',
  metadata: { name, namespace },
  spec: { hostname: host, zoneId, ...extra },
});

const route = (namespace: string, name: string, hostnames: string[] | undefined) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace },
  spec: {
    parentRefs: [{ name: 'gw-01', namespace: 'edge' }],
    ...(hostnames ? { hostnames } : {}),
    rules: [{ backendRefs: [{ name: 'web', port: 8080 }] }],
  },
});

async function denial(promise: Promise<unknown>): Promise<KubeError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KubeError) return err;
    throw err;
  }
  throw new Error('expected the API server to refuse, but it accepted');
}

t.before(async () => {
  orchestrator = await startLocalOrchestrator();
  admin = await KubeRest.fromKubeConfig(await adminKubeConfig());
  zoneId = await hostedZoneId('opendi.com');
  for (const team of ['team-a', 'team-b', 'team-c', 'team-d', 'team-e']) {
    const ns = `${team}-${suffix}`;
    tenants[team] = await createTenant(ns);
    rests[team] = await KubeRest.fromKubeConfig(tenants[team].kubeConfig());
  }
});

t.teardown(async () => {
  if (!admin) return void (await orchestrator?.stop());
  // Without the reconciler nobody removes finalizers: the admin (break glass) cleans up.
  for (const tenant of Object.values(tenants)) {
    const list = await admin.list<{ metadata: { name: string } }>(paths.requests(tenant.namespace));
    for (const item of list.items) {
      await admin.patch(paths.requests(tenant.namespace, item.metadata.name), 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
      await admin.delete(paths.requests(tenant.namespace, item.metadata.name)).catch(() => undefined);
    }
    await admin.delete(`/api/v1/namespaces/${tenant.namespace}`).catch(() => undefined);
  }
  const claims = await admin.list<DomainClaim>(paths.claims());
  for (const claim of claims.items) {
    if (claim.spec.hostname.includes(suffix)) await admin.delete(paths.claims(claim.metadata.name)).catch(() => undefined);
  }
  await orchestrator?.stop();
});

t.test('1-2. first come, first served: team-a claims, team-b is denied naming team-a, with an Event', async (t) => {
  const host = hostname('test');
  const a = tenants['team-a']!;
  const created = await rests['team-a']!.create<{ spec: { hostname: string; visibility: string }; metadata: { finalizers: string[] } }>(
    paths.requests(a.namespace),
    request(a.namespace, 'test', host),
  );
  t.equal(created.spec.hostname, host);
  t.equal(created.spec.visibility, 'internet-facing', 'defaults filled');
  t.same(created.metadata.finalizers, ['gateway-orchestrator.io/cleanup']);
  const claim = await admin.get<DomainClaim>(paths.claims(claimNameFor(host)));
  t.same(claim.spec.requestRef, { namespace: a.namespace, name: 'test' });

  const b = tenants['team-b']!;
  const err = await denial(rests['team-b']!.create(paths.requests(b.namespace), request(b.namespace, 'hijack', `${host.toUpperCase()}.`)));
  t.equal(err.status, 403);
  t.match(err.message, new RegExp(`"${host.replace(/\./g, '\\.')}" is already claimed by namespace "${a.namespace}"`));
  t.match(err.message, /GatewayHostnameRequest "test"/);

  const event = await waitFor(
    async () => {
      const events = await admin.list<{ reason: string; note: string; regarding: { name: string } }>(paths.events(b.namespace));
      return events.items.find((e) => e.reason === 'HostnameClaimed' && e.regarding.name === 'hijack');
    },
    { description: `a HostnameClaimed Event in ${b.namespace}`, timeoutMs: 15_000 },
  );
  t.match(event.note, a.namespace);
  t.match(event.note, b.user, 'the Event names the requesting user');
});

t.test('3. 20 simultaneous creates of one new hostname from 5 namespaces: exactly one admitted, one claim', async (t) => {
  const host = hostname('race');
  const teams = Object.keys(tenants);
  const attempts = Array.from({ length: 20 }, (_, i) => {
    const team = teams[i % teams.length]!;
    const ns = tenants[team]!.namespace;
    return rests[team]!.create(paths.requests(ns), request(ns, `race-${i}`, host)).then(
      () => ({ ok: true as const, ns, name: `race-${i}` }),
      (err: unknown) => ({ ok: false as const, status: err instanceof KubeError ? err.status : 0 }),
    );
  });
  const results = await Promise.all(attempts);
  const admitted = results.filter((r) => r.ok);
  t.equal(admitted.length, 1, 'exactly one admitted');
  t.ok(results.filter((r) => !r.ok).every((r) => !r.ok && r.status === 403), 'every other attempt is a clear 403');
  const claim = await admin.get<DomainClaim>(paths.claims(claimNameFor(host)));
  const winner = admitted[0] as { ns: string; name: string };
  t.same(claim.spec.requestRef, { namespace: winner.ns, name: winner.name }, 'the one claim belongs to the admitted request');
  const all = await admin.list<DomainClaim>(paths.claims());
  t.equal(all.items.filter((c) => c.spec.hostname === host).length, 1, 'one claim');
});

t.test('wildcards: *.domain and a name below it cannot belong to two namespaces', async (t) => {
  const parent = `wild-${suffix}.opendi.com`;
  const a = tenants['team-a']!;
  const c = tenants['team-c']!;
  await rests['team-a']!.create(paths.requests(a.namespace), request(a.namespace, 'wild', `*.${parent}`));
  const below = await denial(rests['team-c']!.create(paths.requests(c.namespace), request(c.namespace, 'below', `shop.${parent}`)));
  t.equal(below.status, 403);
  t.match(below.message, /overlaps/);
  await t.resolves(
    rests['team-c']!.create(paths.requests(c.namespace), request(c.namespace, 'apex', parent)),
    'the apex is its own name',
  );
  await t.resolves(
    rests['team-a']!.create(paths.requests(a.namespace), request(a.namespace, 'own-below', `api.${parent}`)),
    'the wildcard owner may claim names below it',
  );
  t.equal(await claimExists(`shop.${parent}`), false, 'the losing claim was released');
});

t.test('4. routes: team-b cannot use team-a\'s hostname, team-a can, hostname-less routes on the pool are denied', async (t) => {
  const host = hostname('routes');
  const a = tenants['team-a']!;
  const b = tenants['team-b']!;
  // Request and route in one apply: the route finds the claim made a moment ago.
  await a.kubectl(['apply', '-f', '-'], {
    input: [request(a.namespace, 'routes', host), route(a.namespace, 'web', [host])].map((o) => JSON.stringify(o)).join('\n---\n'),
  });
  const own = await admin.get<{ spec: { hostnames: string[] } }>(`/apis/gateway.networking.k8s.io/v1/namespaces/${a.namespace}/httproutes/web`);
  t.same(own.spec.hostnames, [host], "team-a's route is admitted");

  const stolen = await denial(rests['team-b']!.create(`/apis/gateway.networking.k8s.io/v1/namespaces/${b.namespace}/httproutes`, route(b.namespace, 'steal', [host])));
  t.equal(stolen.status, 403);
  t.match(stolen.message, /RouteHostnameNotGranted|not granted/);
  t.match(stolen.message, a.namespace);

  const bare = await denial(rests['team-a']!.create(`/apis/gateway.networking.k8s.io/v1/namespaces/${a.namespace}/httproutes`, route(a.namespace, 'bare', undefined)));
  t.equal(bare.status, 403);
  t.match(bare.message, /no spec.hostnames/);

  const result = await b.kubectl(['apply', '-f', '-'], { input: JSON.stringify(route(b.namespace, 'steal', [host])), check: false });
  t.not(result.code, 0, 'kubectl apply fails for team-b');
  t.match(result.stderr, /denied the request/);
});

t.test('5. a hostname outside the allowlist is denied and the message lists the allowed domains', async (t) => {
  const a = tenants['team-a']!;
  const err = await denial(rests['team-a']!.create(paths.requests(a.namespace), request(a.namespace, 'outside', `shop-${suffix}.example.org`)));
  t.equal(err.status, 403);
  t.match(err.message, /Allowed domains: opendi\.com, in-muenchen\.de/);
});

t.test('6. tenants cannot forge claims or grants, nor write request status', async (t) => {
  const b = tenants['team-b']!;
  const forgedClaim = {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'DomainClaim',
    metadata: { name: claimNameFor(hostname('forged')) },
    spec: { hostname: hostname('forged'), requestRef: { namespace: b.namespace, name: 'x' } },
  };
  const forgedGrant = {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'HostnameGrant',
    metadata: { name: `forged-${suffix}` },
    spec: { hostname: hostname('test'), namespace: b.namespace },
  };
  t.equal((await denial(rests['team-b']!.create(paths.claims(), forgedClaim))).status, 403, 'RBAC refuses a claim');
  t.equal((await denial(rests['team-b']!.create(paths.grants(), forgedGrant))).status, 403, 'RBAC refuses a grant');

  // Even a tenant that was given too broad RBAC by mistake is stopped by the protection webhook.
  const careless = await createTenant(`careless-${suffix}`, { clusterRole: null });
  tenants['careless'] = careless;
  await admin.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: `too-broad-${suffix}` },
    rules: [{ apiGroups: ['gateway-orchestrator.io'], resources: ['*'], verbs: ['*'] }],
  });
  await admin.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `too-broad-${suffix}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `too-broad-${suffix}` },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: careless.user }],
  });
  t.teardown(async () => {
    await admin.delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/too-broad-${suffix}`).catch(() => undefined);
    await admin.delete(`/apis/rbac.authorization.k8s.io/v1/clusterroles/too-broad-${suffix}`).catch(() => undefined);
  });
  const carelessRest = await KubeRest.fromKubeConfig(careless.kubeConfig());
  const claimErr = await waitFor(
    async () => {
      const err = await denial(carelessRest.create(paths.claims(), forgedClaim));
      return err.message.includes('reserved to the gateway-orchestrator') ? err : undefined;
    },
    { description: 'the protection webhook to refuse a forged claim once RBAC allows it', timeoutMs: 15_000 },
  );
  t.equal(claimErr.status, 403);
  // The denial is on record although a DomainClaim has no namespace: Events about cluster-scoped
  // objects go to "default", the only namespace (with kube-system) the API server accepts them in.
  const claimEvent = await waitFor(
    async () => {
      const events = await admin.list<{ reason: string; note: string; regarding: { kind: string; name: string; namespace?: string } }>(paths.events('default'));
      return events.items.find((e) => e.regarding.kind === 'DomainClaim' && e.regarding.name === forgedClaim.metadata.name);
    },
    { description: 'a denial Event about the forged DomainClaim in namespace default', timeoutMs: 15_000 },
  );
  t.equal(claimEvent.regarding.namespace, undefined, 'about the cluster-scoped claim');
  t.match(claimEvent.note, careless.user, 'the Event names the requesting user');
  const grantErr = await denial(carelessRest.create(paths.grants(), forgedGrant));
  t.match(grantErr.message, /reserved to the gateway-orchestrator/);

  const a = tenants['team-a']!;
  const statusErr = await denial(
    carelessRest.patch(paths.requestStatus(a.namespace, 'test'), 'merge', { status: { certificateArn: 'arn:aws:acm:forged' } }),
  );
  t.equal(statusErr.status, 403, 'request status is the orchestrator\'s');
  const tenantStatusErr = await denial(
    rests['team-a']!.patch(paths.requestStatus(a.namespace, 'test'), 'merge', { status: { certificateArn: 'arn:aws:acm:forged' } }),
  );
  t.equal(tenantStatusErr.status, 403, 'the owning tenant cannot write its status either');
});

t.test('updates: hostname is immutable, the cleanup finalizer cannot be dropped by a tenant', async (t) => {
  const a = tenants['team-a']!;
  const immutable = await denial(rests['team-a']!.patch(paths.requests(a.namespace, 'test'), 'merge', { spec: { hostname: hostname('moved') } }));
  t.equal(immutable.status >= 400 && immutable.status < 500, true);
  t.match(immutable.message, /immutable|cannot change/);
  const finalizer = await denial(rests['team-a']!.patch(paths.requests(a.namespace, 'test'), 'merge', { metadata: { finalizers: null } }));
  t.equal(finalizer.status, 403);
  t.match(finalizer.message, /finalizer/);
});

t.test('7. kubectl apply --dry-run=server of a request leaves no claim', async (t) => {
  const host = hostname('dry');
  const a = tenants['team-a']!;
  const result = await a.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(request(a.namespace, 'dry', `${host.toUpperCase()}`)) });
  t.equal(JSON.parse(result.stdout).spec.hostname, host, 'the dry run shows the mutation');
  t.equal(await claimExists(host), false, 'no claim stays behind');
  const gone = await admin.get(paths.requests(a.namespace, 'dry')).then(
    () => false,
    (err: unknown) => isNotFound(err),
  );
  t.ok(gone, 'no request stays behind');
});

async function claimExists(host: string): Promise<boolean> {
  try {
    await admin.get(paths.claims(claimNameFor(host)));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
