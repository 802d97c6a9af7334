// Tenant identities: real users of the API server, authenticated by a client certificate that
// the API server's client CA signed, with their own kubeconfig, and only the rights a RoleBinding
// in their namespace gives them. RBAC decides; nothing is faked.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { writeKubeconfig } from '../env/kubeconfig.js';
import { issueClientCert } from '../env/pki.js';
import { getEnv } from './env.js';
import { adminApi, applyYaml, createNamespace, kubectl, type KubectlOptions, type KubectlResult } from './kube.js';
import { waitFor } from './wait.js';

/** The default ClusterRole tenants are bound to: what an application team may do in its namespace. */
export const TEST_TENANT_CLUSTER_ROLE = 'test-tenant';

const CRUD = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

export const TEST_TENANT_RULES: k8s.V1PolicyRule[] = [
  { apiGroups: ['gateway-orchestrator.io'], resources: ['gatewayhostnamerequests'], verbs: CRUD },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes', 'grpcroutes'], verbs: CRUD },
  { apiGroups: [''], resources: ['events'], verbs: ['get', 'list'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list'] },
];

export interface Tenant {
  namespace: string;
  user: string;
  groups: string[];
  /** Path of the tenant's own kubeconfig (its client certificate; default namespace set). */
  kubeconfig: string;
  kubeConfig(): k8s.KubeConfig;
  api<T extends k8s.ApiType>(api: k8s.ApiConstructor<T>): T;
  /** Our kubectl with the tenant's kubeconfig, in the tenant's namespace. */
  kubectl(args: string[], options?: Omit<KubectlOptions, 'kubeconfig'>): Promise<KubectlResult>;
}

export interface TenantOptions {
  /** ClusterRole bound in the namespace; default `test-tenant`; null binds nothing. */
  clusterRole?: string | null;
  /** Default `user:<namespace>-dev`. */
  user?: string;
  /** Default ['tenants']. */
  groups?: string[];
}

let testRoleApplied: Promise<unknown> | undefined;

/** Creates (once per process) the `test-tenant` ClusterRole. */
export function ensureTestTenantClusterRole(): Promise<unknown> {
  testRoleApplied ??= applyYaml({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: TEST_TENANT_CLUSTER_ROLE },
    rules: TEST_TENANT_RULES,
  });
  return testRoleApplied;
}

/**
 * Creates a tenant: namespace `namespace` (if missing), a client certificate for the user,
 * its kubeconfig, and (unless clusterRole is null) a RoleBinding to the ClusterRole.
 */
export async function createTenant(namespace: string, options: TenantOptions = {}): Promise<Tenant> {
  const env = await getEnv();
  const user = options.user ?? `user:${namespace}-dev`;
  const groups = options.groups ?? ['tenants'];
  const ca = { certPem: readFileSync(env.pki.clientCaCert, 'utf8'), keyPem: readFileSync(env.pki.clientCaKey, 'utf8') };
  const cert = issueClientCert(ca, user, groups, 30);
  const dir = join(env.runDir, 'tenants');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const kubeconfig = join(dir, `${user.replace(/[^A-Za-z0-9_.-]/g, '_')}.kubeconfig`);
  writeKubeconfig(kubeconfig, {
    server: env.apiserverUrl,
    caPem: readFileSync(env.pki.serverCaCert, 'utf8'),
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    user,
    namespace,
  });
  await createNamespace(namespace);

  const tenant: Tenant = {
    namespace,
    user,
    groups,
    kubeconfig,
    kubeConfig() {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfig);
      return kc;
    },
    api(api) {
      return this.kubeConfig().makeApiClient(api);
    },
    kubectl(args, kubectlOptions = {}) {
      return kubectl(args, { namespace, ...kubectlOptions, kubeconfig });
    },
  };
  if (options.clusterRole !== null) {
    const role = options.clusterRole ?? TEST_TENANT_CLUSTER_ROLE;
    if (role === TEST_TENANT_CLUSTER_ROLE) await ensureTestTenantClusterRole();
    await bindClusterRole(tenant, role);
  }
  return tenant;
}

/**
 * Binds a ClusterRole to the tenant's user in its namespace (RoleBinding `<role>-<user>`), and
 * waits until the API server's authorizer applies it.
 */
export async function bindClusterRole(tenant: Pick<Tenant, 'namespace' | 'user'>, clusterRole: string): Promise<void> {
  const name = `${clusterRole}-${tenant.user}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);
  await applyYaml({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace: tenant.namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: tenant.user }],
  });

  // The authorizer learns of bindings through a watch: wait until it allows the role's first rule.
  const rbac = await adminApi(k8s.RbacAuthorizationV1Api);
  const rule = (await rbac.readClusterRole({ name: clusterRole })).rules?.[0];
  const verb = rule?.verbs[0];
  const resource = rule?.resources?.[0];
  if (!rule || !verb || verb === '*' || !resource || resource === '*') return;
  const authz = await adminApi(k8s.AuthorizationV1Api);
  await waitFor(
    async () =>
      (
        await authz.createSubjectAccessReview({
          body: {
            spec: {
              user: tenant.user,
              resourceAttributes: { namespace: tenant.namespace, verb, group: rule.apiGroups?.[0] ?? '', resource },
            },
          },
        })
      ).status?.allowed,
    { description: `RoleBinding ${tenant.namespace}/${name} to take effect for ${tenant.user}`, timeoutMs: 10_000, intervalMs: 100 },
  );
}
