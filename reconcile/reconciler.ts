// The reconciler's shell, running on the leader only: cache events and the periodic resync feed
// the work queue; a worker gathers what the planner needs for one request (caches plus the
// snapshot, filling its gaps with a few targeted reads), plans, applies, and plans again until
// nothing is left to change, then asks to be polled if it waits on AWS.
import type { DomainClaim, GatewayHostnameRequest, GatewayHostnameRequestStatus, HostnameGrant } from '../policy/api.js';
import { FINALIZER } from '../policy/api.js';
import type { PlatformConfig } from '../policy/config.js';
import { claimNameFor, grantNameFor } from '../policy/hostname.js';
import type { Caches } from '../server/caches.js';
import type { Logger } from '../server/log.js';
import type { KubeRest} from '../server/kube/rest.js';
import { isNotFound, paths } from '../server/kube/rest.js';
import { ClaimStore, claimWaitingSince } from '../server/admission/claims.js';
import { EventRecorder } from '../server/admission/events.js';
import { Applier, NotYetError, WriteOverlay, errorText } from './apply.js';
import { Route53Batcher } from './batch.js';
import { Observer, type CertificateState, type LoadBalancerState } from './observe.js';
import { describeChange, gatewayAddress, grantNamespaces, planRequest, TAG_REQUEST_UID, type Plan, type PlanInput } from './plan.js';
import { capacityPerGateway, poolKeyOf } from './placement.js';
import { PoolWriter } from './pool-writer.js';
import type { AwsPorts } from './ports.js';
import { WorkQueue } from './queue.js';
import { reconcileDuration, reconcileErrors, registerView, resyncsTotal } from './metrics.js';
import { GrantsByRequest, RequestIndex, grantRequestKey, requestKey } from './indexes.js';

export const REPORTING_CONTROLLER = 'gateway-orchestrator.io/reconciler';
const CLAIM_KEY_PREFIX = 'claim:';

export interface ReconcilerOptions {
  config: PlatformConfig;
  rest: KubeRest;
  caches: Caches;
  ports: AwsPorts;
  log: Logger;
  zoneNames: Map<string, string>;
  /** Overrides config.reconcile.resyncSeconds (tests). */
  resyncMs?: number;
  /** How long Route53 changes gather before one change batch (default 150 ms). */
  batchWindowMs?: number;
  /**
   * A zone read longer ago than this is re-read before records are CREATEd in it. Default: never
   * (Route53 refuses a CREATE at a name that exists, so a stale snapshot costs a refused batch and
   * then a re-read, not an overwrite). Tests against moto set 0: moto accepts such a CREATE.
   */
  zoneFreshMs?: number;
  /** Observer back-off tuning (tests). */
  observer?: { describeBaseMs?: number; listenerBaseMs?: number; loadBalancerMinIntervalMs?: number };
  /**
   * Which namespaces' requests (and their claims) this reconciler serves; default all. Like the
   * load balancer controller's watch namespace: lets tests share one cluster.
   */
  namespaces?: (namespace: string) => boolean;
  /** Called after every plan (tests, debugging). */
  onPlan?: (key: string, plan: Plan) => void;
}

export class Reconciler {
  readonly observer: Observer;
  readonly pool: PoolWriter;
  private readonly queue: WorkQueue;
  private readonly applier: Applier;
  private readonly batcher: Route53Batcher;
  private readonly events: EventRecorder;
  private readonly claimStore: ClaimStore;
  private readonly claimOverlay = new WriteOverlay<DomainClaim>();
  private readonly grantOverlay = new WriteOverlay<HostnameGrant>(30_000, grantRequestKey);
  /** The requests this reconciler serves, by key, hostname and validation names (from cache events). */
  private readonly served = new RequestIndex<GatewayHostnameRequest>();
  /**
   * Per request key, our last write to it, until the cache shows it: its watch echo is recognised
   * by resourceVersion, and a reconcile that starts before the echo arrives plans on it, not on
   * the older cached copy (which would repeat the last step's status write and Events).
   */
  private readonly lastWritten = new Map<string, GatewayHostnameRequest>();
  /** Cached grant names by the request they name (from cache events). */
  private readonly grantsByRequest = new GrantsByRequest();
  private running = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  private resyncCount = 0;
  private unregisterMetrics: (() => void) | undefined;
  private readonly log: Logger;
  private readonly zoneFreshMs: number;

