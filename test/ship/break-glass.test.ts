// The break-glass step of README "Failure modes" works against a real API server: with the
// orchestrator's webhooks registered but nobody answering (an outage: failurePolicy Fail), a
// tenant cannot create a GatewayHostnameRequest, while the documented command, which impersonates
// the break-glass group, can; deleting the webhook configurations is the other way out.
//
// The webhooks are the real ones from manifests/webhooks.yaml (their rules and matchConditions),
// under test-only names and limited to one test namespace, so other tests never see them.
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { applyYaml, createTenant, kubectl, toYaml, uniqueHostname, uniqueName, waitFor, type Tenant } from '../helpers/index.js';
import { kustomize, readRepoFile } from './lib.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const configName = uniqueName('break-glass-test');
let tenant: Tenant;
let zoneId: string;

/** The webhooks for GatewayHostnameRequests, pointing at a port nobody listens on. */
function deadWebhooks(namespace: string): Json[] {
  const docs = parseAllDocuments(readRepoFile('manifests/webhooks.yaml')).map((d) => d.toJS() as Json);
  return docs.map((doc) => {
    const webhooks = (doc['webhooks'] as Json[])
      .filter((w) => (w['rules'] as Json[]).some((r) => (r['resources'] as string[]).includes('gatewayhostnamerequests')))
      .map((w) => ({
        ...w,
        clientConfig: { url: `https://127.0.0.1:1${w['clientConfig'].service.path as string}` },
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      }));
    return { apiVersion: doc['apiVersion'], kind: doc['kind'], metadata: { name: configName }, webhooks };
  });
}

const request = (name: string) =>
  toYaml({
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name, namespace: tenant.namespace },
    spec: { hostname: uniqueHostname(), zoneId },
  });

t.before(async () => {
  const { objects } = await kustomize('manifests');
  await applyYaml(objects.filter((o) => o.kind === 'ClusterRole' && o.metadata.name === 'gateway-orchestrator-tenant'));
  tenant = await createTenant(uniqueName('team'), { clusterRole: 'gateway-orchestrator-tenant' });
  zoneId = 'Z0000000000000EXAMPLE1';
  await applyYaml(deadWebhooks(tenant.namespace));
  // The API server picks up webhook configurations through its informers.
  await waitFor(
    async () => {
      const r = await tenant.kubectl(['create', '--dry-run=server', '-f', '-'], { input: request('probe'), check: false });
      return r.code !== 0 && r.stderr.includes('failed calling webhook');
    },
    { description: 'the dead webhooks to be enforced', timeoutMs: 20_000, intervalMs: 200 },
  );
});

t.teardown(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', configName, '--ignore-not-found']);
  if (tenant) await kubectl(['delete', 'gatewayhostnamerequests.gateway-orchestrator.io', '--all', '-n', tenant.namespace, '--ignore-not-found', '--wait=false']);
});

t.test('during a webhook outage a tenant cannot create a hostname request', async (t) => {
  const r = await tenant.kubectl(['create', '-f', '-'], { input: request('outage'), check: false });
  t.not(r.code, 0);
  t.match(r.stderr, /failed calling webhook "requests\.(mutate|validate)\.gateway-orchestrator\.io"/);
});

t.test('the break-glass command bypasses the webhooks (README, "Break glass")', async (t) => {
  // A cluster admin: kubectl --as=<you> --as-group=system:masters --as-group=gateway-orchestrator:break-glass ...
  const admin = await kubectl(['create', '-f', '-'], {
    as: 'oncall@example.com',
    asGroups: ['system:masters', 'gateway-orchestrator:break-glass'],
    input: request('break-glass-admin'),
    check: false,
  });
  t.equal(admin.code, 0, `created: ${admin.stdout}${admin.stderr}`);
  // The bypass is the group, not extra privileges: the tenant's own identity in the group passes too.
  const asTenant = await kubectl(['create', '-f', '-'], { as: tenant.user, asGroups: ['gateway-orchestrator:break-glass'], input: request('break-glass-tenant'), check: false });
  t.equal(asTenant.code, 0, `created: ${asTenant.stdout}${asTenant.stderr}`);
  // Without the group, the same impersonation is stopped by the outage.
  const without = await kubectl(['create', '-f', '-'], { as: tenant.user, asGroups: ['tenants'], input: request('no-break-glass'), check: false });
  t.not(without.code, 0);
  t.match(without.stderr, /failed calling webhook/);
});

t.test('a tenant cannot break glass itself: impersonating the group needs a permission it lacks', async (t) => {
  const r = await tenant.kubectl(['create', '--validate=false', '-f', '-', '--as', tenant.user, '--as-group', 'gateway-orchestrator:break-glass'], { input: request('self-service-break-glass'), check: false });
  t.not(r.code, 0);
  t.match(r.stderr, /cannot impersonate/);
});

t.test('deleting the webhook configurations ends the outage', async (t) => {
  await kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', configName]);
  await waitFor(
    async () => {
      const r = await tenant.kubectl(['create', '-f', '-'], { input: request(uniqueName('after')), check: false });
      return r.code === 0;
    },
    { description: 'a tenant create to succeed once the configurations are gone', timeoutMs: 20_000, intervalMs: 250 },
  );
  t.pass('a tenant can create requests again');
});
