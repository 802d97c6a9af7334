// What IS in AWS, as an in-memory snapshot the planner reads. The periodic resync refreshes it
// with reads that grow with zones, pages and pool Gateways, never with requests: ACM
// ListCertificates, per zone in use GetHostedZone + ListResourceRecordSets, ELBv2
// DescribeLoadBalancers and per pool ALB DescribeListeners + DescribeListenerCertificates.
// Between resyncs the applier writes its own changes through, and a few targeted reads fill
// gaps: DescribeCertificate for certificates not yet ISSUED (with back-off, not hot polling),
// a zone seen for the first time, the listener of a Gateway a certificate was just added to.
import type {
  AwsPorts,
  CertificateStatus,
  DnsValidationRecord,
  HostedZone,
  LoadBalancer,
  RecordChange,
  RecordSet,
} from './ports.js';

export interface CertificateState {
  arn: string;
  domainName: string;
  status: CertificateStatus;
  inUse: boolean;
  /** From DescribeCertificate, once ACM has filled them (one per domain). */
  validationRecords?: DnsValidationRecord[];
  failureReason?: string;
  inUseBy?: string[];
  tags?: Record<string, string>;
  /** Back-off for DescribeCertificate polling. */
  describeFailures: number;
  nextDescribeAt: number;
}

export interface ZoneState {
  id: string;
  /** undefined: Route53 does not know the zone. */
  zone: HostedZone | undefined;
  records: Map<string, RecordSet>;
  loadedAt: number;
}

export interface LoadBalancerState {
  lb: LoadBalancer;
  /**
   * The HTTPS:443 listener's ARN, kept once found (a listener's ARN never changes): later reads
   * ask only for its certificates, and read the listeners again when it is gone.
   */
  listenerArn?: string;
  /** Certificates on the HTTPS:443 listener (default included); undefined until read. */
  certificates?: Set<string>;
  listenerPolls: number;
  nextListenerReadAt: number;
  /** The poll under way, which requests coming due meanwhile join. */
  listenerPoll?: Promise<void>;
}

export interface SnapshotView {
  certificates: ReadonlyMap<string, CertificateState>;
  zones: ReadonlyMap<string, ZoneState>;
  /** By DNS name (lower-case, no trailing dot): how a Gateway's status.addresses finds its ALB. */
  loadBalancers: ReadonlyMap<string, LoadBalancerState>;
}

export const recordKey = (name: string, type: string): string => `${name.toLowerCase()}|${type}`;

export function zoneRecord(zone: ZoneState | undefined, name: string, type: string): RecordSet | undefined {
  return zone?.records.get(recordKey(name, type));
}

export interface ObserverOptions {
  now?: () => number;
  /** Fired when a hosted zone's name becomes known (the admission side checks zones with it). */
  onZone?: (zone: HostedZone) => void;
  /**
   * Fired when a read finds an ALB's listener certificates changed: requests waiting for that
   * listener need not wait out their own poll interval (which backs off up to listenerMaxMs).
   */
  onListenerChange?: (state: LoadBalancerState) => void;
  describeBaseMs?: number;
  describeMaxMs?: number;
  listenerBaseMs?: number;
  listenerMaxMs?: number;
  /** DescribeLoadBalancers at most this often outside the resync (a Gateway got a new address). */
  loadBalancerMinIntervalMs?: number;
  /** ALBs whose listener the resync reads at once (the budget paces the calls). Default 4. */
  listenerReadConcurrency?: number;
}

const backoff = (n: number, base: number, max: number): number => Math.min(max, base * 2 ** n);

const sameSet = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean =>
  a === b || (!!a && !!b && a.size === b.size && [...a].every((x) => b.has(x)));

