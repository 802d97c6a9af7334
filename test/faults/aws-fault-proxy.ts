// A loopback HTTP proxy in front of moto that makes AWS misbehave on purpose: per API call
// (service from the SigV4 credential scope, operation from ACM's X-Amz-Target, Route53's REST
// path and method, or the ELBv2 Action form field) it answers with throttling, a 5xx, or adds
// latency, by probability (a seeded PRNG, so a run can be repeated) or by call number. It records
// every call it saw (time, service, operation, what it injected), which is how the tests check
// retries and the client-side budgets.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { seededRandom } from '../helpers/seeded-random.js';

export type AwsServiceName = 'acm' | 'route53' | 'elbv2' | 'other';

export type Fault =
  /** The service's own throttling error: ACM ThrottlingException, Route53 and ELBv2 Throttling. */
  | { kind: 'throttle' }
  /** Route53's "a change to this zone is still in progress" (other services: their throttling error). */
  | { kind: 'prior-request-not-complete' }
  /** A 5xx; `after`: forward first (the call takes effect in moto) and lose the answer. */
  | { kind: 'server-error'; status?: number; after?: boolean }
  /** Forward after a delay. */
  | { kind: 'latency'; ms: number };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  /** Default: every service. */
  service?: AwsServiceName | AwsServiceName[];
  /** Operation name ("RequestCertificate", "ChangeResourceRecordSets"); default every operation. */
  operation?: string | string[];
  /** Fires on these call numbers (1-based) among the calls this rule matches... */
  calls?: number[];
  /**
   * ...or with this probability. The probabilistic rules matching a call share one draw, so 0.2
   * and 0.05 give 20% and 5% (should they add up to more than 1, the later ones fire less).
   */
  probability?: number;
  fault: Fault;
}

export interface ProxiedCall {
  at: number;
  service: AwsServiceName;
  operation: string;
  /** The fault injected into this call, if any. */
  fault?: FaultKind;
  /** HTTP status the client received. */
  status: number;
}

export interface FaultProxyOptions {
  /** moto's URL, e.g. http://127.0.0.1:15005 */
  target: string;
  rules?: FaultRule[];
  /** PRNG seed (default 1). */
  seed?: number;
}

export interface FaultProxy {
  url: string;
  port: number;
  readonly calls: readonly ProxiedCall[];
  /** Replaces the rules (call-number counters start again) and optionally the seed. */
  setRules(rules: FaultRule[], seed?: number): void;
  /** Injected faults by "service.Operation" and kind. */
  injected(): Record<string, Partial<Record<FaultKind, number>>>;
  /** Calls by "service.Operation". */
  callCounts(): Record<string, number>;
  close(): Promise<void>;
}

// ---- Recognising the call ------------------------------------------------------------------------

const SIGNING_NAMES: Record<string, AwsServiceName> = { acm: 'acm', route53: 'route53', elasticloadbalancing: 'elbv2' };

/** Which AWS API a request is, from what the SDK sends. */
export function identifyCall(method: string, url: string, headers: http.IncomingHttpHeaders, body: string): { service: AwsServiceName; operation: string } {
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(headers['authorization'] ?? ''));
  const target = String(headers['x-amz-target'] ?? '');
  const path = url.split('?')[0] ?? '';
  let service: AwsServiceName = scope ? (SIGNING_NAMES[scope[1] ?? ''] ?? 'other') : 'other';
  if (service === 'other' && target.startsWith('CertificateManager.')) service = 'acm';
  if (service === 'other' && path.startsWith('/2013-04-01/')) service = 'route53';
  if (service === 'other' && /(^|&)Version=2015-12-01(&|$)/.test(body)) service = 'elbv2';
  switch (service) {
    case 'acm':
      return { service, operation: target.split('.')[1] ?? 'Unknown' };
    case 'route53':
      return { service, operation: route53Operation(method, path) };
    default: {
      const action = new URLSearchParams(body).get('Action') ?? new URLSearchParams(url.split('?')[1] ?? '').get('Action');
      return { service, operation: action ?? 'Unknown' };
    }
  }
}

