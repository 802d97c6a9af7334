// A stand-in for the AWS Load Balancer Controller, for local runs and tests against moto only.
// It does, for Gateways, what the controller documents: for each Gateway of an ALB
// GatewayClass (controllerName gateway.k8s.aws/alb) it provisions an ALB shaped by the
// LoadBalancerConfiguration named in spec.infrastructure.parametersRef, keeps the HTTPS:443
// listener's certificates exactly as that configuration lists them, writes the Gateway's
// status (address, Accepted, Programmed), and deletes the ALB when the Gateway is gone.
// Level-triggered: every pass lists Gateways, configurations and tagged ALBs and converges,
// so conflicts, restarts and missed events heal on the next pass (once a second by default).
// Like the controller, which reconciles a Gateway when it or its configuration changes, a pass
// programs only the Gateways whose inputs changed since they were last programmed; a full pass
// (every Gateway, whatever changed) comes every `fullPassEveryMs` and heals drift in AWS.

import { forEachLimit } from '../../reconcile/observe.js';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { log as rootLog, type Logger } from '../../server/log.js';
import { CertificateNotReadyError, StandInAws, loadBalancerNameFor, type DesiredLoadBalancer, type OwnedLoadBalancer, type StandInAwsConfig } from './aws.js';

export const ALB_CONTROLLER_NAME = 'gateway.k8s.aws/alb';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const GATEWAY_VERSION = 'v1';
const LBC_GROUP = 'gateway.k8s.aws';
const LBC_VERSION = 'v1beta1';
const LBC_KIND = 'LoadBalancerConfiguration';
const LBC_PLURAL = 'loadbalancerconfigurations';
const HTTPS_443 = 'HTTPS:443';

export interface StandInOptions {
  kubeConfig: KubeConfig;
  aws: StandInAwsConfig;
  /** GatewayClasses with this spec.controllerName are served; default gateway.k8s.aws/alb. */
  controllerName?: string;
  /** GatewayClass names served even without a GatewayClass object. */
  gatewayClassNames?: string[];
  /** Serve only this namespace's Gateways and ALBs (like the controller's --watch-namespace); default all. */
  namespace?: string;
  /** Pause between passes; default 1000 ms. */
  intervalMs?: number;
  /** A pass that programs every Gateway, changed or not, at least this often; default 30 passes. */
  fullPassEveryMs?: number;
  /**
   * Gateways programmed at once in a pass; default 3. The controller reconciles objects in a few
   * parallel workers (controller-runtime; `--ingress-max-concurrent-reconciles` defaults to 3); one
   * Gateway after another, a pass over 200 Gateways took longer than the pauses between passes.
   */
  concurrency?: number;
  log?: Logger;
  /** Injectable for tests; default Date. */
  now?: () => Date;
}

interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
}

interface GatewayCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

interface Gateway {
  metadata: Meta;
  spec?: {
    gatewayClassName?: string;
    infrastructure?: { parametersRef?: { group?: string; kind?: string; name?: string } };
  };
  status?: { addresses?: Array<{ type?: string; value: string }>; conditions?: GatewayCondition[] };
}

interface ListenerConfiguration {
  protocolPort?: string;
  defaultCertificate?: string;
  certificates?: string[];
}

interface LoadBalancerConfiguration {
  metadata: Meta;
  spec?: {
    loadBalancerName?: string;
    scheme?: string;
    ipAddressType?: string;
    listenerConfigurations?: ListenerConfiguration[];
  };
}

export interface SyncReport {
  /** Whether every Gateway was programmed, or only those whose inputs changed. */
  full: boolean;
  gateways: string[];
  /** Gateways left alone: inputs unchanged since they were programmed. */
  unchanged: string[];
  created: string[];
  deleted: string[];
  statusWritten: string[];
  errors: Array<{ gateway: string; error: string }>;
}

interface GatewayOutcome {
  accepted: { ok: boolean; reason: string; message: string };
  programmed: { ok: boolean; reason: string; message: string };
  dnsName?: string;
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown; statusCode?: unknown })?.code ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** What programming a Gateway depends on: the Gateway's spec, its configuration, its ALBs. */
function gatewayInputs(gateway: Gateway, configurations: Map<string, LoadBalancerConfiguration>, existing: OwnedLoadBalancer[]): string {
  const ref = gateway.spec?.infrastructure?.parametersRef;
  const config = ref?.name ? configurations.get(key(gateway.metadata.namespace ?? '', ref.name)) : undefined;
  return JSON.stringify([gateway.metadata.uid, gateway.metadata.generation, config?.metadata.uid, config?.metadata.resourceVersion, existing.map((lb) => lb.arn)]);
}

