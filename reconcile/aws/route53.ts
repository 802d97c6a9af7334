// Route53Port over the SDK v3 Route 53 client: names normalised on the way in and out, every
// page of a zone read, one change batch per call. Rate limiting, retries (Throttling,
// PriorRequestNotComplete) and counting happen in the client's budget middleware (budget.ts).

import {
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  ChangeResourceRecordSetsCommand,
  type Route53Client,
  type Change,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { HostedZone, RecordChange, RecordSet, Route53Port } from '../ports.js';

/** Limits of one ChangeResourceRecordSets request; an UPSERT's records and characters count twice. */
export const CHANGE_BATCH_LIMITS = { changes: 1000, records: 1000, valueChars: 32_000 } as const;

export class ChangeBatchTooLargeError extends Error {
  constructor(
    readonly zoneId: string,
    detail: string,
  ) {
    super(`change batch for zone ${zoneId} is too large: ${detail}; split it`);
    this.name = 'ChangeBatchTooLargeError';
  }
}

/** What a batch costs against CHANGE_BATCH_LIMITS, so a planner can split before calling. */
export function changeBatchCost(changes: readonly RecordChange[]): { changes: number; records: number; valueChars: number } {
  let records = 0;
  let valueChars = 0;
  for (const { action, record } of changes) {
    const weight = action === 'UPSERT' ? 2 : 1;
    const values = record.values ?? [];
    records += weight * values.length;
    valueChars += weight * values.reduce((sum, v) => sum + v.length, 0);
  }
  return { changes: changes.length, records, valueChars };
}

/**
 * A record or zone name as the rest of the code compares it: lower-case, no trailing dot, and
 * Route53's octal escapes decoded (it stores "*" as "\052" and other specials likewise).
 */
export function normaliseDnsName(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
    .toLowerCase()
    .replace(/\.$/, '');
}

/** Zone ids come back as "/hostedzone/Z123"; the ports use "Z123". */
export function bareZoneId(id: string): string {
  return id.replace(/^\/hostedzone\//, '');
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined;
}

function fromSdk(rr: ResourceRecordSet): RecordSet {
  const record: RecordSet = { name: normaliseDnsName(rr.Name ?? ''), type: rr.Type ?? '' };
  if (rr.AliasTarget) {
    // An alias has no TTL of its own (an emulator may report 0).
    record.aliasTarget = {
      hostedZoneId: rr.AliasTarget.HostedZoneId ?? '',
      dnsName: normaliseDnsName(rr.AliasTarget.DNSName ?? ''),
      evaluateTargetHealth: rr.AliasTarget.EvaluateTargetHealth ?? false,
    };
    return record;
  }
  if (rr.TTL !== undefined) record.ttl = rr.TTL;
  // TXT values keep the quotes Route53 stores them with.
  record.values = (rr.ResourceRecords ?? []).map((r) => r.Value ?? '');
  return record;
}

function toSdk({ action, record }: RecordChange): Change {
  const set: ResourceRecordSet = { Name: record.name.toLowerCase(), Type: record.type as RRType };
  if (record.aliasTarget) {
    set.AliasTarget = {
      HostedZoneId: record.aliasTarget.hostedZoneId,
      DNSName: record.aliasTarget.dnsName,
      EvaluateTargetHealth: record.aliasTarget.evaluateTargetHealth,
    };
  } else {
    if (record.ttl !== undefined) set.TTL = record.ttl;
    set.ResourceRecords = (record.values ?? []).map((Value) => ({ Value }));
  }
  return { Action: action, ResourceRecordSet: set };
}

export class Route53Adapter implements Route53Port {
  constructor(private readonly client: Pick<Route53Client, 'send'>) {}

  async getHostedZone(zoneId: string): Promise<HostedZone | undefined> {
    try {
      const { HostedZone: zone } = await this.client.send(new GetHostedZoneCommand({ Id: bareZoneId(zoneId) }));
      if (!zone?.Id || !zone.Name) return undefined;
      return { id: bareZoneId(zone.Id), name: normaliseDnsName(zone.Name), privateZone: zone.Config?.PrivateZone ?? false };
    } catch (err) {
      if (errorName(err) === 'NoSuchHostedZone') return undefined;
      throw err;
    }
  }

  async listRecords(zoneId: string): Promise<RecordSet[]> {
    const records: RecordSet[] = [];
    let start: { StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string } = {};
    for (;;) {
      const page = await this.client.send(new ListResourceRecordSetsCommand({ HostedZoneId: bareZoneId(zoneId), MaxItems: 300, ...start }));
      for (const rr of page.ResourceRecordSets ?? []) records.push(fromSdk(rr));
      if (!page.IsTruncated || !page.NextRecordName) return records;
      start = { StartRecordName: page.NextRecordName };
      if (page.NextRecordType) start.StartRecordType = page.NextRecordType;
      if (page.NextRecordIdentifier) start.StartRecordIdentifier = page.NextRecordIdentifier;
    }
  }

  async changeRecords(zoneId: string, changes: RecordChange[]): Promise<void> {
    if (changes.length === 0) return;
    const cost = changeBatchCost(changes);
    if (cost.changes > CHANGE_BATCH_LIMITS.changes) throw new ChangeBatchTooLargeError(zoneId, `${cost.changes} changes (limit ${CHANGE_BATCH_LIMITS.changes})`);
    if (cost.records > CHANGE_BATCH_LIMITS.records) throw new ChangeBatchTooLargeError(zoneId, `${cost.records} records (limit ${CHANGE_BATCH_LIMITS.records}, UPSERT counts twice)`);
    if (cost.valueChars > CHANGE_BATCH_LIMITS.valueChars) {
      throw new ChangeBatchTooLargeError(zoneId, `${cost.valueChars} value characters (limit ${CHANGE_BATCH_LIMITS.valueChars}, UPSERT counts twice)`);
    }
    await this.client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: bareZoneId(zoneId), ChangeBatch: { Changes: changes.map(toSdk) } }));
  }
}
