// The planner: for one request and what the snapshot shows, which changes and which conditions.
import t from 'tap';
import { FINALIZER, type DomainClaim, type Gateway, type GatewayHostnameRequest, type HostnameGrant, type LoadBalancerConfiguration } from '../../policy/api.js';
import { DEFAULT_CONFIG } from '../../policy/config.js';
import { grantNameFor } from '../../policy/hostname.js';
import { recordKey, type CertificateState, type LoadBalancerState, type ZoneState } from '../../reconcile/observe.js';
import { describeChange, idempotencyTokenFor, ownerValue, planRequest, type Change, type PlanInput } from '../../reconcile/plan.js';
import type { RecordSet } from '../../reconcile/ports.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const HOST = 'app.opendi.com';
const UID = '0b7c2f4e-1d2a-4c3b-9e8f-123456789abc';
const ARN = 'arn:aws:acm:eu-central-1:123:certificate/c1';
const LB_DNS = 'k8s-edge-gw01-1.eu-central-1.elb.amazonaws.com';
const config = { clusterId: 'prod-1', pool: { ...DEFAULT_CONFIG.pool } };

function request(extra: Partial<GatewayHostnameRequest['metadata']> = {}, spec: Partial<GatewayHostnameRequest['spec']> = {}, status?: GatewayHostnameRequest['status']): GatewayHostnameRequest {
  return {
    apiVersion: 'gateway-orchestrator.io/v1alpha1',
    kind: 'GatewayHostnameRequest',
    metadata: { name: 'web', namespace: 'team-a', uid: UID, generation: 2, finalizers: [FINALIZER], ...extra },
    spec: { hostname: HOST, zoneId: 'Z1', ...spec },
    ...(status ? { status } : {}),
  };
}

const claim = (ns = 'team-a', name = 'web', requestUID: string | null = UID): DomainClaim => ({
  apiVersion: 'gateway-orchestrator.io/v1alpha1',
  kind: 'DomainClaim',
  metadata: { name: 'hn-x' },
  spec: { hostname: HOST, requestRef: { namespace: ns, name } },
  ...(requestUID ? { status: { requestUID } } : {}),
});

const grant = (namespace: string): HostnameGrant => ({
  apiVersion: 'gateway-orchestrator.io/v1alpha1',
  kind: 'HostnameGrant',
  metadata: { name: grantNameFor(HOST, namespace) },
  spec: { hostname: HOST, namespace, requestRef: { namespace: 'team-a', name: 'web' } },
});

function zone(records: RecordSet[] = []): ZoneState {
  return { id: 'Z1', zone: { id: 'Z1', name: 'opendi.com', privateZone: false }, records: new Map(records.map((r) => [recordKey(r.name, r.type), r])), loadedAt: 0 };
}

const validation = { domainName: HOST, name: `_abc.${HOST}`, type: 'CNAME' as const, value: '_xyz.acm-validations.aws' };
const cert = (status: CertificateState['status'] = 'ISSUED', extra: Partial<CertificateState> = {}): CertificateState => ({
  arn: ARN,
  domainName: HOST,
  status,
  inUse: false,
  validationRecords: [validation],
  describeFailures: 0,
  nextDescribeAt: 0,
  ...extra,
});
const validationRecord: RecordSet = { name: validation.name, type: 'CNAME', ttl: 300, values: [validation.value] };
const txt = (value = ownerValue('prod-1', 'team-a', 'web')): RecordSet => ({ name: `_gwo.${HOST}`, type: 'TXT', ttl: 300, values: [value] });
const alias = (type = 'A'): RecordSet => ({ name: HOST, type, aliasTarget: { hostedZoneId: 'ZLB', dnsName: LB_DNS, evaluateTargetHealth: true } });