export class Observer implements SnapshotView {
  readonly certificates = new Map<string, CertificateState>();
  readonly zones = new Map<string, ZoneState>();
  readonly loadBalancers = new Map<string, LoadBalancerState>();
  private readonly missingCertificates = new Map<string, number>(); // arn -> until
  private readonly zoneLoads = new Map<string, Promise<ZoneState>>();
  private readonly zoneWrites = new Map<string, number>();
  private certificateWrites = 0;
  private lastLoadBalancerRead = -Infinity;
  private loadBalancerReadsStarted = 0;
  /** DNS names asked for and not found yet -> loadBalancerReadsStarted when first asked. */
  private readonly loadBalancerAskedAt = new Map<string, number>();
  private loadBalancerRead: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly o: Required<Omit<ObserverOptions, 'now' | 'onZone' | 'onListenerChange'>>;

  constructor(
    private readonly ports: AwsPorts,
    private readonly options: ObserverOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.o = {
      describeBaseMs: options.describeBaseMs ?? 2_000,
      describeMaxMs: options.describeMaxMs ?? 60_000,
      listenerBaseMs: options.listenerBaseMs ?? 1_000,
      listenerMaxMs: options.listenerMaxMs ?? 30_000,
      loadBalancerMinIntervalMs: options.loadBalancerMinIntervalMs ?? 5_000,
      listenerReadConcurrency: Math.max(1, options.listenerReadConcurrency ?? 4),
    };
  }

  // ---- The resync: everything, once --------------------------------------------------------

  /** Re-reads AWS: certificates, the given zones, load balancers and the listeners of the given ALBs. */
  async refresh(input: { zoneIds: Iterable<string>; loadBalancerDnsNames: Iterable<string> }): Promise<void> {
    await this.refreshCertificates();
    for (const zoneId of new Set(input.zoneIds)) await this.loadZone(zoneId);
    await this.readLoadBalancers();
    const states: LoadBalancerState[] = [];
    for (const dns of new Set(input.loadBalancerDnsNames)) {
      const state = this.loadBalancers.get(dns);
      if (state) states.push(state);
    }
    // A few at a time: one after another, a resync over 40 Gateways took 26 s of round trips.
    await forEachLimit(states, this.o.listenerReadConcurrency, (state) => this.readListener(state));
  }

  private async refreshCertificates(): Promise<void> {
    const writes = this.certificateWrites;
    const listed = await this.ports.acm.listCertificates();
    const seen = new Set<string>();
    for (const s of listed) {
      seen.add(s.arn);
      const current = this.certificates.get(s.arn);
      if (!current) {
        this.certificates.set(s.arn, { ...s, describeFailures: 0, nextDescribeAt: 0 });
        continue;
      }
      if (current.status !== s.status) {
        current.status = s.status;
        current.describeFailures = 0;
        current.nextDescribeAt = 0;
      }
      current.inUse = s.inUse;
    }
    // A certificate requested while the list was read may be missing from it: keep what we wrote.
    if (writes === this.certificateWrites) {
      for (const arn of [...this.certificates.keys()]) if (!seen.has(arn)) this.certificates.delete(arn);
    }
  }

  private async loadZone(zoneId: string): Promise<ZoneState> {
    const writes = this.zoneWrites.get(zoneId) ?? 0;
    const zone = await this.ports.route53.getHostedZone(zoneId);
    const state: ZoneState = { id: zoneId, zone, records: new Map(), loadedAt: this.now() };
    if (zone) {
      this.options.onZone?.(zone);
      for (const r of await this.ports.route53.listRecords(zoneId)) state.records.set(recordKey(r.name, r.type), r);
    }
    // Our own change landed while we listed: the listing may predate it; keep the written state
    // (the next resync reads again).
    const existing = this.zones.get(zoneId);
    if (existing && (this.zoneWrites.get(zoneId) ?? 0) !== writes) return existing;
    this.zones.set(zoneId, state);
    return state;
  }

  private async readLoadBalancers(): Promise<void> {
    this.lastLoadBalancerRead = this.now();
    this.loadBalancerReadsStarted++;
    const lbs = await this.ports.elbv2.describeLoadBalancers();
    const seen = new Set<string>();
    for (const lb of lbs) {
      seen.add(lb.dnsName);
      const current = this.loadBalancers.get(lb.dnsName);
      if (current && current.lb.arn === lb.arn) current.lb = lb;
      else this.loadBalancers.set(lb.dnsName, { lb, listenerPolls: 0, nextListenerReadAt: 0 });
    }
    for (const dns of [...this.loadBalancers.keys()]) if (!seen.has(dns)) this.loadBalancers.delete(dns);
  }

