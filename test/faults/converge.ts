// What "converged" means after a fault, checked against the API server and moto (never the
// orchestrator's own memory): each function returns the list of what is still wrong, so a test
// can wait until it is empty and, if it never is, say exactly what stayed wrong.
import {
  ANNOTATION_PLACEMENTS,
  type DomainClaim,
  type GatewayHostnameRequest,
  type HostnameGrant,
  type LoadBalancerConfiguration,
  type PoolPlacement,
} from '../../policy/api.js';
import { claimNameFor, grantNameFor, ownerRecordName } from '../../policy/hostname.js';
import { TAG_REQUEST_UID, ownerValue } from '../../reconcile/plan.js';
import { isNotFound, paths } from '../../server/kube/rest.js';
import type { FaultEnv } from './process-harness.js';

export interface RequestRef {
  namespace: string;
  name: string;
  hostname: string;
}

export async function getRequest(env: FaultEnv, namespace: string, name: string): Promise<GatewayHostnameRequest | undefined> {
  try {
    return await env.admin.get<GatewayHostnameRequest>(paths.requests(namespace, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function getClaim(env: FaultEnv, hostname: string): Promise<DomainClaim | undefined> {
  try {
    return await env.admin.get<DomainClaim>(paths.claims(claimNameFor(hostname)));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function grantsOf(env: FaultEnv, hostname: string): Promise<HostnameGrant[]> {
  return (await env.admin.list<HostnameGrant>(paths.grants())).items.filter((g) => g.spec.hostname === hostname);
}

/** Certificates in moto for the hostname, with their request-uid tag. */
export async function certificatesOf(env: FaultEnv, hostname: string): Promise<Array<{ arn: string; uid: string | undefined; status: string }>> {
  const all = (await env.check.acm.listCertificates()).filter((c) => c.domainName === hostname);
  const out = [];
  for (const c of all) {
    const tags = await env.check.acm.listTags(c.arn).catch(() => ({}) as Record<string, string>);
    out.push({ arn: c.arn, uid: tags[TAG_REQUEST_UID], status: c.status });
  }
  return out;
}

/** Records at the hostname or below it (validation CNAME, ownership TXT). */
export async function recordsOf(env: FaultEnv, hostname: string) {
  return (await env.check.route53.listRecords(env.zoneId)).filter((r) => r.name === hostname || r.name.endsWith(`.${hostname}`));
}

export async function lbConfigs(env: FaultEnv): Promise<LoadBalancerConfiguration[]> {
  return (await env.admin.list<LoadBalancerConfiguration>(paths.lbConfigs(env.poolNamespace))).items;
}

export function placementsOf(lbc: LoadBalancerConfiguration): PoolPlacement[] {
  return JSON.parse(lbc.metadata.annotations?.[ANNOTATION_PLACEMENTS] ?? '[]') as PoolPlacement[];
}

function listedArns(lbc: LoadBalancerConfiguration): string[] {
  return (lbc.spec.listenerConfigurations ?? []).flatMap((l) => [...(l.defaultCertificate ? [l.defaultCertificate] : []), ...(l.certificates ?? [])]);
}

/** Everything a Ready request should have, exactly once, and nothing else at its hostname. */
export async function readyProblems(env: FaultEnv, ref: RequestRef): Promise<string[]> {
  const problems: string[] = [];
  const r = await getRequest(env, ref.namespace, ref.name);
  if (!r) return [`request ${ref.namespace}/${ref.name} does not exist`];
  const uid = r.metadata.uid ?? '';
  const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') problems.push(`Ready is ${ready?.status ?? 'missing'} (${ready?.reason}: ${ready?.message})`);
  if (r.status?.observedGeneration !== r.metadata.generation) problems.push('status is not for the current generation');

  const claim = await getClaim(env, ref.hostname);
  if (!claim) problems.push('no DomainClaim');
  else {
    if (claim.spec.requestRef.namespace !== ref.namespace || claim.spec.requestRef.name !== ref.name) problems.push(`claim held by ${JSON.stringify(claim.spec.requestRef)}`);
    if (claim.status?.requestUID !== uid) problems.push(`claim bound to ${claim.status?.requestUID ?? 'nobody'}, not ${uid}`);
  }
  const grants = (await grantsOf(env, ref.hostname)).map((g) => `${g.metadata.name} -> ${g.spec.requestRef?.namespace}/${g.spec.requestRef?.name}`);
  const wantGrants = [`${grantNameFor(ref.hostname, ref.namespace)} -> ${ref.namespace}/${ref.name}`];
  if (JSON.stringify(grants.sort()) !== JSON.stringify(wantGrants)) problems.push(`grants ${JSON.stringify(grants)}, want ${JSON.stringify(wantGrants)}`);

  const certs = await certificatesOf(env, ref.hostname);
  const mine = certs.filter((c) => c.uid === uid);
  if (mine.length !== 1) problems.push(`${mine.length} certificates tagged with the request UID (want exactly 1): ${JSON.stringify(mine)}`);
  const others = certs.filter((c) => c.uid !== uid);
  if (others.length > 0) problems.push(`certificates for ${ref.hostname} not of this request (leaked): ${JSON.stringify(others)}`);
  const arn = r.status?.certificateArn;
  if (mine[0] && arn !== mine[0].arn) problems.push(`status.certificateArn ${arn} is not the certificate in ACM ${mine[0].arn}`);

  const records = await recordsOf(env, ref.hostname);
  const expected = new Set([`${ref.hostname}|A`, `${ownerRecordName(ref.hostname)}|TXT`, ...(r.status?.validationRecords ?? []).map((v) => `${v.name}|CNAME`)]);
  const seen = records.map((x) => `${x.name}|${x.type}`);
  for (const k of seen) if (!expected.has(k)) problems.push(`unexpected record ${k}`);
  for (const k of expected) if (!seen.includes(k)) problems.push(`missing record ${k}`);
  if (seen.length !== new Set(seen).size) problems.push(`duplicate records ${JSON.stringify(seen)}`);
  const alias = records.find((x) => x.name === ref.hostname && x.type === 'A');
  if (alias && alias.aliasTarget?.dnsName !== r.status?.assignedLoadBalancer?.dnsName) problems.push(`alias points at ${alias.aliasTarget?.dnsName}, status says ${r.status?.assignedLoadBalancer?.dnsName}`);
  const txt = records.find((x) => x.type === 'TXT');
  if (txt && JSON.stringify(txt.values) !== JSON.stringify([ownerValue('local', ref.namespace, ref.name)])) problems.push(`ownership TXT says ${JSON.stringify(txt.values)}`);
  for (const v of r.status?.validationRecords ?? []) {
    const cname = records.find((x) => x.name === v.name && x.type === 'CNAME');
    if (cname && JSON.stringify(cname.values) !== JSON.stringify([v.value])) problems.push(`validation CNAME ${v.name} is ${JSON.stringify(cname.values)}`);
  }

  const configs = await lbConfigs(env);
  const placements = configs.flatMap((c) => placementsOf(c).map((p) => ({ gateway: c.metadata.name, ...p })));
  const placed = placements.filter((p) => p.requestUID === uid || p.hostname === ref.hostname);
  if (placed.length !== 1) problems.push(`${placed.length} placements for the request (want 1): ${JSON.stringify(placed)}`);
  else if (placed[0]?.gateway !== r.status?.assignedGateway?.name) problems.push(`placed on ${placed[0]?.gateway}, status says ${r.status?.assignedGateway?.name}`);
  const listings = configs.flatMap(listedArns).filter((a) => a === arn);
  if (arn && listings.length !== 1) problems.push(`certificate listed ${listings.length} times in LoadBalancerConfigurations`);
  return problems;
}

/** Nothing of the hostname is left anywhere: claim, grants, certificates, records, placements. */
export async function goneProblems(env: FaultEnv, ref: RequestRef, arns: string[] = []): Promise<string[]> {
  const problems: string[] = [];
  const r = await getRequest(env, ref.namespace, ref.name);
  if (r) {
    const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
    problems.push(`request ${ref.namespace}/${ref.name} still exists (${r.metadata.deletionTimestamp ? 'deleting' : 'live'}; Ready ${ready?.reason}: ${ready?.message})`);
  }
  const claim = await getClaim(env, ref.hostname);
  if (claim) problems.push(`claim left: ${JSON.stringify(claim.spec.requestRef)}`);
  const grants = await grantsOf(env, ref.hostname);
  if (grants.length > 0) problems.push(`grants left: ${grants.map((g) => g.metadata.name).join(', ')}`);
  const certs = await certificatesOf(env, ref.hostname);
  if (certs.length > 0) problems.push(`certificates left: ${JSON.stringify(certs)}`);
  const records = await recordsOf(env, ref.hostname);
  if (records.length > 0) problems.push(`records left: ${records.map((x) => `${x.name}|${x.type}`).join(', ')}`);
  for (const c of await lbConfigs(env)) {
    const text = JSON.stringify({ spec: c.spec, placements: placementsOf(c) });
    if (text.includes(ref.hostname) || arns.some((a) => text.includes(a))) problems.push(`LoadBalancerConfiguration ${c.metadata.name} still mentions the request`);
  }
  return problems;
}

/** Polls `problems` until it returns none; on the deadline fails with what was still wrong. */
export async function converge(problems: () => Promise<string[]>, description: string, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  let last: string[];
  for (;;) {
    try {
      last = await problems();
    } catch (err) {
      last = [`check failed: ${String(err)}`];
    }
    if (last.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not converged after ${(timeoutMs / 1000).toFixed(0)}s: ${description}\n  - ${last.join('\n  - ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