const lb = (certificates: string[] = [ARN], ipAddressType = 'ipv4'): LoadBalancerState => ({
  lb: { arn: 'arn:lb/1', name: 'k8s-edge-gw01', dnsName: LB_DNS, canonicalHostedZoneId: 'ZLB', scheme: 'internet-facing', ipAddressType },
  listenerArn: 'arn:listener/1',
  certificates: new Set(certificates),
  listenerPolls: 0,
  nextListenerReadAt: 0,
});
const REAL_LB_ARN = 'arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/k8s-edge-gw01/50dc6c495c0c9188';
const realLb = (certificates: string[]): LoadBalancerState => ({ ...lb(certificates), lb: { ...lb(certificates).lb, arn: REAL_LB_ARN } });
const gateway: Gateway = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw-01' }, spec: { gatewayClassName: 'aws-alb', listeners: [] }, status: { addresses: [{ type: 'Hostname', value: LB_DNS }] } };
const lbConfig = (arns = [ARN]): LoadBalancerConfiguration => ({
  apiVersion: 'gateway.k8s.aws/v1beta1',
  kind: 'LoadBalancerConfiguration',
  metadata: { name: 'gw-01' },
  spec: { listenerConfigurations: [{ protocolPort: 'HTTPS:443', defaultCertificate: arns[0], certificates: arns.slice(1) }] },
});
const placement = { gateway: 'gw-01', entry: { hostname: HOST, namespace: 'team-a', request: 'web', requestUID: UID, certificateArn: ARN } };

/** Everything in place: the request is Ready. Cases take this and break one thing. */
function ready(over: Partial<PlanInput> = {}): PlanInput {
  return {
    request: request(),
    config,
    now: NOW,
    claim: claim(),
    grants: [grant('team-a')],
    zone: zone([validationRecord, txt(), alias()]),
    certificate: cert(),
    poolKey: { gatewayClass: 'aws-alb', visibility: 'internet-facing', environment: 'production' },
    placement,
    gateway,
    lbConfig: lbConfig(),
    loadBalancer: lb(),
    validationNamesInUse: new Set(),
    ...over,
  };
}

const summary = (changes: Change[]) => changes.map(describeChange);
const cond = (input: PlanInput, type: string) => planRequest(input).status?.conditions?.find((c) => c.type === type);

t.test('everything in place: no change, Ready with every condition True', async (t) => {
  const plan = planRequest(ready());
  t.same(plan.changes, []);
  for (const c of plan.status!.conditions!) {
    t.equal(c.status, 'True', `${c.type}: ${c.reason}`);
    t.equal(c.observedGeneration, 2);
  }
  t.same(plan.status!.assignedGateway, { namespace: 'edge', name: 'gw-01' });
  t.same(plan.status!.assignedLoadBalancer, { dnsName: LB_DNS, arn: 'arn:lb/1', canonicalHostedZoneId: 'ZLB' });
  t.equal(plan.status!.certificateArn, ARN);
  t.same(plan.events.map((e) => e.reason), ['CertificateRequested', 'CertificateIssued', 'Ready'], 'events on the transitions to True');
  // Planned again on its own status: nothing changes, times are kept, no events.
  const again = planRequest(ready({ request: request({}, {}, plan.status), now: new Date('2026-11-24T13:00:00Z') }));
  t.same(again.status, plan.status, 'identical status (lastTransitionTime kept)');
  t.same(again.events, []);
});

t.test('claim held by another request: Denied, nothing else', async (t) => {
  const plan = planRequest(ready({ claim: claim('team-b', 'other'), certificate: undefined, zone: undefined }));
  t.same(plan.changes, []);
  const c = (type: string) => plan.status!.conditions!.find((x) => x.type === type);
  t.equal(c('Denied')?.status, 'True');
  t.equal(c('Denied')?.reason, 'HostnameClaimed');
  t.match(c('Denied')?.message, /team-b\/other/);
  t.equal(c('Ready')?.status, 'False');
  t.notOk(c('CertificateRequested'), 'no later steps');
});