  private async readListener(state: LoadBalancerState): Promise<void> {
    const known = state.listenerArn;
    if (known) {
      try {
        const certificates = await this.ports.elbv2.describeListenerCertificates(known);
        // A concurrent read may have found the listener gone (or another) meanwhile.
        if (state.listenerArn === known) state.certificates = new Set(certificates);
        return;
      } catch (err) {
        if (!isListenerNotFound(err)) throw err;
        // Deleted (the load balancer controller removes the HTTPS listener with its last
        // certificate) and perhaps made again under a new ARN: look it up again.
        if (state.listenerArn === known) state.listenerArn = undefined;
      }
    }
    const listeners = await this.ports.elbv2.describeListeners(state.lb.arn);
    const https = listeners.find((l) => l.port === 443 && l.protocol === 'HTTPS');
    state.listenerArn = https?.arn;
    state.certificates = https ? new Set(await this.ports.elbv2.describeListenerCertificates(https.arn)) : new Set();
  }

  // ---- Targeted reads between resyncs --------------------------------------------------------

  /** The zone, read once when first needed; refreshed by the resync afterwards. */
  async ensureZone(zoneId: string): Promise<ZoneState> {
    const known = this.zones.get(zoneId);
    if (known) return known;
    let loading = this.zoneLoads.get(zoneId);
    if (!loading) {
      loading = this.loadZone(zoneId).finally(() => this.zoneLoads.delete(zoneId));
      this.zoneLoads.set(zoneId, loading);
    }
    return loading;
  }

  /**
   * Re-reads a zone unless it was read within `maxAgeMs`; concurrent callers share one read.
   * Used before CREATEing records at a name the snapshot shows free: the resync may be minutes
   * old and someone else may have written there since.
   */
  async freshZone(zoneId: string, maxAgeMs: number): Promise<ZoneState> {
    const known = this.zones.get(zoneId);
    if (known && this.now() - known.loadedAt <= maxAgeMs) return known;
    let loading = this.zoneLoads.get(zoneId);
    if (!loading) {
      loading = this.loadZone(zoneId).finally(() => this.zoneLoads.delete(zoneId));
      this.zoneLoads.set(zoneId, loading);
    }
    return loading;
  }

  zoneAgeMs(zoneId: string): number {
    const known = this.zones.get(zoneId);
    return known ? this.now() - known.loadedAt : Infinity;
  }

  /** A certificate by ARN: from the snapshot, else asked once (and "not found" remembered briefly). */
  async ensureCertificate(arn: string): Promise<CertificateState | undefined> {
    const known = this.certificates.get(arn);
    if (known) return known;
    const missingUntil = this.missingCertificates.get(arn);
    if (missingUntil !== undefined && missingUntil > this.now()) return undefined;
    const detail = await this.ports.acm.describeCertificate(arn);
    if (!detail) {
      this.missingCertificates.set(arn, this.now() + 30_000);
      return undefined;
    }
    // Just described: the next look is one base interval away, not at once.
    const state: CertificateState = { arn, domainName: detail.domainName, status: detail.status, inUse: detail.inUse, describeFailures: 0, nextDescribeAt: this.now() + this.o.describeBaseMs };
    this.applyDetail(state, detail);
    this.certificates.set(arn, state);
    return state;
  }

