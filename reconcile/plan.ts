// The planner: for one GatewayHostnameRequest, what SHOULD be compared with what IS (the snapshot
// and the caches, as the shell gathered them), returned as a list of changes plus the status to
// report. Pure: no I/O, `now` is passed in. A plan describes one step forward; the shell applies
// it and plans again until nothing is left to do.
import {
  FINALIZER,
  type Condition,
  type ConditionType,
  type DomainClaim,
  type Gateway,
  type GatewayHostnameRequest,
  type GatewayHostnameRequestStatus,
  type HostnameGrant,
  type LoadBalancerConfiguration,
  type PoolPlacement,
  type AliasRecordType,
} from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import { hostnameInZone } from '../policy/allowlist.js';
import { grantNameFor, ownerRecordName } from '../policy/hostname.js';
import type { CertificateState, LoadBalancerState, ZoneState } from './observe.js';
import { isTerminal, zoneRecord } from './observe.js';
import type { PoolKey } from './placement.js';
import { PROTOCOL_PORT } from './pool.js';
import type { RecordChange, RecordSet } from './ports.js';

// ---- Names and values the orchestrator writes into AWS ----------------------------------------

export const TAG_PREFIX = 'gateway-orchestrator.io';
export const TAG_MANAGED_BY = `${TAG_PREFIX}/managed-by`;
export const TAG_CLUSTER = `${TAG_PREFIX}/cluster`;
export const TAG_NAMESPACE = `${TAG_PREFIX}/namespace`;
export const TAG_NAME = `${TAG_PREFIX}/name`;
export const TAG_REQUEST_UID = `${TAG_PREFIX}/request-uid`;

export const VALIDATION_TTL = 300;
export const OWNER_TTL = 300;

/** ACM's IdempotencyToken (\w{1,32}): the request UID without dashes. */
export function idempotencyTokenFor(uid: string): string {
  return uid.replace(/\W/g, '').slice(0, 32);
}

export function certificateTags(request: GatewayHostnameRequest, clusterId: string): Record<string, string> {
  return {
    [TAG_MANAGED_BY]: 'gateway-orchestrator',
    [TAG_CLUSTER]: clusterId,
    [TAG_NAMESPACE]: request.metadata.namespace ?? '',
    [TAG_NAME]: request.metadata.name ?? '',
    [TAG_REQUEST_UID]: request.metadata.uid ?? '',
  };
}

/** The ownership TXT value, quoted as Route53 stores it. */
export function ownerValue(clusterId: string, namespace: string, name: string): string {
  return `"heritage=gateway-orchestrator,cluster=${clusterId},request=${namespace}/${name}"`;
}

/** Some TXT value at the owner name marks the hostname as this cluster's. */
export function ownedByCluster(txt: RecordSet | undefined, clusterId: string): boolean {
  const prefix = `"heritage=gateway-orchestrator,cluster=${clusterId},`;
  return (txt?.values ?? []).some((v) => v.startsWith(prefix));
}

// ---- The changes a plan may contain -----------------------------------------------------------

export type Change =
  | { kind: 'createClaim'; hostname: string }
  | { kind: 'bindClaim'; claim: string; requestUID: string }
  | { kind: 'releaseClaim'; hostname: string }
  /** `replace`: a grant of that name exists for another request; grants are immutable, so delete and create. */
  | { kind: 'applyGrant'; name: string; hostname: string; namespace: string; replace?: boolean }
  | { kind: 'deleteGrant'; name: string }
  | { kind: 'requestCertificate'; domainName: string; idempotencyToken: string; tags: Record<string, string> }
  | { kind: 'deleteCertificate'; arn: string }
  | { kind: 'changeRecords'; zoneId: string; changes: RecordChange[]; why: string }
  | { kind: 'place'; key: PoolKey; entry: PoolPlacement }
  | { kind: 'unplace'; requestUID: string }
  | { kind: 'removeFinalizer' };