/** What the LoadBalancerConfiguration asks of the ALB; the controller's defaults where it is silent. */
export function desiredFromConfiguration(
  gateway: { namespace: string; name: string },
  config: LoadBalancerConfiguration['spec'] | undefined,
): { loadBalancer: DesiredLoadBalancer; defaultCertificate?: string; certificates: string[] } {
  const scheme = config?.scheme === 'internet-facing' ? 'internet-facing' : 'internal';
  const ipAddressType =
    config?.ipAddressType === 'dualstack' || config?.ipAddressType === 'dualstack-without-public-ipv4' ? config.ipAddressType : 'ipv4';
  const listener = config?.listenerConfigurations?.find((l) => l.protocolPort === HTTPS_443);
  const certificates = [...new Set(listener?.certificates ?? [])];
  const defaultCertificate = listener?.defaultCertificate ?? certificates[0];
  const loadBalancer = { gateway, name: config?.loadBalancerName ?? loadBalancerNameFor(gateway.namespace, gateway.name), scheme, ipAddressType } as const;
  return defaultCertificate
    ? { loadBalancer, defaultCertificate, certificates: certificates.filter((c) => c !== defaultCertificate) }
    : { loadBalancer, certificates };
}

export class AwsLoadBalancerControllerStandIn {
  readonly aws: StandInAws;
  private readonly api: CustomObjectsApi;
  private readonly controllerName: string;
  private readonly classNames: ReadonlySet<string>;
  private readonly namespace: string | undefined;
  private readonly intervalMs: number;
  private readonly fullPassEveryMs: number;
  private readonly concurrency: number;
  /** Per Gateway: the inputs it was last programmed from (successfully). */
  private readonly programmedFrom = new Map<string, string>();
  private lastFullPassAt = -Infinity;
  private readonly log: Logger;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(options: StandInOptions) {
    this.aws = new StandInAws(options.aws);
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.controllerName = options.controllerName ?? ALB_CONTROLLER_NAME;
    this.classNames = new Set(options.gatewayClassNames ?? []);
    this.namespace = options.namespace;
    this.intervalMs = options.intervalMs ?? 1000;
    this.fullPassEveryMs = options.fullPassEveryMs ?? 30 * this.intervalMs;
    this.concurrency = Math.max(1, options.concurrency ?? 3);
    this.log = (options.log ?? rootLog).child({ component: 'lbc-standin' });
    this.now = options.now ?? (() => new Date());
  }

