// The load generator, pinned to its own core: wrk (C, microsecond latencies) when it is installed
// (Debian: apt-get install wrk), else autocannon from npm (run in its own Node process; it records
// latencies in whole milliseconds, so its p50/p99 are coarse). Both keep `connections` requests in
// flight, cycling through a file of bodies (one JSON document a line).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { pinned, run } from '../lib/proc.js';

export interface LoadOptions {
  url: string;
  bodiesFile: string;
  connections: number;
  durationSeconds: number;
  /** CPU to pin the load generator to. */
  cpu?: number;
}

export interface LoadResult {
  tool: 'wrk' | 'autocannon';
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Socket errors, timeouts and non-2xx answers. */
  errors: number;
}

let wrkAvailable: boolean | undefined;
export function loadTool(): 'wrk' | 'autocannon' {
  wrkAvailable ??= spawnSync('wrk', ['--version']).error === undefined;
  return process.env['BENCH_LOAD_TOOL'] === 'autocannon' || !wrkAvailable ? 'autocannon' : 'wrk';
}

const WRK_SCRIPT = `
local prepared = {}
local next_index = 0
function init(args)
  for line in io.lines(args[1]) do
    prepared[#prepared + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
  end
end
function request()
  next_index = next_index + 1
  if next_index > #prepared then next_index = 1 end
  return prepared[next_index]
end
function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format('BENCH-JSON {"requests":%d,"durationUs":%d,"errors":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

let scriptPath: string | undefined;

async function runWrk(o: LoadOptions): Promise<LoadResult> {
  if (!scriptPath) {
    scriptPath = join(mkdtempSync(join(tmpdir(), 'gwo-bench-')), 'admission.lua');
    writeFileSync(scriptPath, WRK_SCRIPT);
  }
  const [cmd, args] = pinned(o.cpu, 'wrk', ['-t1', `-c${o.connections}`, `-d${o.durationSeconds}s`, '--timeout', '5s', '-s', scriptPath, o.url, '--', o.bodiesFile]);
  const { stdout } = await run(cmd, args);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH-JSON '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH-JSON '.length)) as { requests: number; durationUs: number; errors: number; p50: number; p90: number; p99: number; max: number; mean: number };
  const seconds = r.durationUs / 1e6;
  return { tool: 'wrk', requests: r.requests, seconds, rps: r.requests / seconds, p50Ms: r.p50 / 1000, p90Ms: r.p90 / 1000, p99Ms: r.p99 / 1000, maxMs: r.max / 1000, meanMs: r.mean / 1000, errors: r.errors };
}

async function runAutocannon(o: LoadOptions): Promise<LoadResult> {
  const worker = fileURLToPath(new URL('./autocannon-load.ts', import.meta.url));
  const [cmd, args] = pinned(o.cpu, process.execPath, ['--import', 'tsx', worker, o.url, o.bodiesFile, String(o.connections), String(o.durationSeconds)]);
  const { stdout } = await run(cmd, args);
  return JSON.parse(stdout.trim().split('\n').pop()!) as LoadResult;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return loadTool() === 'wrk' ? runWrk(o) : runAutocannon(o);
}