  /**
   * DescribeCertificate when the snapshot lacks what the planner needs: validation records not
   * known yet, a certificate not ISSUED (issuance is watched with back-off), or `inUseBy` while
   * waiting for a deletion. An ISSUED certificate with its records makes no call.
   */
  async ensureCertificateDetail(arn: string, options: { needInUse?: boolean } = {}): Promise<CertificateState | undefined> {
    const state = await this.ensureCertificate(arn);
    if (!state) return undefined;
    const complete = state.validationRecords !== undefined && state.status === 'ISSUED' && !options.needInUse;
    const terminal = state.validationRecords !== undefined && isTerminal(state.status) && !options.needInUse;
    if (complete || terminal || state.nextDescribeAt > this.now()) return state;
    const detail = await this.ports.acm.describeCertificate(arn);
    if (!detail) {
      this.certificates.delete(arn);
      return undefined;
    }
    const before = state.status;
    const hadRecords = state.validationRecords !== undefined;
    this.applyDetail(state, detail);
    // Progress (a new status, or the validation records just filled in: the request's first
    // look) starts the back-off over; only a look that finds nothing new lengthens it.
    if (state.status !== before || (!hadRecords && state.validationRecords !== undefined)) state.describeFailures = 0;
    else state.describeFailures++;
    state.nextDescribeAt = this.now() + backoff(state.describeFailures, this.o.describeBaseMs, this.o.describeMaxMs);
    return state;
  }

  private applyDetail(state: CertificateState, detail: Awaited<ReturnType<AwsPorts['acm']['describeCertificate']>> & object): void {
    state.status = detail.status;
    state.domainName = detail.domainName;
    state.inUse = detail.inUse;
    state.inUseBy = detail.inUseBy;
    if (detail.failureReason) state.failureReason = detail.failureReason;
    else delete state.failureReason;
    // ACM fills records a few seconds after the request; until each domain has one, keep asking.
    if (detail.validationRecords.length > 0) state.validationRecords = detail.validationRecords;
  }

  /** When the next DescribeCertificate of `arn` is due (ms from now), for requeueing. */
  describeDueInMs(arn: string): number {
    const state = this.certificates.get(arn);
    return state ? Math.max(0, state.nextDescribeAt - this.now()) : 0;
  }

  /**
   * Certificates requested for `hostname` by the request with `uid`, found by their tags: how a
   * certificate is recovered when the request's status was lost. Tags are read once per ARN.
   */
  async findCertificateByTags(hostname: string, tagKey: string, uid: string): Promise<CertificateState | undefined> {
    const candidates = [...this.certificates.values()].filter((c) => c.domainName === hostname).sort((a, b) => a.arn.localeCompare(b.arn));
    for (const c of candidates) {
      c.tags ??= await this.ports.acm.listTags(c.arn);
      if (c.tags[tagKey] === uid) return c;
    }
    return undefined;
  }

  /**
   * The ALB behind a DNS name (a Gateway's address). A name no DescribeLoadBalancers could have
   * seen yet (none started since it was first asked for) is read at once: a new Gateway's ALB
   * is found as soon as its address shows. A name a read has already missed (not an ALB, or
   * AWS not showing it yet) is read again at most every loadBalancerMinIntervalMs.
   */
  async ensureLoadBalancer(dnsName: string): Promise<LoadBalancerState | undefined> {
    const known = this.loadBalancers.get(dnsName);
    if (known) {
      this.loadBalancerAskedAt.delete(dnsName);
      return known;
    }
    let askedAt = this.loadBalancerAskedAt.get(dnsName);
    if (askedAt === undefined) {
      askedAt = this.loadBalancerReadsStarted;
      this.loadBalancerAskedAt.set(dnsName, askedAt);
    }
    // A read under way may have started before the name was asked for: wait for it, then judge.
    if (this.loadBalancerRead) await this.loadBalancerRead;
    const found = this.loadBalancers.get(dnsName);
    if (found) return found;
    const unseen = this.loadBalancerReadsStarted === askedAt;
    if (unseen || this.loadBalancerDueInMs() === 0) {
      this.loadBalancerRead ??= this.readLoadBalancers().finally(() => (this.loadBalancerRead = undefined));
      await this.loadBalancerRead;
    }
    return this.loadBalancers.get(dnsName);
  }

  /** When ensureLoadBalancer reads again for a name the last read did not find (ms from now). */
  loadBalancerDueInMs(): number {
    return Math.max(0, this.lastLoadBalancerRead + this.o.loadBalancerMinIntervalMs - this.now());
  }