/** One line per change, for logs and test failure messages. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'createClaim':
      return `create claim on ${c.hostname}`;
    case 'bindClaim':
      return `bind claim ${c.claim} to ${c.requestUID}`;
    case 'releaseClaim':
      return `release claim on ${c.hostname}`;
    case 'applyGrant':
      return `${c.replace ? 'replace grant of' : 'grant'} ${c.hostname} to namespace ${c.namespace}`;
    case 'deleteGrant':
      return `delete grant ${c.name}`;
    case 'requestCertificate':
      return `request certificate for ${c.domainName}`;
    case 'deleteCertificate':
      return `delete certificate ${c.arn}`;
    case 'changeRecords':
      return `${c.why}: ${c.changes.map((r) => `${r.action} ${r.record.type} ${r.record.name}`).join(', ')} in ${c.zoneId}`;
    case 'place':
      return `place ${c.entry.hostname} with ${c.entry.certificateArn}`;
    case 'unplace':
      return `remove placement of ${c.requestUID}`;
    case 'removeFinalizer':
      return `remove finalizer ${FINALIZER}`;
  }
}

/** Which condition a change serves: a failing change is reported there. */
export function conditionOf(c: Change): ConditionType {
  switch (c.kind) {
    case 'createClaim':
    case 'bindClaim':
    case 'applyGrant':
    case 'deleteGrant':
      return 'Claimed';
    case 'requestCertificate':
      return 'CertificateRequested';
    case 'place':
      return 'ListenerAttached';
    case 'changeRecords':
      return c.why === 'validation' ? 'DnsValidated' : 'DnsAliasReady';
    default:
      return 'Ready';
  }
}

export type Wait = 'certificate' | 'validation-records' | 'listener' | 'gateway' | 'load-balancer' | 'certificate-in-use' | 'claim';

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: 'CertificateRequested' | 'CertificateIssued' | 'Ready' | 'CleanupFailed' | 'Denied';
  note: string;
}

export interface Plan {
  changes: Change[];
  /** The whole status as it should read after this step; undefined: leave status alone. */
  status: GatewayHostnameRequestStatus | undefined;
  events: PlannedEvent[];
  /** What the request waits for when there is nothing to change; the shell polls accordingly. */
  wait?: Wait;
}

// ---- Inputs --------------------------------------------------------------------------------------

export interface PlanInput {
  request: GatewayHostnameRequest;
  config: Pick<PlatformConfig, 'clusterId' | 'pool'>;
  now: Date;
  /** The DomainClaim on the request's hostname, as the API server has it. */
  claim: DomainClaim | undefined;
  /** Grants whose requestRef names this request, and any grant with a name this request wants. */
  grants: readonly HostnameGrant[];
  zone: ZoneState | undefined;
  certificate: CertificateState | undefined;
  poolKey: PoolKey;
  /** Where the request is placed now (placements are the pool's memory). */
  placement: { gateway: string; entry: PoolPlacement } | undefined;
  /** The Gateway and LoadBalancerConfiguration it is placed on (or was, while deleting). */
  gateway: Gateway | undefined;
  lbConfig: LoadBalancerConfiguration | undefined;
  loadBalancer: LoadBalancerState | undefined;
  /** Validation record names other live requests of ours still need (deletion keeps them). */
  validationNamesInUse: ReadonlySet<string>;
}

// ---- Conditions ------------------------------------------------------------------------------------

const ORDER: ConditionType[] = ['Claimed', 'CertificateRequested', 'DnsValidated', 'CertificateIssued', 'ListenerAttached', 'DnsAliasReady', 'Ready'];

class Conditions {
  private readonly list = new Map<ConditionType, Condition>();

  constructor(
    private readonly previous: readonly Condition[],
    private readonly generation: number | undefined,
    private readonly now: Date,
  ) {}

