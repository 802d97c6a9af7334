// The orchestrator's API (v1alpha1): TypeScript shapes of the CRDs in crds/ and the
// names every part of the process agrees on. Pure declarations, no I/O.

export const GROUP = 'gateway-orchestrator.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KIND_REQUEST = 'GatewayHostnameRequest';
export const KIND_CLAIM = 'DomainClaim';
export const KIND_GRANT = 'HostnameGrant';
export const PLURAL_REQUEST = 'gatewayhostnamerequests';
export const PLURAL_CLAIM = 'domainclaims';
export const PLURAL_GRANT = 'hostnamegrants';

/** Finalizer on every GatewayHostnameRequest: cleanup of AWS and cluster state runs before it goes. */
export const FINALIZER = `${GROUP}/cleanup`;

/** Labels and annotations the orchestrator writes on objects it owns. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'gateway-orchestrator';
export const LABEL_POOL = `${GROUP}/pool`; // on pool Gateways and LoadBalancerConfigurations: pool key
export const LABEL_HOSTNAME_HASH = `${GROUP}/hostname-hash`;
export const LABEL_APEX = `${GROUP}/apex`; // on claims: the allowlisted apex domain the hostname lies under
export const ANNOTATION_PLACEMENTS = `${GROUP}/placements`; // on LoadBalancerConfigurations: JSON PoolPlacement[]

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const LBC_GROUP = 'gateway.k8s.aws';
export const LBC_VERSION = 'v1beta1';
export const LBC_KIND = 'LoadBalancerConfiguration';
export const LBC_PLURAL = 'loadbalancerconfigurations';

export type Visibility = 'internet-facing' | 'internal';
export type AliasRecordType = 'A' | 'AAAA';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export const CONDITION_TYPES = [
  'Claimed',
  'CertificateRequested',
  'DnsValidated',
  'CertificateIssued',
  'ListenerAttached',
  'DnsAliasReady',
  'Ready',
  'Denied',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface GatewayHostnameRequestSpec {
  /** Normalised by the mutating webhook: lower-case, A-label, no trailing dot. Immutable. */
  hostname: string;
  /** Route53 hosted zone that holds the hostname. Immutable. */
  zoneId: string;
  environment?: string;
  visibility?: Visibility;
  gatewayClass?: string;
  routePolicy?: { additionalNamespaces?: string[] };
  dns?: { aliasRecordTypes?: AliasRecordType[] };
}

export interface ValidationRecord {
  name: string;
  type: string;
  value: string;
}

export interface GatewayHostnameRequestStatus {
  observedGeneration?: number;
  assignedGateway?: { namespace: string; name: string };
  assignedLoadBalancer?: { dnsName?: string; arn?: string; canonicalHostedZoneId?: string };
  certificateArn?: string;
  validationRecords?: ValidationRecord[];
  conditions?: Condition[];
}

export interface GatewayHostnameRequest {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND_REQUEST;
  metadata: ObjectMeta;
  spec: GatewayHostnameRequestSpec;
  status?: GatewayHostnameRequestStatus;
}

/** Cluster-scoped lock on one normalised hostname; its name is claimNameFor(hostname). */
export interface DomainClaim {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND_CLAIM;
  metadata: ObjectMeta;
  spec: {
    hostname: string;
    requestRef: { namespace: string; name: string };
  };
  status?: { requestUID?: string; boundAt?: string };
}

/** Cluster-scoped: namespace `spec.namespace` may use `spec.hostname` in its routes. */
export interface HostnameGrant {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND_GRANT;
  metadata: ObjectMeta;
  spec: {
    hostname: string;
    namespace: string;
    /** Set when the orchestrator wrote it for a request; absent for grants a platform admin wrote by hand. */
    requestRef?: { namespace: string; name: string };
  };
}

/** What a LoadBalancerConfiguration's placements annotation records, one entry per placed hostname. */
export interface PoolPlacement {
  hostname: string;
  namespace: string;
  request: string;
  requestUID: string;
  certificateArn: string;
}

/** The parts of a Gateway API Gateway the orchestrator reads and writes. */
export interface Gateway {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: {
    gatewayClassName: string;
    listeners: Array<{
      name: string;
      port: number;
      protocol: string;
      hostname?: string;
      allowedRoutes?: { namespaces?: { from?: string; selector?: { matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } } };
    }>;
    infrastructure?: { parametersRef?: { group: string; kind: string; name: string } };
  };
  status?: {
    addresses?: Array<{ type?: string; value: string }>;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string; observedGeneration?: number }>;
  };
}

/** The AWS Load Balancer Controller's LoadBalancerConfiguration (gateway.k8s.aws/v1beta1), the parts we use. */
export interface LoadBalancerConfiguration {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: {
    scheme?: 'internet-facing' | 'internal';
    ipAddressType?: string;
    listenerConfigurations?: Array<{ protocolPort: string; defaultCertificate?: string; certificates?: string[] }>;
    tags?: Record<string, string>;
  };
}