/** Route53 is REST: the operation follows from method and path (the ones the orchestrator uses, and a few more). */
export function route53Operation(method: string, path: string): string {
  const p = path.replace(/^\/2013-04-01/, '').replace(/\/$/, '');
  if (/^\/hostedzone\/[^/]+\/rrset$/.test(p)) return method === 'POST' ? 'ChangeResourceRecordSets' : 'ListResourceRecordSets';
  if (/^\/hostedzone\/[^/]+$/.test(p)) return method === 'DELETE' ? 'DeleteHostedZone' : method === 'POST' ? 'UpdateHostedZoneComment' : 'GetHostedZone';
  if (p === '/hostedzone') return method === 'POST' ? 'CreateHostedZone' : 'ListHostedZones';
  if (p === '/hostedzonesbyname') return 'ListHostedZonesByName';
  if (p === '/hostedzonecount') return 'GetHostedZoneCount';
  if (/^\/change\/[^/]+$/.test(p)) return 'GetChange';
  if (/^\/tags\//.test(p)) return method === 'POST' ? 'ChangeTagsForResource' : 'ListTagsForResource';
  return `${method} ${p}`;
}

// ---- Error answers, as each service words them -----------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function xmlError(namespace: string, status: number, code: string, message: string, type = 'Sender'): Answer {
  const requestId = randomBytes(16).toString('hex');
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

function jsonError(status: number, type: string, message: string): Answer {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type, 'x-amzn-requestid': randomBytes(16).toString('hex') },
    body: JSON.stringify({ __type: type, message }),
  };
}

const ROUTE53_NS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const ELBV2_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** The error answer for an injected fault (latency is not an answer). */
export function faultAnswer(service: AwsServiceName, fault: Exclude<Fault, { kind: 'latency' }>): Answer {
  if (fault.kind === 'server-error') {
    const status = fault.status ?? 500;
    const code = status === 503 ? 'ServiceUnavailable' : 'InternalFailure';
    const message = status === 503 ? 'Service is unavailable (injected)' : 'An internal error occurred (injected)';
    if (service === 'acm') return jsonError(status, code === 'ServiceUnavailable' ? 'ServiceUnavailableException' : 'InternalFailure', message);
    return xmlError(service === 'route53' ? ROUTE53_NS : ELBV2_NS, status, code, message, 'Receiver');
  }
  if (service === 'acm') return jsonError(400, 'ThrottlingException', 'Rate exceeded (injected)');
  if (service === 'route53') {
    return fault.kind === 'prior-request-not-complete'
      ? xmlError(ROUTE53_NS, 400, 'PriorRequestNotComplete', 'The request was rejected because Route 53 was still processing a prior request (injected).')
      : xmlError(ROUTE53_NS, 400, 'Throttling', 'Rate exceeded (injected)');
  }
  return xmlError(ELBV2_NS, 400, 'Throttling', 'Rate exceeded (injected)');
}

// ---- The proxy -----------------------------------------------------------------------------------

