// The small ports through which the reconciler reaches AWS. One adapter each (reconcile/aws/),
// so the planner and applier are testable without AWS. Every list method returns all pages.

export type CertificateStatus =
  | 'PENDING_VALIDATION'
  | 'ISSUED'
  | 'INACTIVE'
  | 'EXPIRED'
  | 'VALIDATION_TIMED_OUT'
  | 'REVOKED'
  | 'FAILED';

export interface CertificateSummary {
  arn: string;
  domainName: string;
  status: CertificateStatus;
  /** From ListCertificates' InUse: true when any AWS resource (an ALB listener) uses it. */
  inUse: boolean;
}

export interface DnsValidationRecord {
  domainName: string;
  name: string; // fully qualified, no trailing dot
  type: 'CNAME';
  value: string; // no trailing dot
}

export interface CertificateDetail extends CertificateSummary {
  validationRecords: DnsValidationRecord[];
  failureReason?: string;
  inUseBy: string[];
}

export interface AcmPort {
  listCertificates(): Promise<CertificateSummary[]>;
  describeCertificate(arn: string): Promise<CertificateDetail | undefined>;
  /** IdempotencyToken makes a retry within an hour return the same ARN. */
  requestCertificate(input: { domainName: string; idempotencyToken: string; tags: Record<string, string> }): Promise<string>;
  listTags(arn: string): Promise<Record<string, string>>;
  /** 'in-use' when ACM refuses because a listener still carries it (real AWS: ResourceInUseException). */
  deleteCertificate(arn: string): Promise<'deleted' | 'in-use' | 'not-found'>;
}

export interface AliasTarget {
  hostedZoneId: string;
  dnsName: string; // no trailing dot
  evaluateTargetHealth: boolean;
}

export interface RecordSet {
  name: string; // fully qualified, lower-case, no trailing dot; a leading "*" stays "*" (not \052)
  type: string;
  ttl?: number;
  values?: string[]; // TXT values keep their quotes as Route53 stores them
  aliasTarget?: AliasTarget;
}

export interface RecordChange {
  action: 'CREATE' | 'DELETE' | 'UPSERT';
  record: RecordSet;
}

export interface HostedZone {
  id: string; // without the "/hostedzone/" prefix
  name: string; // no trailing dot
  privateZone: boolean;
}

export interface Route53Port {
  getHostedZone(zoneId: string): Promise<HostedZone | undefined>;
  listRecords(zoneId: string): Promise<RecordSet[]>;
  /** Applies one change batch atomically; throws on a rejected batch (e.g. CREATE of an existing record). */
  changeRecords(zoneId: string, changes: RecordChange[]): Promise<void>;
}

export interface LoadBalancer {
  arn: string;
  name: string;
  dnsName: string;
  canonicalHostedZoneId: string;
  scheme: 'internet-facing' | 'internal';
  ipAddressType: string; // ipv4 | dualstack | dualstack-without-public-ipv4
}

export interface Listener {
  arn: string;
  port: number;
  protocol: string;
}

/** Read-only: certificates reach listeners only through the LoadBalancerConfiguration. */
export interface Elbv2Port {
  describeLoadBalancers(): Promise<LoadBalancer[]>;
  describeListeners(loadBalancerArn: string): Promise<Listener[]>;
  /** All certificate ARNs on the listener, the default one included. */
  describeListenerCertificates(listenerArn: string): Promise<string[]>;
}

export interface AwsPorts {
  acm: AcmPort;
  route53: Route53Port;
  elbv2: Elbv2Port;
}