t.test('step by step: each gap yields its change and condition', async (t) => {
  type Case = [string, Partial<PlanInput>, string[], string, string];
  const cases: Case[] = [
    ['claim missing', { claim: undefined }, [`create claim on ${HOST}`], 'Claimed', 'ClaimMissing'],
    ['claim not bound', { claim: claim('team-a', 'web', null) }, [`bind claim hn-x to ${UID}`], 'Ready', 'Ready'],
    ['grant missing', { grants: [] }, [`grant ${HOST} to namespace team-a`], 'Ready', 'Ready'],
    ['stale grant', { grants: [grant('team-a'), grant('old')] }, [`delete grant ${grantNameFor(HOST, 'old')}`], 'Ready', 'Ready'],
    ['grant of another request with our name', { grants: [{ ...grant('team-a'), spec: { ...grant('team-a').spec, requestRef: { namespace: 'team-a', name: 'loser' } } }] }, [`replace grant of ${HOST} to namespace team-a`], 'Ready', 'Ready'],
    ['hand-written grant for the same pair: left as it is', { grants: [{ ...grant('team-a'), spec: { hostname: HOST, namespace: 'team-a' } }] }, [], 'Ready', 'Ready'],
    ['zone unknown', { zone: { id: 'Z1', zone: undefined, records: new Map(), loadedAt: 0 } }, [], 'CertificateRequested', 'ZoneNotFound'],
    ['hostname outside the zone', { zone: { ...zone(), zone: { id: 'Z1', name: 'in-muenchen.de', privateZone: false } } }, [], 'CertificateRequested', 'ZoneMismatch'],
    ['no certificate', { certificate: undefined }, [`request certificate for ${HOST}`], 'CertificateRequested', 'Requesting'],
    ['validation record missing', { zone: zone([txt(), alias()]) }, [`validation: UPSERT CNAME _abc.${HOST} in Z1`], 'DnsValidated', 'WritingRecords'],
    ['validation records not published yet', { certificate: cert('PENDING_VALIDATION', { validationRecords: undefined }) }, [], 'DnsValidated', 'PendingValidationRecords'],
    ['pending validation', { certificate: cert('PENDING_VALIDATION') }, [], 'CertificateIssued', 'PendingValidation'],
    ['not placed', { placement: undefined }, [`place ${HOST} with ${ARN}`], 'ListenerAttached', 'Placing'],
    ['LBConfig not updated yet', { lbConfig: lbConfig(['arn:other']) }, [], 'ListenerAttached', 'ConfigurationPending'],
    ['Gateway without address', { gateway: { ...gateway, status: {} } }, [], 'ListenerAttached', 'GatewayNotProgrammed'],
    ['ALB unknown', { loadBalancer: undefined }, [], 'ListenerAttached', 'LoadBalancerNotFound'],
    ['listener without the certificate', { loadBalancer: lb(['arn:other']) }, [], 'ListenerAttached', 'WaitingForListener'],
    ['no alias, no TXT', { zone: zone([validationRecord]) }, [`alias: CREATE TXT _gwo.${HOST}, CREATE A ${HOST} in Z1`], 'DnsAliasReady', 'WritingRecords'],
    ['our alias points elsewhere', { zone: zone([validationRecord, txt(), { ...alias(), aliasTarget: { hostedZoneId: 'ZLB', dnsName: 'old.elb', evaluateTargetHealth: true } }]) }, [`alias: UPSERT A ${HOST} in Z1`], 'DnsAliasReady', 'WritingRecords'],
    ['dualstack ALB: AAAA too', { loadBalancer: lb([ARN], 'dualstack') }, [`alias: CREATE AAAA ${HOST} in Z1`], 'DnsAliasReady', 'WritingRecords'],
    ['owned by this cluster for another request: taken over', { zone: zone([validationRecord, txt(ownerValue('prod-1', 'team-x', 'old')), alias()]) }, [`alias: UPSERT TXT _gwo.${HOST} in Z1`], 'DnsAliasReady', 'WritingRecords'],
  ];
  for (const [name, over, changes, type, reason] of cases) {
    const input = ready(over);
    const plan = planRequest(input);
    t.same(summary(plan.changes), changes, `${name}: changes`);
    t.equal(cond(input, type)?.reason, reason, `${name}: ${type} reason`);
    if (type !== 'Ready') t.equal(cond(input, 'Ready')?.status, 'False', `${name}: not Ready`);
  }
});