  constructor(private readonly o: ReconcilerOptions) {
    const { config, rest, caches, ports } = o;
    this.log = o.log;
    // Not re-read by default: a whole-zone read is records/300 pages against a Route53 budget of
    // 5 calls/s shared by the account (51 pages at 15,000 records), while a CREATE is atomic.
    this.zoneFreshMs = o.zoneFreshMs ?? Infinity;
    if (o.namespaces) this.log.warn('serving only some namespaces (test setting)');
    this.observer = new Observer(ports, {
      ...o.observer,
      onZone: (z) => o.zoneNames.set(z.id, z.name),
      onListenerChange: (lb) => this.listenerChanged(lb.lb.dnsName),
    });
    this.batcher = new Route53Batcher({
      route53: ports.route53,
      ...(o.batchWindowMs !== undefined ? { windowMs: o.batchWindowMs } : {}),
      onApplied: (zoneId, changes) => this.observer.recordChangesApplied(zoneId, changes),
    });
    this.pool = new PoolWriter({
      rest,
      config,
      log: o.log.child({ component: 'pool' }),
      namespacesOf: (p) => {
        const r = caches.requests.get(p.request, p.namespace);
        return r && r.metadata.uid === p.requestUID ? grantNamespaces(r) : [p.namespace];
      },
      gatewayFromCache: (name) => caches.gateways.get(name, config.pool.namespace),
      lbConfigFromCache: (name) => caches.lbConfigs.get(name, config.pool.namespace),
      // The controller will reprogram that ALB's listener: look at it again soon.
      onLbConfigWritten: (name) => {
        const address = gatewayAddress(this.pool.gateway(name));
        if (address) this.observer.expectListenerChange(address);
      },
    });
    this.events = new EventRecorder(rest, o.log.child({ component: 'events' }), REPORTING_CONTROLLER);
    this.claimStore = new ClaimStore(rest);
    this.applier = new Applier({
      rest,
      config,
      ports,
      observer: this.observer,
      batcher: this.batcher,
      pool: this.pool,
      claims: this.claimStore,
      events: this.events,
      log: o.log,
      claimOverlay: this.claimOverlay,
      grantOverlay: this.grantOverlay,
    });
    this.queue = new WorkQueue({
      concurrency: config.reconcile.concurrency,
      worker: (key) => this.timed(key),
      onError: (key, err, retryInMs) => {
        reconcileErrors.inc({ kind: key.startsWith(CLAIM_KEY_PREFIX) ? 'claim' : 'request' });
        this.log.warn({ key, err: errorText(err), retryInMs }, 'reconcile failed; retrying with back-off');
      },
    });
    // The indexes follow the caches from here on: seeded with what they hold now (the caches
    // have usually synced before the reconciler is made), then kept by their events.
    for (const r of caches.requests.list()) if (this.serves(r)) this.served.update('add', r);
    for (const g of caches.grants.list()) this.grantsByRequest.update('add', g);
    caches.grants.on((event, g) => this.grantsByRequest.update(event, g));
    caches.requests.on((event, r) => {
      if (!this.serves(r)) return;
      this.served.update(event, r);
      if (!this.running) return;
      const key = requestKey(r);
      if (event === 'delete') {
        this.queue.forget(key);
        this.lastWritten.delete(key);
        return;
      }
      // The watch echo of our own last write: planned on already (each step plans again on
      // what it wrote); it must not cut short the request's wait.
      const mine = this.lastWritten.get(key);
      if (mine && r.metadata?.resourceVersion) {
        const seen = r.metadata.resourceVersion;
        if (seen === mine.metadata.resourceVersion) {
          this.lastWritten.delete(key);
          return;
        }
        if (newest(mine, r) === r) this.lastWritten.delete(key);
      }
      this.queue.add(key);
    });
    const onPoolObject = (_: string, obj: { metadata?: { name?: string } }) => {
      if (!this.running) return;
      const g = this.pool.all.find((x) => x.name === obj.metadata?.name);
      for (const p of g?.placements ?? []) this.queue.add(`${p.namespace}/${p.request}`, { followUp: true });
    };
    caches.gateways.on(onPoolObject);
    caches.lbConfigs.on(onPoolObject);
    caches.claims.on((event, claim) => {
      if (!this.running || !this.servesNamespace(claim.spec.requestRef.namespace)) return;
      if (event !== 'delete') this.queue.add(CLAIM_KEY_PREFIX + (claim.metadata?.name ?? ''));
      // A request waiting on this hostname (or whose claim vanished) gets another look.
      for (const key of this.served.keysWithHostname(claim.spec.hostname)) this.queue.add(key, { followUp: true });
    });
  }

