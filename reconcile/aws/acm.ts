// AcmPort over the SDK v3 ACM client. Thin: paging, field mapping and error mapping only;
// rate limiting, retries and counting happen in the client's budget middleware (budget.ts).

import {
  ListCertificatesCommand,
  DescribeCertificateCommand,
  RequestCertificateCommand,
  ListTagsForCertificateCommand,
  DeleteCertificateCommand,
  type ACMClient,
  type CertificateSummary as SdkSummary,
  type KeyAlgorithm,
} from '@aws-sdk/client-acm';
import type { AcmPort, CertificateDetail, CertificateStatus, CertificateSummary, DnsValidationRecord } from '../ports.js';

const ALL_STATUSES: CertificateStatus[] = ['PENDING_VALIDATION', 'ISSUED', 'INACTIVE', 'EXPIRED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'FAILED'];

// ListCertificates returns only RSA_2048 certificates unless asked for other key types.
const ALL_KEY_TYPES: KeyAlgorithm[] = ['RSA_1024', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1', 'EC_secp521r1'];

/** A DNS name as we compare it: lower-case, no trailing dot. */
function dnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function isStatus(value: unknown): value is CertificateStatus {
  return typeof value === 'string' && (ALL_STATUSES as string[]).includes(value);
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined;
}

/**
 * ACM's IdempotencyToken must match \w{1,32}. Callers pass something derived from a request UID
 * (36 characters with hyphens); dropping non-word characters and keeping 32 leaves a UID's hex
 * digits, still unique and still deterministic.
 */
export function acmIdempotencyToken(token: string): string {
  const cleaned = token.replace(/\W/g, '').slice(0, 32);
  if (cleaned === '') throw new Error(`idempotency token "${token}" has no word characters`);
  return cleaned;
}

export class AcmAdapter implements AcmPort {
  constructor(private readonly client: Pick<ACMClient, 'send'>) {}

  async listCertificates(): Promise<CertificateSummary[]> {
    const out: CertificateSummary[] = [];
    const incomplete: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListCertificatesCommand({ CertificateStatuses: ALL_STATUSES, Includes: { keyTypes: ALL_KEY_TYPES }, MaxItems: 1000, NextToken: nextToken }),
      );
      for (const s of page.CertificateSummaryList ?? []) {
        if (!s.CertificateArn) continue;
        const summary = this.summary(s);
        if (summary) out.push(summary);
        else incomplete.push(s.CertificateArn);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    // Summaries carry Status and InUse in today's API; should an endpoint leave them out,
    // ask DescribeCertificate rather than guess.
    for (const arn of incomplete) {
      const detail = await this.describeCertificate(arn);
      if (detail) out.push({ arn: detail.arn, domainName: detail.domainName, status: detail.status, inUse: detail.inUse });
    }
    return out;
  }

  private summary(s: SdkSummary): CertificateSummary | undefined {
    if (!s.CertificateArn || !s.DomainName || !isStatus(s.Status) || typeof s.InUse !== 'boolean') return undefined;
    return { arn: s.CertificateArn, domainName: dnsName(s.DomainName), status: s.Status, inUse: s.InUse };
  }

  async describeCertificate(arn: string): Promise<CertificateDetail | undefined> {
    let certificate;
    try {
      certificate = (await this.client.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException') return undefined;
      throw err;
    }
    if (!certificate?.CertificateArn) return undefined;
    // ACM fills ResourceRecord a few seconds after RequestCertificate; until then a domain has
    // no record and is left out here, so callers must treat "fewer records than domains" as pending.
    const validationRecords: DnsValidationRecord[] = [];
    for (const option of certificate.DomainValidationOptions ?? []) {
      const rr = option.ResourceRecord;
      if (!option.DomainName || !rr?.Name || !rr.Value || rr.Type !== 'CNAME') continue;
      validationRecords.push({ domainName: dnsName(option.DomainName), name: dnsName(rr.Name), type: 'CNAME', value: dnsName(rr.Value) });
    }
    if (!isStatus(certificate.Status)) throw new Error(`certificate ${arn} has unknown status ${String(certificate.Status)}`);
    const inUseBy = certificate.InUseBy ?? [];
    const detail: CertificateDetail = {
      arn: certificate.CertificateArn,
      domainName: dnsName(certificate.DomainName ?? ''),
      status: certificate.Status,
      inUse: inUseBy.length > 0,
      inUseBy,
      validationRecords,
    };
    if (certificate.FailureReason) detail.failureReason = certificate.FailureReason;
    return detail;
  }

  async requestCertificate(input: { domainName: string; idempotencyToken: string; tags: Record<string, string> }): Promise<string> {
    const result = await this.client.send(
      new RequestCertificateCommand({
        DomainName: input.domainName,
        ValidationMethod: 'DNS',
        IdempotencyToken: acmIdempotencyToken(input.idempotencyToken),
        Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    if (!result.CertificateArn) throw new Error(`RequestCertificate for ${input.domainName} returned no ARN`);
    return result.CertificateArn;
  }

  async listTags(arn: string): Promise<Record<string, string>> {
    const result = await this.client.send(new ListTagsForCertificateCommand({ CertificateArn: arn }));
    const tags: Record<string, string> = {};
    for (const tag of result.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
    return tags;
  }

  async deleteCertificate(arn: string): Promise<'deleted' | 'in-use' | 'not-found'> {
    try {
      await this.client.send(new DeleteCertificateCommand({ CertificateArn: arn }));
      return 'deleted';
    } catch (err) {
      const name = errorName(err);
      if (name === 'ResourceInUseException') return 'in-use';
      if (name === 'ResourceNotFoundException') return 'not-found';
      throw err;
    }
  }
}