function matches(rule: FaultRule, service: AwsServiceName, operation: string): boolean {
  const services = rule.service === undefined ? undefined : ([] as AwsServiceName[]).concat(rule.service);
  const operations = rule.operation === undefined ? undefined : ([] as string[]).concat(rule.operation);
  return (!services || services.includes(service)) && (!operations || operations.includes(operation));
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const calls: ProxiedCall[] = [];
  let rules: FaultRule[] = [];
  let counters: number[] = [];
  let random = seededRandom(options.seed ?? 1);
  const setRules = (next: FaultRule[], seed?: number) => {
    for (const r of next) {
      if (r.calls === undefined && r.probability === undefined) throw new Error('a fault rule needs calls or probability');
      if (r.probability !== undefined && !(r.probability >= 0 && r.probability <= 1)) throw new Error(`probability must be in [0, 1], got ${r.probability}`);
    }
    rules = next;
    counters = next.map(() => 0);
    if (seed !== undefined) random = seededRandom(seed);
  };
  setRules(options.rules ?? []);

  /** Call-number rules first (their counters advance on every matching call), then one draw for the probabilistic ones. */
  const decide = (service: AwsServiceName, operation: string): Fault | undefined => {
    let chosen: Fault | undefined;
    rules.forEach((rule, i) => {
      if (rule.calls === undefined || !matches(rule, service, operation)) return;
      counters[i] = (counters[i] ?? 0) + 1;
      if (!chosen && rule.calls.includes(counters[i]!)) chosen = rule.fault;
    });
    if (chosen) return chosen;
    const probabilistic = rules.filter((r) => r.calls === undefined && matches(r, service, operation));
    if (probabilistic.length === 0) return undefined;
    const draw = random();
    let edge = 0;
    for (const rule of probabilistic) {
      edge += rule.probability ?? 0;
      if (draw < edge) return rule.fault;
    }
    return undefined;
  };

  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const forward = (req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent, timeout: 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
      upstream.on('error', reject);
      upstream.end(body);
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const at = Date.now();
        const { service, operation } = identifyCall(req.method ?? 'GET', req.url ?? '/', req.headers, body.toString('utf8'));
        const fault = decide(service, operation);
        const record: ProxiedCall = { at, service, operation, status: 0, ...(fault ? { fault: fault.kind } : {}) };
        calls.push(record);
        try {
          if (fault?.kind === 'latency') await new Promise((r) => setTimeout(r, fault.ms));
          if (fault && fault.kind !== 'latency' && !(fault.kind === 'server-error' && fault.after)) {
            const answer = faultAnswer(service, fault);
            record.status = answer.status;
            res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
            res.end(answer.body);
            return;
          }
          const upstream = await forward(req, body);
          if (fault?.kind === 'server-error') {
            // The call took effect; the client only learns that it failed.
            const answer = faultAnswer(service, fault);
            record.status = answer.status;
            res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
            res.end(answer.body);
            return;
          }
          record.status = upstream.status;
          const headers = { ...upstream.headers };
          delete headers['transfer-encoding'];
          delete headers['connection'];
          delete headers['keep-alive'];
          headers['content-length'] = String(upstream.body.length);
          res.writeHead(upstream.status, headers);
          res.end(upstream.body);
        } catch (err) {
          record.status = 502;
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`fault proxy: upstream failed: ${String(err)}`);
        }
      })();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    setRules,
    injected() {
      const out: Record<string, Partial<Record<FaultKind, number>>> = {};
      for (const c of calls) {
        if (!c.fault) continue;
        const k = (out[`${c.service}.${c.operation}`] ??= {});
        k[c.fault] = (k[c.fault] ?? 0) + 1;
      }
      return out;
    },
    callCounts() {
      const out: Record<string, number> = {};
      for (const c of calls) out[`${c.service}.${c.operation}`] = (out[`${c.service}.${c.operation}`] ?? 0) + 1;
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The most calls any window of the token bucket could have let through, checked over every pair
 * of calls of one service: n calls between t_i and t_j need n <= burst + rate * (t_j - t_i + slack).
 * `slackMs` absorbs the jitter between taking a token and the request reaching the proxy.
 * Returns the worst window found (excess > 0: the budget was exceeded).
 */
export function budgetExcess(times: number[], ratePerSecond: number, burst: number, slackMs: number): { excess: number; calls: number; spanMs: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = { excess: -Infinity, calls: 0, spanMs: 0 };
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const n = j - i + 1;
      const spanMs = sorted[j]! - sorted[i]!;
      const allowed = burst + (ratePerSecond * (spanMs + slackMs)) / 1000;
      const excess = n - allowed;
      if (excess > worst.excess) worst = { excess, calls: n, spanMs };
    }
  }
  return sorted.length === 0 ? { excess: 0, calls: 0, spanMs: 0 } : worst;
}

/** The most calls seen in any window of `windowMs` (for reporting). */
export function peakInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
