// autocannon in a process of its own (so it can be pinned to a core), cycling through a file of
// bodies. Usage: autocannon-load.ts <url> <bodies file> <connections> <seconds>. Prints LoadResult.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadResult } from './load.js';

const [url, file, connections, seconds] = process.argv.slice(2);
const bodies = readFileSync(file!, 'utf8').split('\n').filter((l) => l.length > 0);
let next = 0;
const result = await autocannon({
  url: url!,
  method: 'POST',
  connections: Number(connections),
  duration: Number(seconds),
  headers: { 'content-type': 'application/json' },
  requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }) }],
});
const out: LoadResult = {
  tool: 'autocannon',
  requests: result.requests.total,
  seconds: result.duration,
  rps: result.requests.total / result.duration,
  p50Ms: result.latency.p50,
  p90Ms: result.latency.p90,
  p99Ms: result.latency.p99,
  maxMs: result.latency.max,
  meanMs: result.latency.average,
  errors: result.errors + result.timeouts + result.non2xx,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