  set(type: ConditionType, status: Condition['status'], reason: string, message: string): void {
    const prev = this.previous.find((c) => c.type === type);
    const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : this.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const c: Condition = { type, status, reason, message, lastTransitionTime };
    if (this.generation !== undefined) c.observedGeneration = this.generation;
    this.list.set(type, c);
  }

  get(type: ConditionType): Condition | undefined {
    return this.list.get(type);
  }

  isTrue(type: ConditionType): boolean {
    return this.list.get(type)?.status === 'True';
  }

  /** Every step not reached yet: Unknown, waiting for the one before. */
  fillWaiting(blockedBy: string): void {
    for (const type of ORDER) if (!this.list.has(type)) this.set(type, 'Unknown', 'Waiting', `waiting for ${blockedBy}`);
  }

  /** A condition became True that was not True before. */
  becameTrue(type: ConditionType): boolean {
    const prev = this.previous.find((c) => c.type === type);
    return this.isTrue(type) && prev?.status !== 'True';
  }

  toArray(): Condition[] {
    const out: Condition[] = [];
    for (const type of [...ORDER, 'Denied' as const]) {
      const c = this.list.get(type);
      if (c) out.push(c);
    }
    return out;
  }
}

// ---- The plan ------------------------------------------------------------------------------------

export function planRequest(input: PlanInput): Plan {
  const { request } = input;
  if (request.metadata.deletionTimestamp) return planDeletion(input);
  return planLive(input);
}

function requestRef(request: GatewayHostnameRequest): { namespace: string; name: string } {
  return { namespace: request.metadata.namespace ?? '', name: request.metadata.name ?? '' };
}

function heldByOther(claim: DomainClaim | undefined, request: GatewayHostnameRequest): boolean {
  if (!claim) return false;
  const ref = requestRef(request);
  return claim.spec.requestRef.namespace !== ref.namespace || claim.spec.requestRef.name !== ref.name;
}

/** The namespaces a request's hostname is granted to: its own plus the additional ones. */
export function grantNamespaces(request: GatewayHostnameRequest): string[] {
  const set = new Set([request.metadata.namespace ?? '', ...(request.spec.routePolicy?.additionalNamespaces ?? [])]);
  set.delete('');
  return [...set].sort();
}

function aliasTypes(request: GatewayHostnameRequest, lb: LoadBalancerState['lb']): AliasRecordType[] {
  const wanted = request.spec.dns?.aliasRecordTypes ?? ['A', 'AAAA'];
  const dualstack = lb.ipAddressType.startsWith('dualstack');
  return (['A', 'AAAA'] as const).filter((t) => wanted.includes(t) && (t === 'A' || dualstack));
}

function sameRecord(a: RecordSet, b: RecordSet | undefined): boolean {
  if (!b || a.type !== b.type || a.name !== b.name) return false;
  if (a.aliasTarget || b.aliasTarget) {
    return (
      !!a.aliasTarget &&
      !!b.aliasTarget &&
      a.aliasTarget.hostedZoneId === b.aliasTarget.hostedZoneId &&
      a.aliasTarget.dnsName.toLowerCase() === b.aliasTarget.dnsName.toLowerCase() &&
      a.aliasTarget.evaluateTargetHealth === b.aliasTarget.evaluateTargetHealth
    );
  }
  const av = [...(a.values ?? [])].sort();
  const bv = [...(b.values ?? [])].sort();
  return av.length === bv.length && av.every((v, i) => v === bv[i]);
}

function describeRecord(r: RecordSet): string {
  if (r.aliasTarget) return `${r.type} alias to ${r.aliasTarget.dnsName}`;
  return `${r.type} ${(r.values ?? []).join(' ')}`;
}