  /**
   * Re-reads the ALB's listener certificates while the planner waits for a change there (a
   * certificate added to or removed from the LoadBalancerConfiguration), with back-off. `settled`
   * tells it the listener shows what we wait for, which resets the back-off.
   */
  async pollListener(state: LoadBalancerState, settled: (certificates: ReadonlySet<string>) => boolean): Promise<void> {
    if (state.certificates && settled(state.certificates)) {
      state.listenerPolls = 0;
      return;
    }
    if (state.nextListenerReadAt > this.now()) return;
    // The requests placed on one Gateway come due together: they share one read (and it counts
    // once towards the back-off), instead of each reading and each lengthening the interval.
    state.listenerPoll ??= this.pollListenerOnce(state).finally(() => (state.listenerPoll = undefined));
    await state.listenerPoll;
    if (state.certificates && settled(state.certificates)) state.listenerPolls = 0;
  }

  private async pollListenerOnce(state: LoadBalancerState): Promise<void> {
    const before = state.certificates;
    await this.readListener(state);
    // Back off only while the listener does not change: a load balancer controller that is
    // attaching certificates (many requests placed on one Gateway) keeps the base interval.
    const changed = !sameSet(before, state.certificates);
    state.listenerPolls = changed ? 1 : state.listenerPolls + 1;
    if (changed && before !== undefined) this.options.onListenerChange?.(state);
    state.nextListenerReadAt = this.now() + backoff(state.listenerPolls - 1, this.o.listenerBaseMs, this.o.listenerMaxMs);
  }

  /**
   * We just changed what this ALB's listener should carry (a LoadBalancerConfiguration written):
   * poll it at the base interval again instead of the back-off its quiet spell built up.
   */
  expectListenerChange(dnsName: string): void {
    const state = this.loadBalancers.get(dnsName);
    if (!state) return;
    state.listenerPolls = 0;
    state.nextListenerReadAt = Math.min(state.nextListenerReadAt, this.now() + this.o.listenerBaseMs);
  }

  listenerDueInMs(state: LoadBalancerState): number {
    return Math.max(0, state.nextListenerReadAt - this.now());
  }

  // ---- Write-through from the applier --------------------------------------------------------

  recordChangesApplied(zoneId: string, changes: readonly RecordChange[]): void {
    this.zoneWrites.set(zoneId, (this.zoneWrites.get(zoneId) ?? 0) + 1);
    const zone = this.zones.get(zoneId);
    if (!zone) return;
    for (const { action, record } of changes) {
      const key = recordKey(record.name, record.type);
      if (action === 'DELETE') zone.records.delete(key);
      else zone.records.set(key, structuredClone(record));
    }
  }

  certificateRequested(arn: string, domainName: string, tags: Record<string, string>): void {
    this.certificateWrites++;
    this.missingCertificates.delete(arn);
    if (this.certificates.has(arn)) return;
    this.certificates.set(arn, { arn, domainName, status: 'PENDING_VALIDATION', inUse: false, tags, describeFailures: 0, nextDescribeAt: 0 });
  }

  certificateDeleted(arn: string): void {
    this.certificateWrites++;
    this.certificates.delete(arn);
  }

  /** Forget a zone (e.g. it failed to load) so the next use reads it again. */
  forgetZone(zoneId: string): void {
    this.zones.delete(zoneId);
  }
}

/** ELBv2's answer for a listener ARN that does not exist (SDK v3 name, or the bare code). */
export function isListenerNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, Code, code } = err as { name?: unknown; Code?: unknown; code?: unknown };
  return [name, Code, code].some((n) => n === 'ListenerNotFoundException' || n === 'ListenerNotFound');
}

/** Runs `fn` over `items`, at most `limit` at once; after an error no new item starts, and the first error surfaces once the running ones have settled. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.err;
}

export function isTerminal(status: CertificateStatus): boolean {
  return status === 'FAILED' || status === 'VALIDATION_TIMED_OUT' || status === 'REVOKED' || status === 'EXPIRED' || status === 'INACTIVE';
}