t.test('certificate request: idempotency token from the UID, tags naming the owner', async (t) => {
  const plan = planRequest(ready({ certificate: undefined }));
  const change = plan.changes[0];
  t.equal(change?.kind, 'requestCertificate');
  if (change?.kind !== 'requestCertificate') return;
  t.equal(change.idempotencyToken, '0b7c2f4e1d2a4c3b9e8f123456789abc');
  t.match(change.idempotencyToken, /^\w{1,32}$/);
  t.equal(idempotencyTokenFor(UID).length, 32);
  t.same(change.tags, {
    'gateway-orchestrator.io/managed-by': 'gateway-orchestrator',
    'gateway-orchestrator.io/cluster': 'prod-1',
    'gateway-orchestrator.io/namespace': 'team-a',
    'gateway-orchestrator.io/name': 'web',
    'gateway-orchestrator.io/request-uid': UID,
  });
});

t.test('failed certificates surface ACM reason', async (t) => {
  const cases: Array<[CertificateState['status'], string]> = [
    ['FAILED', 'Failed'],
    ['VALIDATION_TIMED_OUT', 'ValidationTimedOut'],
  ];
  for (const [status, reason] of cases) {
    const c = cond(ready({ certificate: cert(status, { failureReason: 'CAA_ERROR' }) }), 'CertificateIssued');
    t.equal(c?.status, 'False');
    t.equal(c?.reason, reason);
    t.match(c?.message, /CAA_ERROR/);
  }
});

t.test('a record we do not own is never touched', async (t) => {
  const cases: Array<[string, RecordSet[]]> = [
    ['foreign A record', [{ name: HOST, type: 'A', ttl: 60, values: ['192.0.2.1'] }]],
    ['foreign CNAME', [{ name: HOST, type: 'CNAME', ttl: 60, values: ['elsewhere.example'] }]],
    ['TXT of another cluster', [txt(ownerValue('other-cluster', 'team-a', 'web'))]],
    ['AAAA without our TXT', [alias('AAAA')]],
  ];
  for (const [name, records] of cases) {
    const input = ready({ zone: zone([validationRecord, ...records]) });
    const plan = planRequest(input);
    t.same(plan.changes, [], `${name}: no change`);
    const c = cond(input, 'DnsAliasReady');
    t.equal(c?.reason, 'RecordNotOwned', name);
    t.match(c?.message, records[0]!.values?.[0] ?? records[0]!.aliasTarget!.dnsName, `${name}: the message names what is there`);
  }
});

t.test('aliasRecordTypes A only: AAAA of ours is removed even on a dualstack ALB', async (t) => {
  const input = ready({ request: request({}, { dns: { aliasRecordTypes: ['A'] } }), loadBalancer: lb([ARN], 'dualstack'), zone: zone([validationRecord, txt(), alias(), alias('AAAA')]) });
  t.same(summary(planRequest(input).changes), [`alias: DELETE AAAA ${HOST} in Z1`]);
});

t.test('lastTransitionTime kept while the status stays, moved when it changes', async (t) => {
  const first = planRequest(ready({ certificate: cert('PENDING_VALIDATION') }));
  const later = new Date('2026-11-24T12:05:00Z');
  const second = planRequest(ready({ request: request({}, {}, first.status), certificate: cert('PENDING_VALIDATION'), now: later }));
  const issued = (p: typeof first) => p.status!.conditions!.find((c) => c.type === 'CertificateIssued')!;
  t.equal(issued(second).lastTransitionTime, issued(first).lastTransitionTime);
  const third = planRequest(ready({ request: request({}, {}, second.status), now: later }));
  t.equal(issued(third).status, 'True');
  t.equal(issued(third).lastTransitionTime, '2026-11-24T12:05:00Z');
});

