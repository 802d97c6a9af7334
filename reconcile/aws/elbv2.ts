// Elbv2Port over the SDK v3 ELBv2 client. Read-only on purpose: certificates reach listeners
// only through the LoadBalancerConfiguration, which the AWS Load Balancer Controller applies.

import {
  DescribeLoadBalancersCommand,
  DescribeListenersCommand,
  DescribeListenerCertificatesCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Elbv2Port, Listener, LoadBalancer } from '../ports.js';

function dnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export class Elbv2Adapter implements Elbv2Port {
  constructor(private readonly client: Pick<ElasticLoadBalancingV2Client, 'send'>) {}

  async describeLoadBalancers(): Promise<LoadBalancer[]> {
    const out: LoadBalancer[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(new DescribeLoadBalancersCommand({ PageSize: 400, Marker: marker }));
      for (const lb of page.LoadBalancers ?? []) {
        if (!lb.LoadBalancerArn) continue;
        out.push({
          arn: lb.LoadBalancerArn,
          name: lb.LoadBalancerName ?? '',
          dnsName: dnsName(lb.DNSName ?? ''),
          canonicalHostedZoneId: lb.CanonicalHostedZoneId ?? '',
          scheme: lb.Scheme === 'internal' ? 'internal' : 'internet-facing',
          ipAddressType: lb.IpAddressType ?? 'ipv4',
        });
      }
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  async describeListeners(loadBalancerArn: string): Promise<Listener[]> {
    const out: Listener[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, PageSize: 400, Marker: marker }));
      for (const l of page.Listeners ?? []) {
        if (l.ListenerArn && l.Port !== undefined) out.push({ arn: l.ListenerArn, port: l.Port, protocol: l.Protocol ?? '' });
      }
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  async describeListenerCertificates(listenerArn: string): Promise<string[]> {
    // AWS lists the default certificate with IsDefault=true and, when it is also in the
    // certificate list, a second time without: one entry per ARN here.
    const arns = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await this.client.send(new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn, PageSize: 400, Marker: marker }));
      for (const c of page.Certificates ?? []) if (c.CertificateArn) arns.add(c.CertificateArn);
      marker = page.NextMarker;
    } while (marker);
    return [...arns];
  }
}