function planLive(input: PlanInput): Plan {
  const { request, config, claim } = input;
  const hostname = request.spec.hostname;
  const ref = requestRef(request);
  const uid = request.metadata.uid ?? '';
  const conds = new Conditions(request.status?.conditions ?? [], request.metadata.generation, input.now);
  const status: GatewayHostnameRequestStatus = {};
  if (request.metadata.generation !== undefined) status.observedGeneration = request.metadata.generation;
  const changes: Change[] = [];
  const events: PlannedEvent[] = [];
  let wait: Wait | undefined;
  const finish = (blockedBy: string): Plan => {
    const allTrue = ORDER.slice(0, -1).every((t) => conds.isTrue(t));
    if (allTrue) conds.set('Ready', 'True', 'Ready', `${hostname} is served by Gateway ${status.assignedGateway?.name ?? ''}`);
    else conds.set('Ready', 'False', 'NotReady', `waiting for ${blockedBy}`);
    conds.fillWaiting(blockedBy);
    if (conds.becameTrue('CertificateRequested')) events.push({ type: 'Normal', reason: 'CertificateRequested', note: `certificate ${status.certificateArn ?? ''} requested for ${hostname}` });
    if (conds.becameTrue('CertificateIssued')) events.push({ type: 'Normal', reason: 'CertificateIssued', note: `certificate ${status.certificateArn ?? ''} for ${hostname} is issued` });
    if (conds.becameTrue('Ready')) events.push({ type: 'Normal', reason: 'Ready', note: `${hostname} is ready on Gateway ${status.assignedGateway?.namespace}/${status.assignedGateway?.name}` });
    status.conditions = conds.toArray();
    return { changes, status, events, ...(wait ? { wait } : {}) };
  };

  // Claimed: the lock on the hostname. Held by another request: denied, nothing else happens.
  if (heldByOther(claim, request)) {
    const holder = claim!.spec.requestRef;
    conds.set('Claimed', 'False', 'HostnameClaimed', `hostname ${hostname} is claimed by ${holder.namespace}/${holder.name}`);
    conds.set('Denied', 'True', 'HostnameClaimed', `hostname ${hostname} is claimed by ${holder.namespace}/${holder.name}; choose another hostname or ask them to delete their request`);
    conds.set('Ready', 'False', 'Denied', `hostname ${hostname} is claimed by another request`);
    // What it got before losing the claim stays on record: its deletion cleans that up.
    const prev = request.status ?? {};
    if (prev.certificateArn) status.certificateArn = prev.certificateArn;
    if (prev.assignedGateway) status.assignedGateway = prev.assignedGateway;
    if (prev.assignedLoadBalancer) status.assignedLoadBalancer = prev.assignedLoadBalancer;
    if (prev.validationRecords) status.validationRecords = prev.validationRecords;
    if (!(request.status?.conditions ?? []).some((c) => c.type === 'Denied' && c.status === 'True')) {
      events.push({ type: 'Warning', reason: 'Denied', note: `hostname ${hostname} is claimed by ${holder.namespace}/${holder.name}` });
    }
    status.conditions = conds.toArray();
    return { changes, status, events };
  }
  if (!claim) {
    changes.push({ kind: 'createClaim', hostname });
    conds.set('Claimed', 'False', 'ClaimMissing', `no DomainClaim on ${hostname}; creating it`);
    return finish('the hostname claim');
  }
  if (claim.status?.requestUID !== uid) changes.push({ kind: 'bindClaim', claim: claim.metadata.name ?? '', requestUID: uid });
  conds.set('Claimed', 'True', 'Claimed', `hostname ${hostname} is claimed by ${ref.namespace}/${ref.name}`);

  // Grants: which namespaces may use the hostname in their routes.
  const wanted = new Map(grantNamespaces(request).map((ns) => [grantNameFor(hostname, ns), ns]));
  const mine = (g: HostnameGrant) => g.spec.requestRef?.namespace === ref.namespace && g.spec.requestRef?.name === ref.name;
  for (const [name, namespace] of wanted) {
    const g = input.grants.find((x) => x.metadata.name === name);
    if (!g) {
      changes.push({ kind: 'applyGrant', name, hostname, namespace });
      continue;
    }
    const same = g.spec.hostname === hostname && g.spec.namespace === namespace;
    // A grant a platform admin wrote by hand (no requestRef) for the same pair already says it.
    if (same && (mine(g) || !g.spec.requestRef)) continue;
    changes.push({ kind: 'applyGrant', name, hostname, namespace, replace: true });
  }
  for (const g of input.grants) if (g.metadata.name && mine(g) && !wanted.has(g.metadata.name)) changes.push({ kind: 'deleteGrant', name: g.metadata.name });

  // The zone must exist and hold the hostname before anything is written to AWS.
  const zone = input.zone;
  if (!zone?.zone) {
    conds.set('CertificateRequested', 'False', 'ZoneNotFound', `hosted zone ${request.spec.zoneId} does not exist in Route53`);
    return finish(`hosted zone ${request.spec.zoneId}`);
  }
  if (!hostnameInZone(hostname, zone.zone.name)) {
    conds.set('CertificateRequested', 'False', 'ZoneMismatch', `${hostname} does not lie in hosted zone ${zone.id} (${zone.zone.name})`);
    return finish(`a hosted zone that holds ${hostname}`);
  }

  // CertificateRequested: one certificate per request, found again by ARN or tags, never twice.
  const cert = input.certificate;
  if (!cert) {
    changes.push({
      kind: 'requestCertificate',
      domainName: hostname,
      idempotencyToken: idempotencyTokenFor(uid),
      tags: certificateTags(request, config.clusterId),
    });
    conds.set('CertificateRequested', 'False', 'Requesting', `requesting an ACM certificate for ${hostname}`);
    return finish('the certificate request');
  }
  status.certificateArn = cert.arn;
  conds.set('CertificateRequested', 'True', 'Requested', `ACM certificate ${cert.arn}`);

  // DnsValidated: the validation CNAMEs ACM asks for, in the request's zone.
  const records = cert.validationRecords;
  if (records === undefined || records.length === 0) {
    if (cert.status === 'ISSUED') conds.set('DnsValidated', 'True', 'Issued', 'the certificate is issued');
    else {
      conds.set('DnsValidated', 'False', 'PendingValidationRecords', 'ACM has not published the validation records yet');
      wait = 'validation-records';
    }
  } else {
    status.validationRecords = records.map((r) => ({ name: r.name, type: r.type, value: r.value }));
    const missing: RecordChange[] = [];
    for (const r of records) {
      const desired: RecordSet = { name: r.name, type: 'CNAME', ttl: VALIDATION_TTL, values: [r.value] };
      if (!sameRecord(desired, zoneRecord(zone, r.name, 'CNAME'))) missing.push({ action: 'UPSERT', record: desired });
    }
    if (missing.length > 0) {
      changes.push({ kind: 'changeRecords', zoneId: zone.id, changes: dedupeChanges(missing), why: 'validation' });
      conds.set('DnsValidated', 'False', 'WritingRecords', `writing ${missing.length} validation record(s) into zone ${zone.id}`);
    } else {
      conds.set('DnsValidated', 'True', 'RecordsPresent', `validation record(s) present in zone ${zone.id}`);
    }
  }

  // CertificateIssued: ACM's word, failures with ACM's reason.
  if (cert.status !== 'ISSUED') {
    if (isTerminal(cert.status)) {
      conds.set('CertificateIssued', 'False', cert.status === 'VALIDATION_TIMED_OUT' ? 'ValidationTimedOut' : pascal(cert.status), `ACM certificate is ${cert.status}${cert.failureReason ? `: ${cert.failureReason}` : ''}`);
      return finish(`a usable certificate (${cert.status})`);
    }
    conds.set('CertificateIssued', 'False', 'PendingValidation', `ACM certificate is ${cert.status}`);
    wait ??= 'certificate';
    return finish('certificate issuance');
  }
  conds.set('CertificateIssued', 'True', 'Issued', 'ACM certificate is issued');

  // ListenerAttached: placed on a pool Gateway (only now that it is issued), listed in its
  // LoadBalancerConfiguration, and seen on the ALB's listener.
  const placement = input.placement;
  if (!placement || placement.entry.certificateArn !== cert.arn || placement.entry.hostname !== hostname) {
    changes.push({
      kind: 'place',
      key: input.poolKey,
      entry: { hostname, namespace: ref.namespace, request: ref.name, requestUID: uid, certificateArn: cert.arn },
    });
    conds.set('ListenerAttached', 'False', 'Placing', 'placing the hostname on a pool Gateway');
    return finish('placement on a Gateway');
  }
  status.assignedGateway = { namespace: config.pool.namespace, name: placement.gateway };
  const listed = (input.lbConfig?.spec.listenerConfigurations ?? []).some(
    (l) => l.protocolPort === PROTOCOL_PORT && (l.defaultCertificate === cert.arn || (l.certificates ?? []).includes(cert.arn)),
  );
  if (!listed) {
    conds.set('ListenerAttached', 'False', 'ConfigurationPending', `LoadBalancerConfiguration ${placement.gateway} does not list the certificate yet`);
    wait = 'gateway';
    return finish('the LoadBalancerConfiguration');
  }
  const address = gatewayAddress(input.gateway);
  if (!address) {
    conds.set('ListenerAttached', 'False', 'GatewayNotProgrammed', `Gateway ${placement.gateway} has no address yet`);
    wait = 'gateway';
    return finish(`Gateway ${placement.gateway} to get an address`);
  }
  const lb = input.loadBalancer;
  if (!lb) {
    conds.set('ListenerAttached', 'False', 'LoadBalancerNotFound', `no load balancer with DNS name ${address}`);
    wait = 'load-balancer';
    return finish(`the load balancer ${address}`);
  }
  status.assignedLoadBalancer = { dnsName: lb.lb.dnsName, arn: lb.lb.arn, canonicalHostedZoneId: lb.lb.canonicalHostedZoneId };
  if (!lb.certificates?.has(cert.arn)) {
    conds.set('ListenerAttached', 'False', 'WaitingForListener', `the HTTPS listener of ${lb.lb.name} does not carry the certificate yet`);
    wait = 'listener';
    return finish('the load balancer listener');
  }
  conds.set('ListenerAttached', 'True', 'Attached', `certificate is on the HTTPS listener of ${lb.lb.name}`);

  // DnsAliasReady: alias records to the ALB and the ownership TXT; never overwrite a record we
  // do not own. New records are CREATEd (a concurrent foreign write fails the batch), ours UPSERTed.
  const ownerName = ownerRecordName(hostname);
  const txt = zoneRecord(zone, ownerName, 'TXT');
  const owned = ownedByCluster(txt, config.clusterId);
  const types = aliasTypes(request, lb.lb);
  if (!owned) {
    const foreign = (['A', 'AAAA', 'CNAME'] as const).map((t) => zoneRecord(zone, hostname, t)).filter((r): r is RecordSet => !!r);
    if (txt) foreign.push(txt);
    if (foreign.length > 0) {
      conds.set(
        'DnsAliasReady',
        'False',
        'RecordNotOwned',
        `${hostname} already has record(s) not owned by this orchestrator: ${foreign.map((r) => `${r.name} ${describeRecord(r)}`).join('; ')}; remove them to let the orchestrator manage the name`,
      );
      return finish('the DNS name to be free');
    }
  }
  const desiredTxt: RecordSet = { name: ownerName, type: 'TXT', ttl: OWNER_TTL, values: [ownerValue(config.clusterId, ref.namespace, ref.name)] };
  const dnsChanges: RecordChange[] = [];
  if (!sameRecord(desiredTxt, txt)) dnsChanges.push({ action: txt ? 'UPSERT' : 'CREATE', record: desiredTxt });
  for (const type of ['A', 'AAAA'] as const) {
    const existing = zoneRecord(zone, hostname, type);
    if (types.includes(type)) {
      const desired: RecordSet = { name: hostname, type, aliasTarget: { hostedZoneId: lb.lb.canonicalHostedZoneId, dnsName: lb.lb.dnsName, evaluateTargetHealth: true } };
      if (!sameRecord(desired, existing)) dnsChanges.push({ action: existing ? 'UPSERT' : 'CREATE', record: desired });
    } else if (existing && owned) {
      dnsChanges.push({ action: 'DELETE', record: existing });
    }
  }
  if (dnsChanges.length > 0) {
    changes.push({ kind: 'changeRecords', zoneId: zone.id, changes: dnsChanges, why: 'alias' });
    conds.set('DnsAliasReady', 'False', 'WritingRecords', `writing ${types.join('+')} alias and ownership record in zone ${zone.id}`);
    return finish('the DNS alias');
  }
  conds.set('DnsAliasReady', 'True', 'AliasReady', `${types.join('+')} alias to ${lb.lb.dnsName} and ownership record present`);
  return finish('nothing');
}

