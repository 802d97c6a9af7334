// The local environment is what every other test stands on: a real kube-apiserver of the pinned
// version with real RBAC, the CRDs of an EKS cluster, and moto speaking the AWS APIs.

import { spawnSync } from 'node:child_process';
import {
  CreateHostedZoneCommand,
  ListHostedZonesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { repoRoot } from '../env/paths.js';
import { readState } from '../env/state.js';
import { kubernetesVersion } from '../env/versions.js';
import {
  awsClientConfig,
  bindClusterRole,
  createTenant,
  ensureTestTenantClusterRole,
  getEnv,
  isApiStatus,
  kubectl,
  resetMoto,
  TEST_TENANT_CLUSTER_ROLE,
  uniqueName,
} from '../helpers/index.js';

t.before(async () => {
  await getEnv();
});

t.test('the API server runs the pinned Kubernetes release', async (t) => {
  const pinned = kubernetesVersion();
  t.match(pinned, /^v1\.(3[3-9]|[4-9]\d)\.\d+$/, 'pinned release is v1.33 or newer');
  const { stdout } = await kubectl(['get', '--raw', '/version']);
  t.equal(JSON.parse(stdout).gitVersion, pinned, `/version shows ${pinned}`);
});

t.test('the CRDs of an EKS cluster with Gateway API and the AWS LBC are installed', async (t) => {
  const names = [
    'gateways.gateway.networking.k8s.io',
    'httproutes.gateway.networking.k8s.io',
    'loadbalancerconfigurations.gateway.k8s.aws',
  ];
  const { stdout } = await kubectl(['get', 'crd', ...names, '-o', 'name']);
  t.same(stdout.trim().split('\n').sort(), names.map((n) => `customresourcedefinition.apiextensions.k8s.io/${n}`).sort());
  const established = await kubectl([
    'get', 'crd', ...names,
    '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
  ]);
  t.same(established.stdout.trim().split('\n'), ['True', 'True', 'True'], 'all Established');
});

t.test('the AWS SDK creates and lists a Route53 hosted zone on moto; reset keeps the standard zone ids', async (t) => {
  const route53 = new Route53Client(await awsClientConfig());
  t.teardown(() => route53.destroy());
  const env = await getEnv();

  const zone = `${uniqueName('zone')}.example.com`;
  const created = await route53.send(new CreateHostedZoneCommand({ Name: zone, CallerReference: zone }));
  t.ok(created.HostedZone?.Id, 'created');
  const listed = await route53.send(new ListHostedZonesCommand({}));
  const names = (listed.HostedZones ?? []).map((z) => z.Name);
  t.ok(names.includes(`${zone}.`), `${zone} is listed`);
  t.ok(names.includes('opendi.com.') && names.includes('in-muenchen.de.'), 'standard zones are listed');

  const zoneIds = await resetMoto();
  t.same(zoneIds, env.aws.zoneIds, 'standard zones come back with the same ids after a reset');
  const afterReset = await route53.send(new ListHostedZonesCommand({}));
  t.same(
    (afterReset.HostedZones ?? []).map((z) => [z.Name, z.Id?.replace('/hostedzone/', '')]).sort(),
    Object.entries(env.aws.zoneIds).map(([name, id]) => [`${name}.`, id]).sort(),
    'a reset leaves only the standard zones',
  );
});

t.test('RBAC is real: a tenant without a RoleBinding is refused, and allowed after one', async (t) => {
  const namespace = uniqueName('rbac');
  const tenant = await createTenant(namespace, { clusterRole: null });
  await ensureTestTenantClusterRole();

  const refused = await tenant.kubectl(['get', 'httproutes.gateway.networking.k8s.io'], { check: false });
  t.not(refused.code, 0, 'kubectl with the tenant certificate fails');
  t.match(refused.stderr, /forbidden/i, 'because the API server forbids it');
  t.match(refused.stderr, tenant.user, 'naming the tenant user');

  const impersonated = await kubectl(['get', 'httproutes.gateway.networking.k8s.io', '-n', namespace], {
    as: tenant.user,
    asGroups: tenant.groups,
    check: false,
  });
  t.match(impersonated.stderr, /forbidden/i, 'the impersonated tenant is refused too');

  const customObjects = tenant.api(k8s.CustomObjectsApi);
  const listRoutes = () =>
    customObjects.listNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes' });
  const status = await listRoutes().then(() => 200, (err: unknown) => (isApiStatus(err, 403) ? 403 : err));
  t.equal(status, 403, 'the API answers 403 to the tenant client');

  await bindClusterRole(tenant, TEST_TENANT_CLUSTER_ROLE);
  const allowed = await tenant.kubectl(['get', 'httproutes.gateway.networking.k8s.io']);
  t.equal(allowed.code, 0, 'allowed after the RoleBinding');
  await t.resolves(listRoutes(), 'the tenant client lists HTTPRoutes');

  const secrets = await tenant.kubectl(['get', 'secrets'], { check: false });
  t.match(secrets.stderr, /forbidden/i, 'and still refused what the role does not grant');
});

t.test('env:up a second time reuses the running environment', async (t) => {
  const before = readState();
  t.ok(before?.ready, 'an environment is running');
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'test/env/cli.ts', 'up'], { cwd: repoRoot, encoding: 'utf8' });
  t.equal(res.status, 0, `env:up succeeds: ${res.stderr}`);
  t.match(res.stdout, /already running/);
  const after = readState();
  const pids = (s: typeof before) => Object.fromEntries(Object.entries(s?.processes ?? {}).map(([k, d]) => [k, d.pid]));
  t.same(pids(after), pids(before), 'the same processes');
  t.equal(after?.startedAt, before?.startedAt, 'not restarted');
});
