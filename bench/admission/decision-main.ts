// The route decision alone, without HTTP: how its cost grows with the ownership index. Compiled
// with the production build and run as its own process (one per index size, so the heap and the
// JIT start equal):
//
//   node dist/bench/admission/decision-main.js <holders> <milliseconds per round>
//
// then one line "round" on stdin per round (anything else ends it); answers one JSON line per round.
//
// Times checkRoute (policy/admission.ts, the pure decision the route webhook makes from the index)
// and the decorated handler as production wires it (metrics, audit, errors around
// validateRouteHandler), over the same route reviews the HTTP benchmark sends.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { checkRoute, type AdmissionRequest } from '../../policy/admission.js';
import { parsePlatformConfig } from '../../policy/config.js';
import { HostnameOwnershipIndex } from '../../policy/ownership.js';
import { createLogger } from '../../server/log.js';
import { validateRouteHandler, type Handler } from '../../server/admission/handlers.js';
import { withAudit, withErrors, withMetrics } from '../../server/admission/review.js';
import { BENCH_DOMAINS, POOL_NAMESPACE, fillIndex, population, routeReviews } from './dataset.js';

const [holdersArg, roundMsArg] = process.argv.slice(2);
const holders = Number(holdersArg ?? 100);
const roundMs = Number(roundMsArg ?? 300);

const config = parsePlatformConfig({ clusterId: 'bench', allowedDomains: BENCH_DOMAINS.map((domain) => ({ domain })), pool: { namespace: POOL_NAMESPACE } });
const pop = population(holders);
const index = new HostnameOwnershipIndex();
fillIndex(index, pop);
const requests = routeReviews(pop, 4000, 7).bodies.map((b) => (JSON.parse(b) as { request: AdmissionRequest }).request);
const log = createLogger('info');
const noClaims = {
  claim: () => Promise.reject(new Error('the route benchmark must not claim')),
  read: () => Promise.reject(new Error('the route benchmark must be decided from the index')),
};
const handler: Handler = withMetrics('validate-routes', withAudit('validate-routes', withErrors(validateRouteHandler({ config, index, claims: noClaims, zoneNameOf: () => undefined }), log), { log, events: undefined }));

// Every request must be allowed from the index, or the figures measure something else.
for (const r of requests) {
  const check = checkRoute(r, config, index);
  if (check.kind !== 'allow') throw new Error(`route ${r.name} in ${r.namespace} was not allowed from the index: ${JSON.stringify(check).slice(0, 300)}`);
}

let sink = 0;
/** CPU time (user + system) of this process, ns per review, of the round just timed: on a shared
 *  machine the wall time also counts the time other processes held the core. */
let lastCpuNs = 0;
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1e3;
};

function timeSync(): number {
  const cpuStart = cpuNow();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < roundMs) {
    for (const r of requests) {
      const check = checkRoute(r, config, index);
      if (check.kind === 'allow') sink += check.warnings.length;
    }
    ops += requests.length;
    now = performance.now();
  }
  lastCpuNs = (cpuNow() - cpuStart) / ops;
  return ((now - start) * 1e6) / ops;
}

async function timeHandler(): Promise<number> {
  const cpuStart = cpuNow();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < roundMs) {
    for (const r of requests) {
      const decision = await handler(r);
      if (decision.allowed) sink++;
    }
    ops += requests.length;
    now = performance.now();
  }
  lastCpuNs = (cpuNow() - cpuStart) / ops;
  return ((now - start) * 1e6) / ops;
}

const hostnamesPerRequest = requests.reduce((a, r) => a + ((r.object as { spec: { hostnames: string[] } }).spec.hostnames.length), 0) / requests.length;
const send = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

// One untimed round each to warm the JIT, then rounds on request: the driver runs every index
// size as its own process on the same core and asks them for rounds in turn, so a slow spell of
// the machine (other tenants of the host, frequency) hits every size alike.
timeSync();
await timeHandler();
send({ ready: true, holders, claims: index.claimCount, grants: index.grantCount, hostnamesPerRequest });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'round') break;
  const decisionNs = timeSync();
  const decisionCpuNs = lastCpuNs;
  const handlerNs = await timeHandler();
  send({ decisionNs, decisionCpuNs, handlerNs, handlerCpuNs: lastCpuNs, heapUsed: process.memoryUsage().heapUsed, sink });
}
lines.close();
