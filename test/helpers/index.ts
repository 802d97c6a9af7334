// Test helpers for tap tests against the local environment (see README.md, "Tests").

export { getEnv, type EnvState } from './env.js';
export {
  adminApi,
  adminKubeConfig,
  applyYaml,
  createNamespace,
  isApiStatus,
  kubectl,
  KubectlError,
  toYaml,
  type KubectlOptions,
  type KubectlResult,
} from './kube.js';
export {
  bindClusterRole,
  createTenant,
  ensureTestTenantClusterRole,
  TEST_TENANT_CLUSTER_ROLE,
  TEST_TENANT_RULES,
  type Tenant,
  type TenantOptions,
} from './tenants.js';
export { awsClientConfig, hostedZoneId, resetMoto, type AwsClientConfig } from './aws.js';
export { waitFor, type WaitOptions } from './wait.js';
export { uniqueHostname, uniqueName } from './names.js';