t.test('deletion, step by step', async (t) => {
  const deleting = (status?: GatewayHostnameRequest['status']) => request({ deletionTimestamp: '2026-11-24T12:00:00Z' }, {}, status ?? { validationRecords: [validation] });
  type Case = [string, Partial<PlanInput>, string[]];
  const cases: Case[] = [
    ['first: alias, TXT and placement', {}, [`cleanup: DELETE A ${HOST}, DELETE TXT _gwo.${HOST} in Z1`, `remove placement of ${UID}`]],
    ['TXT of another request: left alone', { zone: zone([validationRecord, txt(ownerValue('prod-1', 'team-z', 'x')), alias()]) }, [`remove placement of ${UID}`]],
    ['listener still carries the certificate', { zone: zone([validationRecord]), placement: undefined }, []],
    ['LBConfig still lists it', { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]) }, []],
    ['ACM says in use', { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']), certificate: cert('ISSUED', { inUse: true }) }, []],
    [
      'ACM says in use by another resource',
      { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']), certificate: cert('ISSUED', { inUse: true, inUseBy: ['arn:cloudfront/x'] }) },
      [],
    ],
    [
      'ACM says in use by the listener we saw drop it: try the delete',
      { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']), certificate: cert('ISSUED', { inUse: true, inUseBy: ['arn:listener/1'] }) },
      [`delete certificate ${ARN}`, `cleanup: DELETE CNAME _abc.${HOST} in Z1`],
    ],
    [
      'ACM says in use by our ALB\'s HTTPS listener that is gone (the last certificate left it): try the delete',
      {
        zone: zone([validationRecord]),
        placement: undefined,
        loadBalancer: { ...realLb([]), listenerArn: undefined },
        lbConfig: lbConfig(['arn:other']),
        certificate: cert('ISSUED', { inUse: true, inUseBy: [`${REAL_LB_ARN.replace(':loadbalancer/', ':listener/')}/0123456789abcdef`] }),
      },
      [`delete certificate ${ARN}`, `cleanup: DELETE CNAME _abc.${HOST} in Z1`],
    ],
    [
      'ACM says in use by a listener of another ALB: wait',
      {
        zone: zone([validationRecord]),
        placement: undefined,
        loadBalancer: { ...realLb([]), listenerArn: undefined },
        lbConfig: lbConfig(['arn:other']),
        certificate: cert('ISSUED', { inUse: true, inUseBy: ['arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener/app/other/1111111111111111/2222222222222222'] }),
      },
      [],
    ],
    [
      'free: delete certificate and validation CNAME',
      { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']) },
      [`delete certificate ${ARN}`, `cleanup: DELETE CNAME _abc.${HOST} in Z1`],
    ],
    [
      'validation CNAME needed by another request: kept',
      { zone: zone([validationRecord]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']), validationNamesInUse: new Set([validation.name]) },
      [`delete certificate ${ARN}`],
    ],
    [
      'all AWS gone: grants, claim, finalizer',
      { zone: zone([]), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']), certificate: undefined },
      [`delete grant ${grantNameFor(HOST, 'team-a')}`, `release claim on ${HOST}`, `remove finalizer ${FINALIZER}`],
    ],
    [
      'claim bound to another UID (same name, new request): not released',
      { zone: zone([]), placement: undefined, certificate: undefined, grants: [], loadBalancer: undefined, claim: claim('team-a', 'web', 'other-uid') },
      [`remove finalizer ${FINALIZER}`],
    ],
    ['Denied, never provisioned: only the finalizer', { claim: claim('team-b', 'other'), placement: undefined, certificate: undefined, grants: [], zone: undefined }, [`remove finalizer ${FINALIZER}`]],
    ['Denied after provisioning: its placement goes, DNS stays (the hostname is theirs)', { claim: claim('team-b', 'other') }, [`remove placement of ${UID}`]],
    [
      'Denied after provisioning: its certificate goes, not the claim',
      { claim: claim('team-b', 'other'), placement: undefined, loadBalancer: lb([]), lbConfig: lbConfig(['arn:other']) },
      [`delete certificate ${ARN}`],
    ],
  ];
  for (const [name, over, changes] of cases) {
    const input = ready({ request: deleting(), ...over });
    const plan = planRequest(input);
    t.same(summary(plan.changes), changes, name);
  }
  const waiting = planRequest(ready({ request: deleting(), zone: zone([]), placement: undefined }));
  t.equal(waiting.wait, 'listener');
  t.match(waiting.status?.conditions?.find((c) => c.type === 'Ready')?.message, /listener/);
  t.same(planRequest(ready({ request: request({ deletionTimestamp: 'x', finalizers: [] }) })).changes, [], 'no finalizer: nothing to do');
});