  /** The requests placed on the Gateway behind this ALB get another look now. */
  private listenerChanged(dnsName: string): void {
    if (!this.running) return;
    for (const g of this.pool.all) {
      if (gatewayAddress(this.pool.gateway(g.name)) !== dnsName) continue;
      for (const p of g.placements) this.queue.add(`${p.namespace}/${p.request}`, { followUp: true });
    }
  }

  private servesNamespace(namespace: string | undefined): boolean {
    return !this.o.namespaces || this.o.namespaces(namespace ?? '');
  }

  private serves(r: { metadata?: { namespace?: string } }): boolean {
    return this.servesNamespace(r.metadata?.namespace);
  }

  /** The requests this reconciler serves (from its index: no copy of the whole cache per call). */
  private requests(): GatewayHostnameRequest[] {
    return [...this.served.values()];
  }

  private async timed(key: string): Promise<{ requeueAfterMs?: number }> {
    const end = reconcileDuration.startTimer();
    try {
      const result = key.startsWith(CLAIM_KEY_PREFIX) ? await this.reconcileClaim(key.slice(CLAIM_KEY_PREFIX.length)) : await this.reconcile(key);
      end({ result: result.requeueAfterMs !== undefined ? 'waiting' : 'done' });
      return result;
    } catch (err) {
      end({ result: 'error' });
      throw err;
    }
  }

  /** Starts work (leadership gained): rebuild the pool from the cluster, read AWS, enqueue all. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unregisterMetrics ??= registerView({
      queueReady: () => this.queue.length,
      queueDelayed: () => this.queue.pendingDelayed,
      requests: () => this.requests(),
      pool: () => this.pool.all,
      capacityPerGateway: capacityPerGateway(this.o.config.pool),
      now: () => Date.now(),
    });
    this.queue.resume();
    this.pool.load(this.o.caches.lbConfigs.list(this.o.config.pool.namespace));
    void this.resync();
  }

  /** Stops work (leadership lost or shutdown); waits for running workers. */
  async stop(): Promise<void> {
    this.running = false;
    this.unregisterMetrics?.();
    this.unregisterMetrics = undefined;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    await this.queue.stop();
    await this.resyncing?.catch(() => undefined);
    await this.batcher.drain();
    await this.events.drain();
  }

  get resyncs(): number {
    return this.resyncCount;
  }

  /** Waits until queued work is done (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** The periodic full pass: refresh the snapshot, repair the pool objects, enqueue everything. */
  resync(): Promise<void> {
    if (this.resyncing) return this.resyncing;
    this.resyncing = this.doResync().finally(() => {
      this.resyncing = undefined;
      if (this.running) {
        const ms = this.o.resyncMs ?? this.o.config.reconcile.resyncSeconds * 1000;
        if (this.resyncTimer) clearTimeout(this.resyncTimer);
        this.resyncTimer = setTimeout(() => void this.resync(), ms);
        this.resyncTimer.unref();
      }
    });
    return this.resyncing;
  }

  private async doResync(): Promise<void> {
    const { caches, config } = this.o;
    const requests = this.requests();
    const zoneIds = new Set(requests.map((r) => r.spec.zoneId).filter(Boolean));
    const lbDns = new Set<string>();
    for (const g of this.pool.all) {
      const address = gatewayAddress(this.pool.gateway(g.name));
      if (address) lbDns.add(address);
    }
    try {
      await this.observer.refresh({ zoneIds, loadBalancerDnsNames: lbDns });
      this.resyncCount++;
      resyncsTotal.inc({ outcome: 'success' });
    } catch (err) {
      resyncsTotal.inc({ outcome: 'error' });
      this.log.warn({ err: errorText(err) }, 'resync could not read AWS; retrying soon');
      if (this.running) setTimeout(() => void this.resync(), 5_000).unref();
      return;
    }
    if (!this.running) return;
    for (const g of this.pool.all) await this.pool.ensure(g.name).catch((err: unknown) => this.log.warn({ gateway: g.name, err: errorText(err) }, 'pool object repair failed'));
    for (const r of requests) this.queue.add(requestKey(r));
    for (const c of caches.claims.list()) if (this.servesNamespace(c.spec.requestRef.namespace)) this.queue.add(CLAIM_KEY_PREFIX + (c.metadata?.name ?? ''));
    this.log.debug({ requests: requests.length, zones: zoneIds.size, gateways: this.pool.all.length, pool: config.pool.namespace }, 'resync');
  }