  /** Runs a pass now and then every intervalMs until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      this.running = this.syncOnce().catch((err: unknown) => this.log.warn({ err }, 'stand-in pass failed; retrying'));
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.intervalMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.aws.destroy();
  }

  /**
   * One level-triggered pass over every served Gateway and every ALB the stand-in owns. Gateways
   * whose inputs did not change since they were programmed are left alone, unless the pass is a
   * full one (`full`, or the last full pass is `fullPassEveryMs` old).
   */
  async syncOnce(options: { full?: boolean } = {}): Promise<SyncReport> {
    const startedAt = Date.now();
    const full = options.full ?? startedAt - this.lastFullPassAt >= this.fullPassEveryMs;
    if (full) this.lastFullPassAt = startedAt;
    const report: SyncReport = { full, gateways: [], unchanged: [], created: [], deleted: [], statusWritten: [], errors: [] };
    const classes = await this.servedClasses();
    const gateways = (await this.listAll<Gateway>(GATEWAY_GROUP, GATEWAY_VERSION, 'gateways')).filter(
      (g) => g.metadata.namespace && classes.has(g.spec?.gatewayClassName ?? '') && !g.metadata.deletionTimestamp,
    );
    const configurations = new Map(
      (await this.listAll<LoadBalancerConfiguration>(LBC_GROUP, LBC_VERSION, LBC_PLURAL)).map((c) => [key(c.metadata.namespace ?? '', c.metadata.name), c]),
    );
    const owned = (await this.aws.listOwnedLoadBalancers()).filter((lb) => !this.namespace || lb.gateway.namespace === this.namespace);
    const ownedByGateway = new Map<string, OwnedLoadBalancer[]>();
    for (const lb of owned) {
      const k = key(lb.gateway.namespace, lb.gateway.name);
      ownedByGateway.set(k, [...(ownedByGateway.get(k) ?? []), lb]);
    }

    await forEachLimit(gateways, this.concurrency, async (gateway) => {
      const namespace = gateway.metadata.namespace!;
      const k = key(namespace, gateway.metadata.name);
      report.gateways.push(k);
      const existing = ownedByGateway.get(k) ?? [];
      ownedByGateway.delete(k);
      const inputs = gatewayInputs(gateway, configurations, existing);
      if (!full && this.programmedFrom.get(k) === inputs) {
        report.unchanged.push(k);
        return;
      }
      this.programmedFrom.delete(k);
      let outcome: GatewayOutcome;
      try {
        outcome = await this.syncGateway(gateway, configurations, existing, report);
      } catch (err) {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        report.errors.push({ gateway: k, error: message });
        this.log.warn({ gateway: k, err }, 'stand-in could not program the Gateway');
        outcome = {
          accepted: { ok: true, reason: 'Accepted', message: 'accepted by the load-balancer stand-in' },
          programmed: { ok: false, reason: 'Pending', message },
          ...(existing[0] ? { dnsName: existing[0].dnsName } : {}),
        };
      }
      try {
        if (await this.writeStatus(gateway, outcome)) report.statusWritten.push(k);
        // Only a Gateway programmed as configured is skipped later: one that failed or waits
        // (a certificate not ISSUED yet) is tried again on every pass.
        if (outcome.accepted.ok && outcome.programmed.ok) this.programmedFrom.set(k, inputs);
      } catch (err) {
        // A conflict or a Gateway deleted meanwhile: the next pass sees the new state.
        report.errors.push({ gateway: k, error: `status: ${err instanceof Error ? err.message : String(err)}` });
      }
    });

    const served = new Set(gateways.map((g) => key(g.metadata.namespace!, g.metadata.name)));
    for (const k of this.programmedFrom.keys()) if (!served.has(k)) this.programmedFrom.delete(k);
    // ALBs whose Gateway is gone (or no longer ours): the controller deletes them.
    for (const [k, lbs] of ownedByGateway) {
      for (const lb of lbs) {
        await this.aws.deleteLoadBalancer(lb.arn);
        report.deleted.push(`${k} ${lb.name}`);
        this.log.info({ gateway: k, loadBalancer: lb.name }, 'stand-in deleted the ALB of a Gateway that is gone');
      }
    }
    const programmed = report.gateways.length - report.unchanged.length;
    if (programmed > 0 || report.deleted.length > 0) {
      this.log.debug({ full, programmed, unchanged: report.unchanged.length, statusWritten: report.statusWritten.length, errors: report.errors.length, ms: Date.now() - startedAt }, 'stand-in pass');
    }
    return report;
  }

  private async syncGateway(
    gateway: Gateway,
    configurations: Map<string, LoadBalancerConfiguration>,
    existing: OwnedLoadBalancer[],
    report: SyncReport,
  ): Promise<GatewayOutcome> {
    const namespace = gateway.metadata.namespace!;
    const name = gateway.metadata.name;
    const ref = gateway.spec?.infrastructure?.parametersRef;
    let config: LoadBalancerConfiguration | undefined;
    if (ref) {
      if (ref.group !== LBC_GROUP || ref.kind !== LBC_KIND || !ref.name) {
        return this.rejected(`parametersRef must name a ${LBC_KIND} of group ${LBC_GROUP}`);
      }
      config = configurations.get(key(namespace, ref.name));
      if (!config) return this.rejected(`${LBC_KIND} ${namespace}/${ref.name} not found`);
    }
    const desired = desiredFromConfiguration({ namespace, name }, config?.spec);
    const [first, ...duplicates] = existing;
    for (const extra of duplicates) await this.aws.deleteLoadBalancer(extra.arn);
    const lb = await this.aws.ensureLoadBalancer(desired.loadBalancer, first);
    if (lb.arn !== first?.arn) {
      report.created.push(`${key(namespace, name)} ${lb.name}`);
      this.log.info({ gateway: key(namespace, name), loadBalancer: lb.name, dnsName: lb.dnsName }, 'stand-in created an ALB');
    }
    const accepted = { ok: true, reason: 'Accepted', message: 'accepted by the load-balancer stand-in' };
    try {
      const listener = await this.aws.syncHttpsListener(lb.arn, {
        ...(desired.defaultCertificate ? { defaultCertificate: desired.defaultCertificate } : {}),
        certificates: desired.certificates,
      });
      const count = desired.defaultCertificate ? 1 + desired.certificates.length : 0;
      const message = listener ? `ALB ${lb.name} with ${count} certificate(s) on HTTPS:443` : `ALB ${lb.name}; no HTTPS:443 listener (no certificate configured)`;
      return { accepted, programmed: { ok: true, reason: 'Programmed', message }, dnsName: lb.dnsName };
    } catch (err) {
      if (!(err instanceof CertificateNotReadyError)) throw err;
      // Like the real controller: one certificate ELBv2 refuses stalls the whole listener.
      return { accepted, programmed: { ok: false, reason: 'Pending', message: err.message }, dnsName: lb.dnsName };
    }
  }

