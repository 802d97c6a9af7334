// The ServiceAccount's privileges, as the API server's RBAC authorizer decides them: the RBAC of
// manifests/ is applied for real and `kubectl auth can-i --as=<the ServiceAccount>` answers a table
// of what it must and must not be able to do. The same for a tenant bound to the tenant ClusterRole.
import t from 'tap';
import { createNamespace, createTenant, kubectl, toYaml, uniqueName, waitFor } from '../helpers/index.js';
import { IDENTITY_KINDS, kustomize } from './lib.js';

const SA = 'system:serviceaccount:gateway-orchestrator:gateway-orchestrator';
const tenantNs = uniqueName('team');
const otherNs = uniqueName('team');

async function canI(as: string, args: string[]): Promise<boolean> {
  const result = await kubectl(['auth', 'can-i', ...args], { as, check: false });
  if (result.code > 1 || !/^(yes|no)/.test(result.stdout.trim())) throw new Error(`kubectl auth can-i ${args.join(' ')}: ${result.stderr}`);
  return result.code === 0;
}

t.before(async () => {
  // Namespaced Roles need their namespaces: the pool (platform part) and its own (in the base).
  await createNamespace('edge');
  await createNamespace(tenantNs);
  await createNamespace(otherNs);
  const { objects } = await kustomize('manifests');
  const identity = objects.filter((o) => IDENTITY_KINDS.has(o.kind));
  await kubectl(['apply', '-f', '-'], { input: toYaml(identity) });
  // The authorizer learns of new bindings through its informers.
  await waitFor(() => canI(SA, ['get', 'leases/gateway-orchestrator-leader', '-n', 'gateway-orchestrator']), {
    description: 'the RBAC of manifests/ to take effect',
    timeoutMs: 15_000,
  });
});

// [can-i arguments, expected]. "ns" is a tenant namespace.
const ns = ['-n', tenantNs];
const own = ['-n', 'gateway-orchestrator'];
const pool = ['-n', 'edge'];
const cluster: string[] = [];

const serviceAccountTable: Array<[string[], boolean, string]> = [
  // Claims and grants: cluster-scoped, written by the webhook (claims) and the reconciler (grants).
  [['create', 'domainclaims.gateway-orchestrator.io', ...cluster], true, 'claim a hostname'],
  [['delete', 'domainclaims.gateway-orchestrator.io', ...cluster], true, 'release a claim'],
  [['patch', 'domainclaims.gateway-orchestrator.io', '--subresource=status'], true, 'bind a claim (status)'],
  [['create', 'hostnamegrants.gateway-orchestrator.io'], true, 'grant a hostname'],
  [['patch', 'hostnamegrants.gateway-orchestrator.io'], true, 'server-side apply a grant'],
  [['watch', 'hostnamegrants.gateway-orchestrator.io'], true, 'watch grants'],
  // Requests in every namespace.
  [['list', 'gatewayhostnamerequests.gateway-orchestrator.io', '--all-namespaces'], true, 'list requests everywhere'],
  [['watch', 'gatewayhostnamerequests.gateway-orchestrator.io', '--all-namespaces'], true, 'watch requests everywhere'],
  [['patch', 'gatewayhostnamerequests.gateway-orchestrator.io', ...ns], true, 'set the cleanup finalizer'],
  [['patch', 'gatewayhostnamerequests.gateway-orchestrator.io', '--subresource=status', ...ns], true, 'write request status'],
  [['create', 'gatewayhostnamerequests.gateway-orchestrator.io', ...ns], false, 'create requests for tenants'],
  [['delete', 'gatewayhostnamerequests.gateway-orchestrator.io', ...ns], false, 'delete tenant requests'],
  // Events in tenant namespaces (denials), write only.
  [['create', 'events.events.k8s.io', ...ns], true, 'create a denial Event in a tenant namespace'],
  [['patch', 'events.events.k8s.io', ...ns], true, 'count a repeated Event'],
  [['list', 'events.events.k8s.io', ...ns], false, 'read tenant Events'],
  [['delete', 'events.events.k8s.io', ...ns], false, 'delete tenant Events'],
  // The pool, only in the pool namespace.
  [['create', 'gateways.gateway.networking.k8s.io', ...pool], true, 'create a pool Gateway'],
  [['patch', 'gateways.gateway.networking.k8s.io', ...pool], true, 'patch gateways in edge'],
  [['delete', 'gateways.gateway.networking.k8s.io', ...pool], true, 'delete an empty pool Gateway'],
  [['watch', 'gateways.gateway.networking.k8s.io', ...pool], true, 'watch the pool'],
  [['patch', 'loadbalancerconfigurations.gateway.k8s.aws', ...pool], true, 'write a LoadBalancerConfiguration'],
  [['create', 'gateways.gateway.networking.k8s.io', ...ns], false, 'create gateways outside edge'],
  [['create', 'gateways.gateway.networking.k8s.io', '-n', 'default'], false, 'create gateways in default'],
  [['patch', 'gateways.gateway.networking.k8s.io', '-n', otherNs], false, 'patch a tenant Gateway'],
  [['list', 'gateways.gateway.networking.k8s.io', '--all-namespaces'], false, 'list Gateways cluster-wide'],
  [['patch', 'loadbalancerconfigurations.gateway.k8s.aws', ...ns], false, 'write a LoadBalancerConfiguration outside edge'],
  [['create', 'httproutes.gateway.networking.k8s.io', ...ns], false, 'create routes'],
  [['get', 'gatewayclasses.gateway.networking.k8s.io'], true, 'read GatewayClasses'],
  [['update', 'gatewayclasses.gateway.networking.k8s.io'], false, 'change a GatewayClass'],
  // Its own Secret and Lease, nothing else of the kind.
  [['get', 'secret/gateway-orchestrator-webhook-tls', ...own], true, 'get its Secret'],
  [['update', 'secret/gateway-orchestrator-webhook-tls', ...own], true, 'rotate its Secret'],
  [['create', 'secrets', ...own], true, 'create its Secret on first start'],
  [['get', 'secret/some-other-secret', ...own], false, 'get another Secret in its namespace'],
  [['list', 'secrets', ...own], false, 'list Secrets in its namespace'],
  [['get', 'secrets', '-n', 'kube-system'], false, 'get secrets in kube-system'],
  [['get', 'secrets', ...pool], false, 'get secrets in edge'],
  [['get', 'secrets', ...ns], false, 'get secrets in a tenant namespace'],
  [['create', 'secrets', ...ns], false, 'create secrets in a tenant namespace'],
  [['get', 'leases/gateway-orchestrator-leader', ...own], true, 'read its Lease'],
  [['update', 'leases/gateway-orchestrator-leader', ...own], true, 'renew its Lease'],
  [['update', 'leases/someone-elses-lease', ...own], false, 'update another Lease'],
  [['create', 'leases', '-n', 'kube-system'], false, 'create Leases in kube-system'],
  // Its webhook configurations, by name, get and patch only.
  [['get', 'validatingwebhookconfigurations/gateway-orchestrator'], true, 'read its validating configuration'],
  [['patch', 'validatingwebhookconfigurations/gateway-orchestrator'], true, 'inject caBundle (validating)'],
  [['patch', 'mutatingwebhookconfigurations/gateway-orchestrator'], true, 'inject caBundle (mutating)'],
  [['patch', 'validatingwebhookconfigurations/other-webhooks'], false, 'patch other webhook configurations'],
  [['patch', 'mutatingwebhookconfigurations/other-webhooks'], false, 'patch other mutating configurations'],
  [['delete', 'validatingwebhookconfigurations/gateway-orchestrator'], false, 'delete its own configuration'],
  [['list', 'validatingwebhookconfigurations'], false, 'list webhook configurations'],
  [['create', 'validatingwebhookconfigurations'], false, 'register new webhooks'],
  // Nothing that escalates or runs things.
  [['delete', 'namespaces'], false, 'delete namespaces'],
  [['create', 'namespaces'], false, 'create namespaces'],
  [['create', 'pods', ...own], false, 'create pods'],
  [['create', 'deployments.apps', ...own], false, 'create deployments'],
  [['get', 'configmaps', '-n', 'kube-system'], false, 'read kube-system config'],
  [['create', 'clusterrolebindings'], false, 'bind roles'],
  [['escalate', 'clusterroles'], false, 'escalate'],
  [['impersonate', 'users'], false, 'impersonate users'],
  [['impersonate', 'groups'], false, 'impersonate the break-glass group'],
  [['update', 'customresourcedefinitions.apiextensions.k8s.io'], false, 'change CRDs'],
  [['*', '*'], false, 'everything'],
];

