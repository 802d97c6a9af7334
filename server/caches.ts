// The informer caches both halves of the process read from, and the ownership index the route
// webhook consults, kept current from claim and grant events.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { DomainClaim, Gateway, GatewayHostnameRequest, HostnameGrant, LoadBalancerConfiguration } from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import { HostnameOwnershipIndex } from '../policy/ownership.js';
import type { Logger } from './log.js';
import { ObjectCache } from './kube/cache.js';
import { StringPool } from './kube/string-pool.js';
import type { KubeRest} from './kube/rest.js';
import { paths } from './kube/rest.js';

export interface Caches {
  requests: ObjectCache<GatewayHostnameRequest & KubernetesObject>;
  claims: ObjectCache<DomainClaim & KubernetesObject>;
  grants: ObjectCache<HostnameGrant & KubernetesObject>;
  gateways: ObjectCache<Gateway & KubernetesObject>;
  lbConfigs: ObjectCache<LoadBalancerConfiguration & KubernetesObject>;
  index: HostnameOwnershipIndex;
  all: ObjectCache<KubernetesObject>[];
}

export function createCaches(rest: KubeRest, config: PlatformConfig, log: Logger): Caches {
  // One pool for all five: a request, its claim and its grant share their hostname and namespace.
  const strings = new StringPool();
  const make = <T extends KubernetesObject>(name: string, path: string) => new ObjectCache<T>({ rest, path, log, name, strings });
  const requests = make<GatewayHostnameRequest & KubernetesObject>('requests', paths.requests());
  const claims = make<DomainClaim & KubernetesObject>('claims', paths.claims());
  const grants = make<HostnameGrant & KubernetesObject>('grants', paths.grants());
  const gateways = make<Gateway & KubernetesObject>('gateways', paths.gateways(config.pool.namespace));
  const lbConfigs = make<LoadBalancerConfiguration & KubernetesObject>('loadbalancerconfigurations', paths.lbConfigs(config.pool.namespace));

  const index = new HostnameOwnershipIndex();
  claims.on((event, claim) => {
    const name = claim.metadata?.name ?? '';
    if (event === 'delete') index.deleteClaim(name);
    else index.setClaim(name, { hostname: claim.spec.hostname, namespace: claim.spec.requestRef.namespace, request: claim.spec.requestRef.name });
  });
  grants.on((event, grant) => {
    const name = grant.metadata?.name ?? '';
    if (event === 'delete') index.deleteGrant(name);
    else index.setGrant(name, { hostname: grant.spec.hostname, namespace: grant.spec.namespace });
  });
  const all = [requests, claims, grants, gateways, lbConfigs] as unknown as ObjectCache<KubernetesObject>[];
  return { requests, claims, grants, gateways, lbConfigs, index, all };
}