/** The DNS name a Gateway's status reports (the ALB's), lower-case without trailing dot. */
export function gatewayAddress(gateway: Gateway | undefined): string | undefined {
  const addresses = gateway?.status?.addresses ?? [];
  const a = addresses.find((x) => x.type === undefined || x.type === 'Hostname') ?? addresses[0];
  return a?.value ? a.value.toLowerCase().replace(/\.$/, '') : undefined;
}

function pascal(status: string): string {
  return status
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function dedupeChanges(changes: RecordChange[]): RecordChange[] {
  const seen = new Set<string>();
  return changes.filter((c) => {
    const k = `${c.record.name}|${c.record.type}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---- Deletion ------------------------------------------------------------------------------------

/**
 * Cleanup through the finalizer, one idempotent step after another: DNS alias and TXT (if ours),
 * the placement (certificate off the LoadBalancerConfiguration, namespace off allowedRoutes),
 * wait until no listener carries the certificate and ACM no longer reports it in use, delete it,
 * its validation CNAME (unless another request of ours needs the same name), grants, claim,
 * finalizer. A request that lost its claim (Denied) just loses its finalizer: no AWS calls.
 */
function planDeletion(input: PlanInput): Plan {
  const { request, config, claim } = input;
  const hostname = request.spec.hostname;
  const ref = requestRef(request);
  const uid = request.metadata.uid ?? '';
  const changes: Change[] = [];
  const hasFinalizer = request.metadata.finalizers?.includes(FINALIZER) ?? false;
  const previous = request.status?.conditions ?? [];
  const conds = new Conditions(previous, request.metadata.generation, input.now);
  for (const c of previous) if (c.type !== 'Ready') conds.set(c.type, c.status, c.reason, c.message);
  const result = (step: string, wait?: Wait): Plan => {
    conds.set('Ready', 'False', 'Deleting', `cleaning up: ${step}`);
    return { changes, status: hasFinalizer ? { ...(request.status ?? {}), conditions: conds.toArray() } : undefined, events: [], ...(wait ? { wait } : {}) };
  };
  if (!hasFinalizer) return { changes, status: undefined, events: [] };
  // Lost the claim: the hostname's DNS records and claim are someone else's now. What provably is
  // this request's own (its placement, its certificate) still goes; a request that never got
  // that far just loses its finalizer, without a single AWS call.
  const denied = heldByOther(claim, request);
  const zone = denied ? undefined : input.zone;
  // 1. DNS alias and ownership record, only when the ownership record says this request.
  if (zone?.zone) {
    const ownerName = ownerRecordName(hostname);
    const txt = zoneRecord(zone, ownerName, 'TXT');
    const mine = ownerValue(config.clusterId, ref.namespace, ref.name);
    if (txt && (txt.values ?? []).includes(mine)) {
      const dns: RecordChange[] = [];
      for (const type of ['A', 'AAAA'] as const) {
        const r = zoneRecord(zone, hostname, type);
        if (r?.aliasTarget) dns.push({ action: 'DELETE', record: r });
      }
      dns.push({ action: 'DELETE', record: txt });
      changes.push({ kind: 'changeRecords', zoneId: zone.id, changes: dns, why: 'cleanup' });
    }
  }

  // 2. The placement: the certificate leaves the LoadBalancerConfiguration.
  if (input.placement) changes.push({ kind: 'unplace', requestUID: uid });
  if (changes.length > 0) return result('removing DNS records and the Gateway placement');

  // 3. Wait until the listener no longer carries the certificate and ACM does not say "in use".
  const cert = input.certificate;
  if (cert) {
    if (input.loadBalancer?.certificates?.has(cert.arn)) return result(`waiting for the listener of ${input.loadBalancer.lb.name} to drop the certificate`, 'listener');
    if (input.lbConfig && lbConfigLists(input.lbConfig, cert.arn)) return result('waiting for the LoadBalancerConfiguration to drop the certificate', 'gateway');
    // ACM's InUseBy may lag behind (or, in an emulator, never forget) the listener we have just
    // seen drop the certificate: such entries do not hold the deletion back; DeleteCertificate
    // has the last word (it refuses while really in use, and the applier waits and retries).
    // That includes a listener of our ALB that is gone: the load balancer controller deletes the
    // HTTPS listener when the last certificate leaves its configuration.
    const lb = input.loadBalancer;
    const ourListenerPrefix = lb ? `${lb.lb.arn.replace(':loadbalancer/', ':listener/')}/` : undefined;
    const seenFree = (user: string) =>
      !!lb &&
      lb.certificates !== undefined &&
      !lb.certificates.has(cert.arn) &&
      (user === lb.lb.arn || user === lb.listenerArn || (ourListenerPrefix !== undefined && user.startsWith(ourListenerPrefix)));
    const users = (cert.inUseBy ?? []).filter((u) => !seenFree(u));
    if (users.length > 0 || (cert.inUse && cert.inUseBy === undefined)) {
      return result(`waiting until ACM no longer reports certificate ${cert.arn} in use (${users.join(', ') || 'in use'})`, 'certificate-in-use');
    }
    changes.push({ kind: 'deleteCertificate', arn: cert.arn });
  }

  // 4. Validation CNAMEs no other request of ours needs (after the certificate: the applier stops
  // at a refused DeleteCertificate, so they stay while it is still there).
  if (zone?.zone) {
    const known = [...(cert?.validationRecords ?? []), ...(request.status?.validationRecords ?? [])];
    const dns: RecordChange[] = [];
    const seen = new Set<string>();
    for (const v of known) {
      if (seen.has(v.name) || input.validationNamesInUse.has(v.name)) continue;
      seen.add(v.name);
      const r = zoneRecord(zone, v.name, 'CNAME');
      if (r && (r.values ?? []).includes(v.value)) dns.push({ action: 'DELETE', record: r });
    }
    if (dns.length > 0) changes.push({ kind: 'changeRecords', zoneId: zone.id, changes: dns, why: 'cleanup' });
  }
  if (changes.length > 0) return result(cert ? `deleting certificate ${cert.arn}` : 'deleting validation records');

  // 5. Grants, claim, finalizer.
  for (const g of input.grants) {
    if (g.metadata.name && g.spec.requestRef?.namespace === ref.namespace && g.spec.requestRef.name === ref.name) changes.push({ kind: 'deleteGrant', name: g.metadata.name });
  }
  if (claim && !denied && (!claim.status?.requestUID || claim.status.requestUID === uid)) changes.push({ kind: 'releaseClaim', hostname });
  changes.push({ kind: 'removeFinalizer' });
  return result('releasing grants and the claim');
}

function lbConfigLists(lbc: LoadBalancerConfiguration, arn: string): boolean {
  return (lbc.spec.listenerConfigurations ?? []).some((l) => l.defaultCertificate === arn || (l.certificates ?? []).includes(arn));
}