t.test(`kubectl auth can-i --as=${SA}`, async (t) => {
  for (const [args, expected, what] of serviceAccountTable) {
    t.equal(await canI(SA, args), expected, `${expected ? 'may' : 'may NOT'} ${what}: can-i ${args.join(' ')}`);
  }
});

t.test('a tenant bound to gateway-orchestrator-tenant may request hostnames and routes in its namespace only', async (t) => {
  const tenant = await createTenant(uniqueName('team'), { clusterRole: 'gateway-orchestrator-tenant' });
  const mine = ['-n', tenant.namespace];
  const table: Array<[string[], boolean, string]> = [
    [['create', 'gatewayhostnamerequests.gateway-orchestrator.io', ...mine], true, 'request a hostname'],
    [['delete', 'gatewayhostnamerequests.gateway-orchestrator.io', ...mine], true, 'give a hostname back'],
    [['create', 'httproutes.gateway.networking.k8s.io', ...mine], true, 'create an HTTPRoute'],
    [['update', 'grpcroutes.gateway.networking.k8s.io', ...mine], true, 'update a GRPCRoute'],
    [['list', 'events', ...mine], true, 'read Events (core)'],
    [['list', 'events.events.k8s.io', ...mine], true, 'read Events'],
    [['patch', 'gatewayhostnamerequests.gateway-orchestrator.io', '--subresource=status', ...mine], false, 'write request status'],
    [['create', 'gatewayhostnamerequests.gateway-orchestrator.io', ...ns], false, 'request a hostname in another namespace'],
    [['create', 'httproutes.gateway.networking.k8s.io', ...ns], false, 'create routes in another namespace'],
    [['create', 'domainclaims.gateway-orchestrator.io'], false, 'write claims'],
    [['create', 'hostnamegrants.gateway-orchestrator.io'], false, 'write grants'],
    [['create', 'gateways.gateway.networking.k8s.io', ...mine], false, 'create Gateways'],
    [['patch', 'gateways.gateway.networking.k8s.io', ...pool], false, 'touch the pool'],
    [['get', 'secrets', ...mine], false, 'read Secrets'],
    [['create', 'events.events.k8s.io', ...mine], false, 'forge Events'],
  ];
  for (const [args, expected, what] of table) {
    t.equal(await canI(tenant.user, args), expected, `tenant ${expected ? 'may' : 'may NOT'} ${what}: can-i ${args.join(' ')}`);
  }
});
