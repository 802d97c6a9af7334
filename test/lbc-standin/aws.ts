// The AWS half of the load-balancer stand-in: what the AWS Load Balancer Controller does in
// EC2, ELBv2 and (reading) ACM for one Gateway. Plain SDK clients, no budget and no counters:
// these calls are the controller's, not the orchestrator's, and must not show up in its figures.

import { createHash } from 'node:crypto';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { EC2Client, CreateSubnetCommand, CreateVpcCommand, DescribeAvailabilityZonesCommand, DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import {
  ElasticLoadBalancingV2Client,
  AddListenerCertificatesCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  ModifyListenerCommand,
  RemoveListenerCertificatesCommand,
  SetIpAddressTypeCommand,
  type IpAddressType,
} from '@aws-sdk/client-elastic-load-balancing-v2';

/** Tags on every ALB the stand-in owns; they name the Gateway it serves. */
export const TAG_STANDIN = 'gateway-orchestrator.io/lbc-standin';
export const TAG_GATEWAY_NAMESPACE = 'gateway.k8s.aws/gateway-namespace';
export const TAG_GATEWAY_NAME = 'gateway.k8s.aws/gateway-name';
const TAG_NETWORK = 'gateway-orchestrator.io/lbc-standin-network';

export interface StandInAwsConfig {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface OwnedLoadBalancer {
  arn: string;
  name: string;
  dnsName: string;
  scheme: string;
  ipAddressType: string;
  gateway: { namespace: string; name: string };
}

export interface DesiredLoadBalancer {
  gateway: { namespace: string; name: string };
  name: string;
  scheme: 'internet-facing' | 'internal';
  ipAddressType: 'ipv4' | 'dualstack' | 'dualstack-without-public-ipv4';
}

export interface ListenerCertificates {
  defaultCertificate?: string;
  /** Besides the default one; order does not matter. */
  certificates: string[];
}

/** A certificate the ALB cannot take yet (real ELBv2 refuses it: CertificateNotFound / UnsupportedCertificate). */
export class CertificateNotReadyError extends Error {
  constructor(
    readonly arn: string,
    readonly status: string,
  ) {
    super(`certificate ${arn} is ${status}, not ISSUED: ELBv2 would refuse it (CertificateNotFound)`);
    this.name = 'CertificateNotReadyError';
  }
}

function sanitise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** ALB names: at most 32 of [a-zA-Z0-9-], unique per Gateway; the hash keeps long names apart. */
export function loadBalancerNameFor(namespace: string, name: string): string {
  const hash = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 10);
  const ns = sanitise(namespace).slice(0, 8).replace(/-+$/, '');
  const gw = sanitise(name).slice(0, 8).replace(/-+$/, '');
  return ['k8s', ns, gw, hash].filter(Boolean).join('-');
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined;
}

export class StandInAws {
  readonly ec2: EC2Client;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly acm: ACMClient;
  private subnets: string[] | undefined;

  constructor(config: StandInAwsConfig) {
    const common = {
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.credentials ? { credentials: config.credentials } : {}),
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    };
    this.ec2 = new EC2Client(common);
    this.elbv2 = new ElasticLoadBalancingV2Client(common);
    this.acm = new ACMClient(common);
  }

  destroy(): void {
    this.ec2.destroy();
    this.elbv2.destroy();
    this.acm.destroy();
  }

  /** Two subnets in different zones: the default VPC's, else a VPC of our own (made once, found by tag). */
  async ensureSubnets(): Promise<string[]> {
    if (this.subnets) return this.subnets;
    const defaultVpc = (await this.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs?.[0]?.VpcId;
    let subnets = defaultVpc ? await this.subnetsByZone(defaultVpc) : [];
    if (subnets.length < 2) {
      let vpcId = (await this.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: `tag:${TAG_NETWORK}`, Values: ['true'] }] }))).Vpcs?.[0]?.VpcId;
      if (!vpcId) {
        const made = await this.ec2.send(
          new CreateVpcCommand({ CidrBlock: '10.90.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: TAG_NETWORK, Value: 'true' }] }] }),
        );
        vpcId = made.Vpc?.VpcId;
        if (!vpcId) throw new Error('CreateVpc returned no VPC id');
      }
      subnets = await this.subnetsByZone(vpcId);
      const used = new Set(subnets.map((s) => s.zone));
      const zones = (await this.ec2.send(new DescribeAvailabilityZonesCommand({}))).AvailabilityZones ?? [];
      for (const [i, zone] of zones.entries()) {
        if (subnets.length >= 2) break;
        if (!zone.ZoneName || used.has(zone.ZoneName)) continue;
        const made = await this.ec2.send(
          new CreateSubnetCommand({
            VpcId: vpcId,
            AvailabilityZone: zone.ZoneName,
            CidrBlock: `10.90.${i}.0/24`,
            TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: TAG_NETWORK, Value: 'true' }] }],
          }),
        );
        if (made.Subnet?.SubnetId) subnets.push({ zone: zone.ZoneName, id: made.Subnet.SubnetId });
      }
    }
    if (subnets.length < 2) throw new Error(`need subnets in two availability zones, found ${subnets.length}`);
    this.subnets = subnets.slice(0, 2).map((s) => s.id);
    return this.subnets;
  }

  /** One subnet per availability zone of the VPC. */
  private async subnetsByZone(vpcId: string): Promise<Array<{ zone: string; id: string }>> {
    const found = (await this.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? [];
    const byZone = new Map<string, string>();
    for (const s of found) if (s.AvailabilityZone && s.SubnetId && !byZone.has(s.AvailabilityZone)) byZone.set(s.AvailabilityZone, s.SubnetId);
    return [...byZone].map(([zone, id]) => ({ zone, id }));
  }

  /** Every ALB carrying the stand-in's tags, with the Gateway it serves. */
  async listOwnedLoadBalancers(): Promise<OwnedLoadBalancer[]> {
    const all = [];
    let marker: string | undefined;
    do {
      const page = await this.elbv2.send(new DescribeLoadBalancersCommand({ PageSize: 400, Marker: marker }));
      all.push(...(page.LoadBalancers ?? []));
      marker = page.NextMarker;
    } while (marker);
    const owned: OwnedLoadBalancer[] = [];
    for (let i = 0; i < all.length; i += 20) {
      const chunk = all.slice(i, i + 20).filter((lb) => lb.LoadBalancerArn);
      if (chunk.length === 0) continue;
      const tags = await this.elbv2.send(new DescribeTagsCommand({ ResourceArns: chunk.map((lb) => lb.LoadBalancerArn!) }));
      for (const description of tags.TagDescriptions ?? []) {
        const t = new Map((description.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
        const lb = chunk.find((l) => l.LoadBalancerArn === description.ResourceArn);
        const namespace = t.get(TAG_GATEWAY_NAMESPACE);
        const name = t.get(TAG_GATEWAY_NAME);
        if (!lb || t.get(TAG_STANDIN) !== 'true' || !namespace || !name) continue;
        owned.push({
          arn: lb.LoadBalancerArn!,
          name: lb.LoadBalancerName ?? '',
          dnsName: (lb.DNSName ?? '').toLowerCase(),
          scheme: lb.Scheme ?? '',
          ipAddressType: lb.IpAddressType ?? 'ipv4',
          gateway: { namespace, name },
        });
      }
    }
    return owned;
  }

  /**
   * The Gateway's ALB as configured: created once, replaced when the scheme changes (immutable
   * in AWS), its IP address type set in place. `existing` is what listOwnedLoadBalancers found.
   */
  async ensureLoadBalancer(desired: DesiredLoadBalancer, existing: OwnedLoadBalancer | undefined): Promise<OwnedLoadBalancer> {
    if (existing && (existing.scheme !== desired.scheme || existing.name !== desired.name)) {
      await this.deleteLoadBalancer(existing.arn);
      existing = undefined;
    }
    if (existing) {
      if (existing.ipAddressType !== desired.ipAddressType) {
        await this.elbv2.send(new SetIpAddressTypeCommand({ LoadBalancerArn: existing.arn, IpAddressType: desired.ipAddressType as IpAddressType }));
        existing = { ...existing, ipAddressType: desired.ipAddressType };
      }
      return existing;
    }
    const created = await this.elbv2.send(
      new CreateLoadBalancerCommand({
        Name: desired.name,
        Type: 'application',
        Scheme: desired.scheme,
        IpAddressType: desired.ipAddressType as IpAddressType,
        Subnets: await this.ensureSubnets(),
        Tags: [
          { Key: TAG_STANDIN, Value: 'true' },
          { Key: TAG_GATEWAY_NAMESPACE, Value: desired.gateway.namespace },
          { Key: TAG_GATEWAY_NAME, Value: desired.gateway.name },
        ],
      }),
    );
    const lb = created.LoadBalancers?.[0];
    if (!lb?.LoadBalancerArn) throw new Error(`CreateLoadBalancer ${desired.name} returned no load balancer`);
    return {
      arn: lb.LoadBalancerArn,
      name: lb.LoadBalancerName ?? desired.name,
      dnsName: (lb.DNSName ?? '').toLowerCase(),
      scheme: lb.Scheme ?? desired.scheme,
      ipAddressType: lb.IpAddressType ?? desired.ipAddressType,
      gateway: desired.gateway,
    };
  }

  async deleteLoadBalancer(arn: string): Promise<void> {
    try {
      const listeners = await this.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: arn }));
      for (const l of listeners.Listeners ?? []) if (l.ListenerArn) await this.elbv2.send(new DeleteListenerCommand({ ListenerArn: l.ListenerArn }));
      await this.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
    } catch (err) {
      if (errorName(err) !== 'LoadBalancerNotFoundException' && errorName(err) !== 'LoadBalancerNotFound') throw err;
    }
  }

  /** Real ELBv2 takes only ISSUED ACM certificates; moto takes any, so the stand-in checks first. */
  async assertIssued(arns: string[]): Promise<void> {
    for (const arn of arns) {
      let status: string;
      try {
        status = (await this.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate?.Status ?? 'UNKNOWN';
      } catch (err) {
        if (errorName(err) !== 'ResourceNotFoundException') throw err;
        status = 'NOT_FOUND';
      }
      if (status !== 'ISSUED') throw new CertificateNotReadyError(arn, status);
    }
  }

  async describeListenerCertificates(listenerArn: string): Promise<{ defaultCertificate?: string; certificates: string[] }> {
    let defaultCertificate: string | undefined;
    const others = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await this.elbv2.send(new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn, Marker: marker }));
      for (const c of page.Certificates ?? []) {
        if (!c.CertificateArn) continue;
        if (c.IsDefault) defaultCertificate = c.CertificateArn;
        else others.add(c.CertificateArn);
      }
      marker = page.NextMarker;
    } while (marker);
    if (defaultCertificate) others.delete(defaultCertificate);
    return defaultCertificate ? { defaultCertificate, certificates: [...others] } : { certificates: [...others] };
  }

  /**
   * The HTTPS:443 listener carrying EXACTLY `desired`: created with the default certificate,
   * default changed with ModifyListener, the rest added and removed one by one. No default
   * certificate configured means no HTTPS listener (ELBv2 cannot have one without).
   * Only the certificates about to be attached are checked (ELBv2 checks what it is given, and a
   * certificate ACM will not delete while in use stays valid on the listener): checking every
   * certificate of every Gateway on every pass made thousands of DescribeCertificate calls per
   * pass at 5,000 requests, and moto answered the orchestrator that much slower.
   * Returns the listener ARN, or undefined when there is none.
   */
  async syncHttpsListener(loadBalancerArn: string, desired: ListenerCertificates): Promise<string | undefined> {
    const listeners = (await this.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }))).Listeners ?? [];
    const https = listeners.find((l) => l.Port === 443);
    const wantDefault = desired.defaultCertificate;
    if (!wantDefault) {
      if (https?.ListenerArn) await this.elbv2.send(new DeleteListenerCommand({ ListenerArn: https.ListenerArn }));
      return undefined;
    }
    const wantOthers = new Set(desired.certificates.filter((arn) => arn !== wantDefault));

    let listenerArn = https?.ListenerArn;
    if (!listenerArn) {
      await this.assertIssued([wantDefault, ...wantOthers]);
      const created = await this.elbv2.send(
        new CreateListenerCommand({
          LoadBalancerArn: loadBalancerArn,
          Port: 443,
          Protocol: 'HTTPS',
          Certificates: [{ CertificateArn: wantDefault }],
          DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'no route' } }],
        }),
      );
      listenerArn = created.Listeners?.[0]?.ListenerArn;
      if (!listenerArn) throw new Error('CreateListener returned no listener');
    }

    let current = await this.describeListenerCertificates(listenerArn);
    // Everything that will be attached, checked before the first write: a refused certificate
    // stalls the whole listener and leaves it as it was.
    const attached = new Set([...(current.defaultCertificate ? [current.defaultCertificate] : []), ...current.certificates]);
    await this.assertIssued([wantDefault, ...wantOthers].filter((arn) => !attached.has(arn)));
    if (current.defaultCertificate !== wantDefault) {
      // Real ELBv2 replaces only the default here; moto replaces the whole list. Reading the
      // list again afterwards makes the steps below right for both.
      await this.elbv2.send(new ModifyListenerCommand({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: wantDefault }] }));
      current = await this.describeListenerCertificates(listenerArn);
    }
    const have = new Set(current.certificates);
    const add = [...wantOthers].filter((arn) => !have.has(arn));
    const remove = [...have].filter((arn) => !wantOthers.has(arn));
    if (add.length > 0) {
      await this.elbv2.send(new AddListenerCertificatesCommand({ ListenerArn: listenerArn, Certificates: add.map((CertificateArn) => ({ CertificateArn })) }));
    }
    if (remove.length > 0) {
      await this.elbv2.send(new RemoveListenerCertificatesCommand({ ListenerArn: listenerArn, Certificates: remove.map((CertificateArn) => ({ CertificateArn })) }));
    }
    return listenerArn;
  }
}
