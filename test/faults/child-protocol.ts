// What the fault tests and their orchestrator child process (orchestrator-process.ts) share:
// the child's configuration, the events it prints, and where it may be told to crash.
import { claimNameFor } from '../../policy/hostname.js';
import type { RecordChange } from '../../reconcile/ports.js';

/** Every event line on the child's stdout starts with this, followed by JSON. */
export const CHILD_EVENT_PREFIX = '@@faults ';

/** Where the child kills itself: right after the named write returned. */
export const CRASH_STEPS = [
  // Creation, in the order the reconciler makes them.
  'bind-claim', // DomainClaim status gets the request UID
  'grant', // HostnameGrant written
  'request-certificate', // ACM RequestCertificate returned, status not written yet
  'validation-records', // validation CNAME UPSERTed
  'place', // LoadBalancerConfiguration lists the hostname, Gateway not written yet
  'alias-records', // A alias and ownership TXT written, status not Ready yet
  // Deletion.
  'alias-delete', // A alias and TXT deleted, placement still there
  'unplace', // LoadBalancerConfiguration no longer lists the hostname
  'certificate-delete', // ACM DeleteCertificate returned
  'validation-delete', // validation CNAME deleted
  'grant-delete', // HostnameGrant deleted, claim still there
  'claim-release', // DomainClaim deleted, finalizer still there
] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

export interface ChildConfig {
  /** Leader identity; the same for every incarnation of one replica, so a restart renews at once. */
  identity: string;
  webhookPort: number;
  /** The AWS endpoint (the fault proxy). */
  awsEndpoint: string;
  orchestratorNamespace: string;
  poolNamespace: string;
  /** The reconciler serves only namespaces with this prefix. */
  namespacePrefix: string;
  /** Names of the webhook configurations the parent registered (the child keeps their caBundle current). */
  webhookConfigurationName: string;
  rates?: { acm: number; route53: number; elbv2: number };
  leaseDurationMs?: number;
  renewIntervalMs?: number;
  resyncMs?: number;
  crash?: { step: CrashStep; hostname: string };
  /**
   * A slow API server: the reconciler's Kubernetes writes with this method whose path contains
   * `pathIncludes` wait `ms` before they are sent (the first `times` of them, default 1).
   */
  delays?: Array<{ method: 'create' | 'replace' | 'patch' | 'delete'; pathIncludes: string; ms: number; times?: number }>;
  /** A slow watch: the reconciler sees every request event (and the request cache) this late. */
  requestWatchLagMs?: number;
}

export type ChildEvent =
  | { event: 'ready'; pid: number; port: number; metricsPort: number; caBundle: string }
  | { event: 'leader'; at: number }
  | { event: 'step'; at: number; step: string }
  | { event: 'crash'; at: number; step: CrashStep; detail: string }
  /** A delayed write is waiting (see ChildConfig.delays). */
  | { event: 'delay'; at: number; step: string; ms: number };


/** A write the reconciler made, as the crash predicates see it. */
export type Write =
  | { kind: 'acm.requestCertificate'; domainName: string }
  | { kind: 'acm.deleteCertificate'; arn: string }
  | { kind: 'route53.changeRecords'; changes: RecordChange[] }
  | { kind: 'kube'; method: string; path: string; body: string };

export function describeWrite(w: Write): string {
  switch (w.kind) {
    case 'acm.requestCertificate':
      return `${w.kind} ${w.domainName}`;
    case 'acm.deleteCertificate':
      return `${w.kind} ${w.arn}`;
    case 'route53.changeRecords':
      return `${w.kind} ${w.changes.map((c) => `${c.action} ${c.record.type} ${c.record.name}`).join(', ')}`;
    case 'kube':
      return `kube.${w.method} ${w.path}`;
  }
}

const changesRecord = (w: Write, actions: string[], type: string, name: (n: string) => boolean) =>
  w.kind === 'route53.changeRecords' && w.changes.some((c) => actions.includes(c.action) && c.record.type === type && name(c.record.name));
const kubeWrite = (w: Write, method: string, pathPart: string) => w.kind === 'kube' && w.method === method && w.path.includes(pathPart);

export function crashesAt(step: CrashStep, hostname: string, w: Write): boolean {
  const claim = claimNameFor(hostname);
  const underHost = (n: string) => n.endsWith(`.${hostname}`);
  switch (step) {
    case 'bind-claim':
      return kubeWrite(w, 'patch', `/domainclaims/${claim}/status`);
    case 'grant':
      return kubeWrite(w, 'patch', '/hostnamegrants/') && w.kind === 'kube' && w.path.endsWith(`.${claim}`);
    case 'request-certificate':
      return w.kind === 'acm.requestCertificate' && w.domainName === hostname;
    case 'validation-records':
      return changesRecord(w, ['UPSERT', 'CREATE'], 'CNAME', underHost);
    case 'place':
      return kubeWrite(w, 'patch', '/loadbalancerconfigurations/') && w.kind === 'kube' && w.body.includes(hostname);
    case 'alias-records':
      return changesRecord(w, ['UPSERT', 'CREATE'], 'A', (n) => n === hostname);
    case 'alias-delete':
      return changesRecord(w, ['DELETE'], 'A', (n) => n === hostname);
    case 'unplace':
      return kubeWrite(w, 'patch', '/loadbalancerconfigurations/') && w.kind === 'kube' && !w.body.includes(hostname);
    case 'certificate-delete':
      return w.kind === 'acm.deleteCertificate';
    case 'validation-delete':
      return changesRecord(w, ['DELETE'], 'CNAME', underHost);
    case 'grant-delete':
      return kubeWrite(w, 'delete', '/hostnamegrants/') && w.kind === 'kube' && w.path.endsWith(`.${claim}`);
    case 'claim-release':
      return kubeWrite(w, 'delete', `/domainclaims/${claim}`);
  }
}