  private rejected(message: string): GatewayOutcome {
    return { accepted: { ok: false, reason: 'InvalidParameters', message }, programmed: { ok: false, reason: 'Invalid', message } };
  }

  private async servedClasses(): Promise<Set<string>> {
    const served = new Set(this.classNames);
    const classes = await this.listAll<{ metadata: Meta; spec?: { controllerName?: string } }>(GATEWAY_GROUP, GATEWAY_VERSION, 'gatewayclasses', true);
    for (const c of classes) if (c.spec?.controllerName === this.controllerName) served.add(c.metadata.name);
    return served;
  }

  /** Every object of a kind (in the served namespace, or all); none when the CRD is not installed. */
  private async listAll<T>(group: string, version: string, plural: string, clusterScoped = false): Promise<T[]> {
    const items: T[] = [];
    let _continue: string | undefined;
    try {
      do {
        const params = { group, version, plural, limit: 500, ...(_continue ? { _continue } : {}) };
        const request = clusterScoped
          ? this.api.listClusterCustomObject(params)
          : this.namespace
            ? this.api.listNamespacedCustomObject({ ...params, namespace: this.namespace })
            : this.api.listCustomObjectForAllNamespaces(params);
        const page = (await request) as {
          items?: T[];
          metadata?: { continue?: string };
        };
        items.push(...(page.items ?? []));
        _continue = page.metadata?.continue || undefined;
      } while (_continue);
    } catch (err) {
      if (statusCode(err) === 404) return [];
      throw err;
    }
    return items;
  }

  /** Writes status only when something changed, so an idle pass causes no watch events. */
  private async writeStatus(gateway: Gateway, outcome: GatewayOutcome): Promise<boolean> {
    const generation = gateway.metadata.generation;
    const now = this.now().toISOString();
    const previous = gateway.status?.conditions ?? [];
    const condition = (type: string, c: { ok: boolean; reason: string; message: string }): GatewayCondition => {
      const status = c.ok ? 'True' : 'False';
      const old = previous.find((p) => p.type === type);
      return {
        type,
        status,
        reason: c.reason,
        message: c.message,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
        lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
      };
    };
    const conditions = [condition('Accepted', outcome.accepted), condition('Programmed', outcome.programmed)];
    // Conditions of other types (none expected) are kept.
    for (const p of previous) if (p.type !== 'Accepted' && p.type !== 'Programmed') conditions.push(p);
    const addresses = outcome.dnsName ? [{ type: 'Hostname', value: outcome.dnsName }] : [];

    const same =
      JSON.stringify(addresses) === JSON.stringify((gateway.status?.addresses ?? []).map((a) => ({ type: a.type ?? 'IPAddress', value: a.value }))) &&
      conditions.every((c) => {
        const old = previous.find((p) => p.type === c.type);
        return old && old.status === c.status && old.reason === c.reason && old.message === c.message && old.observedGeneration === c.observedGeneration;
      });
    if (same) return false;
    await this.api.patchNamespacedCustomObjectStatus(
      {
        group: GATEWAY_GROUP,
        version: GATEWAY_VERSION,
        namespace: gateway.metadata.namespace!,
        plural: 'gateways',
        name: gateway.metadata.name,
        body: { status: { addresses, conditions } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    return true;
  }
}