  // ---- One request -------------------------------------------------------------------------------

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [ns, name] = key.split('/') as [string, string];
    const cached = this.o.caches.requests.get(name, ns);
    if (!cached || !this.serves(cached)) return {};
    const mine = this.lastWritten.get(key);
    let request: GatewayHostnameRequest = mine && mine.metadata.uid === cached.metadata.uid ? (newest(cached, mine) ?? cached) : cached;
    if (request.metadata.deletionTimestamp) {
      // A watch that lags can still show a request we already finished deleting, while a new one
      // of the same name (a successor) holds the claim and grants that name namespace/name. Its
      // cleanup must only run while the request itself (this UID) still exists.
      const live = await this.readRequest(ns, name);
      if (!live || live.metadata.uid !== request.metadata.uid) {
        this.log.debug({ key, uid: request.metadata.uid, liveUid: live?.metadata.uid }, 'deleted request already gone; the cache is behind');
        return {};
      }
      request = newest(live, request) ?? live;
    }
    let zoneReread = false;
    let previous = '';
    // The status of the steps applied in this pass and not written yet: each step plans on it, and
    // the last step writes it (one status write per pass, not one per step).
    let pendingStatus: GatewayHostnameRequestStatus | undefined;
    for (let step = 0; step < 12; step++) {
      if (!this.running) return {};
      const planned: GatewayHostnameRequest = pendingStatus ? { ...request, status: pendingStatus } : request;
      const input = await this.gather(planned);
      const plan = planRequest(input);
      // About to CREATE at a name the snapshot shows free: make sure the zone is recent first
      // (only where CREATE is not atomic, as in moto; see zoneFreshMs).
      if (!zoneReread && creates(plan) && this.observer.zoneAgeMs(request.spec.zoneId) > this.zoneFreshMs) {
        zoneReread = true;
        await this.observer.freshZone(request.spec.zoneId, this.zoneFreshMs);
        continue;
      }
      this.o.onPlan?.(key, plan);
      let outcome;
      try {
        // `request` is what the API server has: the status is compared against it, and written.
        outcome = await this.applier.apply(request, plan, { deferStatus: plan.changes.length > 0 });
      } catch (err) {
        if (err instanceof NotYetError) return { requeueAfterMs: err.retryAfterMs };
        // A refused change batch may mean the zone holds what our snapshot does not: re-read it.
        if (plan.changes.some((c) => c.kind === 'changeRecords')) this.observer.forgetZone(request.spec.zoneId);
        throw err;
      }
      this.noteWritten(key, outcome.request);
      if (outcome.finalizerRemoved) return {};
      if (plan.changes.length === 0) {
        // The request's Gateway follows changes that are not placements (additionalNamespaces).
        if (input.placement && !request.metadata.deletionTimestamp) await this.pool.ensure(input.placement.gateway);
        const next = this.waitFor(plan, input);
        if (plan.wait) this.log.debug({ key, wait: plan.wait, requeueAfterMs: next.requeueAfterMs }, 'waiting');
        return next;
      }
      // The same changes twice in a row: what we wrote did not show up where we read. Back off
      // instead of writing in a loop.
      const summary = plan.changes.map(describeChange).join('\n');
      if (summary === previous) throw new Error(`changes did not take effect: ${summary}`);
      previous = summary;
      // Plan again on what we just wrote: the snapshot is written through, the request is fresh.
      pendingStatus = outcome.deferredStatus;
      const latest = newest(this.o.caches.requests.get(name, ns), request) ?? request;
      request = newest(outcome.request, latest) ?? latest;
    }
    if (pendingStatus) await this.writeStatus(key, request, pendingStatus);
    return { requeueAfterMs: 1_000 };
  }

  /** Remembers our last write to a request: its watch echo is recognised, and passes plan on it until the cache has it. */
  private noteWritten(key: string, written: GatewayHostnameRequest | undefined): void {
    if (written?.metadata?.resourceVersion) this.lastWritten.set(key, written);
  }

  private async writeStatus(key: string, request: GatewayHostnameRequest, status: GatewayHostnameRequestStatus): Promise<void> {
    this.noteWritten(key, await this.applier.flushStatus(request, status));
  }

  private waitFor(plan: Plan, input: PlanInput): { requeueAfterMs?: number } {
    const arn = input.certificate?.arn;
    switch (plan.wait) {
      case 'certificate':
      case 'validation-records':
      case 'certificate-in-use':
        return { requeueAfterMs: Math.max(500, arn ? this.observer.describeDueInMs(arn) : 2_000) };
      case 'listener':
        return { requeueAfterMs: Math.max(500, input.loadBalancer ? this.observer.listenerDueInMs(input.loadBalancer) : 2_000) };
      case 'gateway':
        // The Gateway's events (an address, a configuration) bring the request back sooner.
        return { requeueAfterMs: 5_000 };
      case 'load-balancer':
        return { requeueAfterMs: Math.max(500, this.observer.loadBalancerDueInMs()) };
      case 'claim':
        return { requeueAfterMs: 2_000 };
      default:
        return {};
    }
  }

  /** What the planner needs for one request. No AWS call before the claim is known to be ours. */
  private async gather(request: GatewayHostnameRequest): Promise<PlanInput> {
    const { config } = this.o;
    const hostname = request.spec.hostname;
    const uid = request.metadata.uid ?? '';
    const ns = request.metadata.namespace ?? '';
    const name = request.metadata.name ?? '';
    const deleting = !!request.metadata.deletionTimestamp;
    const claim = await this.claimOf(hostname);
    const placement = this.pool.find(uid);
    const gatewayName = placement?.gateway ?? request.status?.assignedGateway?.name;
    const gateway = gatewayName ? this.pool.gateway(gatewayName) : undefined;
    const lbConfig = gatewayName ? this.pool.lbConfig(gatewayName) : undefined;
    const input: PlanInput = {
      request,
      config,
      now: new Date(),
      claim,
      grants: this.grantsOf(ns, name, new Set(grantNamespaces(request).map((n) => grantNameFor(hostname, n)))),
      zone: undefined,
      certificate: undefined,
      poolKey: poolKeyOf(request, config.defaults),
      placement,
      gateway,
      lbConfig,
      loadBalancer: undefined,
      validationNamesInUse: new Set(),
    };
    const ours = claim && claim.spec.requestRef.namespace === ns && claim.spec.requestRef.name === name;
    if (deleting && !(request.metadata.finalizers ?? []).includes(FINALIZER)) return input;
    if (!ours && !deleting) return input;
    if (deleting) input.validationNamesInUse = this.validationNamesInUse(request, undefined, uid);
    if (!ours && claim) {
      // Denied and being deleted: only what is provably its own (by ARN), nothing by hostname.
      const arn = request.status?.certificateArn ?? placement?.entry.certificateArn;
      const requested = (request.status?.conditions ?? []).some((x) => x.type === 'CertificateRequested' && x.reason !== 'Waiting');
      if (!arn && !placement && !requested) return input; // never got anything: no AWS call at all
      let c = arn ? await this.observer.ensureCertificate(arn) : undefined;
      if (c && c.tags && c.tags[TAG_REQUEST_UID] !== uid) c = undefined;
      // Its own by the UID tag, even when the status lost the ARN.
      c ??= await this.observer.findCertificateByTags(hostname, TAG_REQUEST_UID, uid);
      if (c) input.certificate = await this.observer.ensureCertificateDetail(c.arn, { needInUse: !placement });
    } else {
      const zone = await this.observer.ensureZone(request.spec.zoneId);
      input.zone = zone;
      if (!zone.zone) return input;
      input.certificate = await this.certificateOf(request, placement?.entry.certificateArn, deleting && !placement);
      if (deleting) input.validationNamesInUse = this.validationNamesInUse(request, input.certificate, uid);
    }
    const address = gatewayAddress(gateway);
    const lb: LoadBalancerState | undefined = address ? await this.observer.ensureLoadBalancer(address) : undefined;
    input.loadBalancer = lb;
    const arn = input.certificate?.arn;
    if (lb && arn) {
      if (deleting && !placement) await this.observer.pollListener(lb, (certs) => !certs.has(arn));
      else if (placement && placement.entry.certificateArn === arn && lbConfig) await this.observer.pollListener(lb, (certs) => certs.has(arn));
    }
    return input;
  }

  /** The request's certificate: by status, by placement, else by its tags; detail as needed. */
  private async certificateOf(request: GatewayHostnameRequest, placedArn: string | undefined, needInUse: boolean): Promise<CertificateState | undefined> {
    const hostname = request.spec.hostname;
    const uid = request.metadata.uid ?? '';
    let found: CertificateState | undefined;
    for (const arn of [request.status?.certificateArn, placedArn]) {
      if (!arn) continue;
      const c = await this.observer.ensureCertificate(arn);
      if (c && c.domainName === hostname && (!c.tags || c.tags[TAG_REQUEST_UID] === uid)) {
        found = c;
        break;
      }
    }
    found ??= await this.observer.findCertificateByTags(hostname, TAG_REQUEST_UID, uid);
    if (!found) return undefined;
    return this.observer.ensureCertificateDetail(found.arn, { needInUse });
  }

  private async claimOf(hostname: string): Promise<DomainClaim | undefined> {
    const name = claimNameFor(hostname);
    const written = this.claimOverlay.get(name);
    const cached = this.o.caches.claims.get(name);
    if (written === null) return undefined;
    const best = newest(written ?? undefined, cached);
    if (best) return best;
    // Not in the cache: the webhook may have created it a moment ago. Ask the API server.
    return this.claimStore.read(hostname);
  }

  /**
   * The grants that name the request `ns/name` or have one of the `wanted` names: the cache
   * overlaid with what we wrote recently (newest wins, a recent delete hides the cached one).
   * Looked up through the indexes: O(grants of this request), not O(all grants).
   */
  private grantsOf(ns: string, name: string, wanted: ReadonlySet<string>): HostnameGrant[] {
    const key = `${ns}/${name}`;
    const names = new Set<string>(wanted);
    for (const n of this.grantsByRequest.namesOf(key)) names.add(n);
    for (const n of this.grantOverlay.namesFiledUnder(key)) names.add(n);
    const out: HostnameGrant[] = [];
    for (const n of names) {
      const written = this.grantOverlay.get(n);
      if (written === null) continue;
      const g = newest(written, this.o.caches.grants.get(n));
      if (g && ((g.spec.requestRef?.namespace === ns && g.spec.requestRef.name === name) || wanted.has(n))) out.push(g);
    }
    return out;
  }

  /**
   * Of the validation record names a deleting request would remove (its status's and its
   * certificate's), those another live request of ours still needs.
   */
  private validationNamesInUse(request: GatewayHostnameRequest, certificate: CertificateState | undefined, exceptUid: string): Set<string> {
    const names = [...(certificate?.validationRecords ?? []), ...(request.status?.validationRecords ?? [])].map((v) => v.name);
    return this.served.validationNamesInUse(names, exceptUid);
  }

  // ---- Orphan claims ------------------------------------------------------------------------------

  /**
   * A claim whose request never came to exist (the webhook claimed, then the create failed later
   * in admission) is released after the grace period. Claims of existing requests are left alone.
   */
  private async reconcileClaim(claimName: string): Promise<{ requeueAfterMs?: number }> {
    const claim = this.o.caches.claims.get(claimName);
    if (!claim) return {};
    const ref = claim.spec.requestRef;
    if (this.o.caches.requests.get(ref.name, ref.namespace)) return {};
    const graceMs = this.o.config.reconcile.claimGraceSeconds * 1000;
    const age = Date.now() - claimWaitingSince(claim);
    if (!(age >= graceMs)) return { requeueAfterMs: Math.max(500, graceMs - age) };
    if (await this.readRequest(ref.namespace, ref.name)) return {}; // exists after all (the cache lags)
    const released = await this.claimStore.releaseOrphan(claim.spec.hostname, ref.namespace, ref.name, graceMs);
    if (released) this.log.info({ hostname: claim.spec.hostname, request: `${ref.namespace}/${ref.name}` }, 'released orphan claim');
    return {};
  }

  /** The request as the API server has it now (not the cache). */
  private async readRequest(namespace: string, name: string): Promise<GatewayHostnameRequest | undefined> {
    try {
      return await this.o.rest.get<GatewayHostnameRequest>(paths.requests(namespace, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** The plan creates DNS records (a name it believes free). */
function creates(plan: Plan): boolean {
  return plan.changes.some((c) => c.kind === 'changeRecords' && c.changes.some((r) => r.action === 'CREATE'));
}

function newest<T extends { metadata?: { resourceVersion?: string } }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a) return b;
  if (!b) return a;
  return Number(b.metadata?.resourceVersion ?? 0) > Number(a.metadata?.resourceVersion ?? 0) ? b : a;
}
