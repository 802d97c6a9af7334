// Admission throughput and latency: the production webhook server (dist/, TLS, real handlers and
// decorators, ownership index filled with N claims and N grants) against a bare fastify HTTPS
// server that allows everything, in the same run, same TLS, same bodies. Servers on one core, load
// generator on the other; measurements alternate between the servers, median of the rounds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueStandaloneTls } from '../../server/tls.js';
import { describeProductionRuntime, productionNodeFlags, productionRuntimeEnv } from '../lib/production-flags.js';
import { describeMachine, loadAverageNow, machineInfo } from '../lib/machine.js';
import { canPin, pinned, processCpuSeconds, processMemory } from '../lib/proc.js';
import { fmt, formatTable, median } from '../lib/stats.js';
import { REPO_ROOT, buildProduction } from '../lib/build.js';
import { SCENARIO_PATHS, population, routeReviews, scenarioBodies, type ScenarioName } from './dataset.js';
import { loadTool, runLoad, type LoadResult } from './load.js';

export interface AdmissionBenchOptions {
  sizes: number[];
  scenarios: ScenarioName[];
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Measurements per server and scenario, alternating between the servers; the median is reported. */
  rounds: number;
  /** Distinct bodies per scenario (the load cycles through them). */
  bodies: number;
  /** Write a CPU profile of each orchestrator server into this directory. */
  cpuProfileDir?: string;
}

export interface AdmissionRow {
  server: string;
  holders: number | undefined;
  scenario: ScenarioName;
  /** Median over the rounds (max: largest). */
  load: LoadResult;
  /** reviews/s of each round. */
  rounds: number[];
  /** Median over the rounds of reviews/s against the bare server's in the same round. */
  vsBare: number;
  /** Median over the rounds of the bare server's CPU per review against this one's, same round. */
  cpuVsBare: number;
  /** Mutation only: as vsBare, against the bare server that answers with a patch as long. */
  vsBarePatch?: number;
  /** Server CPU time (user + system) per review, median over the rounds. */
  cpuUsPerReview: number;
  rssBytes: number;
  peakRssBytes: number;
  /** Mean time inside the decorated handler, from the production histogram (orchestrator only). */
  handlerMeanMs?: number;
  claimReads?: number;
  claimCreates?: number;
  loadAverage: string;
}

const SERVER_CPU = 0;
const LOAD_CPU = 1;

interface RunningServer {
  child: ChildProcess;
  port: number;
  stats(): Promise<{ stats: Record<string, unknown>; memory: NodeJS.MemoryUsage }>;
  stop(): Promise<void>;
}

async function startServer(args: string[], cpuProfileDir?: string): Promise<RunningServer> {
  const script = join(REPO_ROOT, 'dist/bench/admission/server-main.js');
  // Both servers, the bare one too, with the production Deployment's Node flags and runtime variables.
  const flags = productionNodeFlags();
  const nodeArgs = cpuProfileDir ? [...flags, '--cpu-prof', '--cpu-prof-dir', cpuProfileDir, script, ...args] : [...flags, script, ...args];
  const [cmd, cmdArgs] = pinned(SERVER_CPU, process.execPath, nodeArgs);
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], cwd: REPO_ROOT, env: { ...process.env, ...productionRuntimeEnv() } });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer) => {
      buffered += d.toString();
      const nl = buffered.indexOf('\n');
      if (nl === -1) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume(); // keep draining the server's log lines
      try {
        resolve((JSON.parse(buffered.slice(0, nl)) as { port: number }).port);
      } catch (err) {
        reject(new Error(`bench server printed ${buffered.slice(0, 200)}: ${String(err)}`));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code} before listening`)));
  });
  return {
    child,
    port,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m: { stats: Record<string, unknown>; memory: NodeJS.MemoryUsage }) => resolve(m));
        child.send({ type: 'stats' });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Sends every body once and checks the answer, so the load measures what it claims to. */
async function verify(port: number, caCert: string, path: string, bodies: string[], expectPatch: boolean): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: caCert });
  try {
    await Promise.all(
      bodies.map(
        (body) =>
          new Promise<void>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', servername: 'localhost', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
              let text = '';
              res.on('data', (d: Buffer) => (text += d.toString()));
              res.on('end', () => {
                const answer = JSON.parse(text) as { response?: { allowed?: boolean; uid?: string; patch?: string; status?: { message?: string } } };
                const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
                if (res.statusCode !== 200 || answer.response?.allowed !== true || answer.response.uid !== uid) {
                  reject(new Error(`${path}: expected allowed for uid ${uid}, got ${res.statusCode} ${text.slice(0, 300)}`));
                } else if (expectPatch && !answer.response.patch) {
                  reject(new Error(`${path}: expected a patch, got ${text.slice(0, 300)}`));
                } else resolve();
              });
            });
            req.on('error', reject);
            req.end(body);
          }),
      ),
    );
  } finally {
    agent.destroy();
  }
}

export async function benchAdmission(options: AdmissionBenchOptions): Promise<AdmissionRow[]> {
  const buildMs = await buildProduction();
  process.stdout.write(`admission: production build ${buildMs} ms; ${describeProductionRuntime()} (manifests/deployment.yaml); load tool ${loadTool()}; ${canPin() ? `servers on cpu ${SERVER_CPU}, load on cpu ${LOAD_CPU}` : 'NOT PINNED (no taskset)'}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'gwo-bench-admission-'));
  const tls = issueStandaloneTls({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const tlsFile = join(dir, 'tls.json');
  writeFileSync(tlsFile, JSON.stringify({ cert: tls.cert, key: tls.key }));
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  const largest = Math.max(...options.sizes);
  const mix = routeReviews(population(largest), options.bodies).mix;
  process.stdout.write(
    `admission: route bodies ${options.bodies}, hostnames 1-3 each: ${mix.exact} exact grants, ${mix.wildcardCovered} below a held wildcard, ${mix.unmanaged} outside the allowlist\n`,
  );

  // Every server runs for the whole benchmark (idle ones cost nothing); measurements alternate
  // between them round by round, so a change in background load hits all of them alike.
  // A mutating webhook answers with a patch: for the mutation, a second ceiling sends one as long.
  const mutation = options.scenarios.includes('ghr-mutate');
  const specs: Array<{ label: string; holders?: number; args: string[]; only?: ScenarioName }> = [
    { label: 'bare', args: ['bare', tlsFile] },
    ...(mutation ? [{ label: 'bare+patch', args: ['bare', 'patch', tlsFile], only: 'ghr-mutate' as const }] : []),
    ...options.sizes.map((holders) => ({ label: 'orchestrator', holders, args: ['orchestrator', String(holders), tlsFile] })),
  ];
  const servers: Array<{ spec: (typeof specs)[number]; server: RunningServer }> = [];
  const rows: AdmissionRow[] = [];
  try {
    for (const spec of specs) servers.push({ spec, server: await startServer(spec.args, options.cpuProfileDir ? join(options.cpuProfileDir, spec.holders === undefined ? spec.label : String(spec.holders)) : undefined) });
    for (const scenario of options.scenarios) {
      const active = servers.filter(({ spec }) => spec.only === undefined || spec.only === scenario);
      const files = new Map<RunningServer, string>();
      for (const { spec, server } of active) {
        const bodies = scenarioBodies(population(spec.holders ?? largest), scenario, options.bodies);
        const file = join(dir, `${spec.holders ?? spec.label}-${scenario}.jsonl`);
        writeFileSync(file, `${bodies.join('\n')}\n`);
        files.set(server, file);
        await verify(server.port, tls.caCert, SCENARIO_PATHS[scenario], bodies, scenario === 'ghr-mutate' && spec.label !== 'bare');
        const url = `https://127.0.0.1:${server.port}${SCENARIO_PATHS[scenario]}`;
        if (options.warmupSeconds > 0) await runLoad({ url, bodiesFile: file, connections: options.connections, durationSeconds: options.warmupSeconds, cpu: LOAD_CPU });
      }
      const rounds = new Map<RunningServer, { loads: LoadResult[]; cpuUs: number[]; handlerMs: number[]; claimReads: number; claimCreates: number }>();
      for (let round = 0; round < options.rounds; round++) {
        // Forward, then backward (A B C, C B A, ...): a drift in the machine's speed during a
        // round favours no server, and each orchestrator round has a bare round next to it.
        for (const { spec, server } of round % 2 === 0 ? active : [...active].reverse()) {
          const url = `https://127.0.0.1:${server.port}${SCENARIO_PATHS[scenario]}`;
          const before = spec.holders !== undefined ? await server.stats() : undefined;
          const cpuBefore = processCpuSeconds(server.child.pid!);
          const load = await runLoad({ url, bodiesFile: files.get(server)!, connections: options.connections, durationSeconds: options.durationSeconds, cpu: LOAD_CPU });
          const cpuUs = ((processCpuSeconds(server.child.pid!) - cpuBefore) * 1e6) / Math.max(1, load.requests);
          const entry = rounds.get(server) ?? { loads: [], cpuUs: [], handlerMs: [], claimReads: 0, claimCreates: 0 };
          entry.loads.push(load);
          entry.cpuUs.push(cpuUs);
          if (before) {
            const after = await server.stats();
            const webhook = { route: 'validate-routes', 'ghr-validate': 'validate-requests', 'ghr-mutate': 'mutate-requests' }[scenario];
            const time = (x: typeof after) => (x.stats['handlerTime'] as Record<string, { count: number; seconds: number }>)[webhook] ?? { count: 0, seconds: 0 };
            const count = time(after).count - time(before).count;
            entry.handlerMs.push(count > 0 ? ((time(after).seconds - time(before).seconds) / count) * 1000 : NaN);
            entry.claimReads += Number(after.stats['claimReads']) - Number(before.stats['claimReads']);
            entry.claimCreates += Number(after.stats['claimCreates']) - Number(before.stats['claimCreates']);
          }
          rounds.set(server, entry);
        }
      }
      const bareEntry = rounds.get(servers[0]!.server)!;
      const barePatchServer = active.find(({ spec }) => spec.label === 'bare+patch')?.server;
      const barePatchEntry = barePatchServer ? rounds.get(barePatchServer) : undefined;
      for (const { spec, server } of active) {
        const entry = rounds.get(server)!;
        const memory = processMemory(server.child.pid!);
        // Paired: each round's figure against the bare server's in the same round, then the median.
        const vsBare = median(entry.loads.map((l, i) => l.rps / bareEntry.loads[i]!.rps));
        const cpuVsBare = median(entry.cpuUs.map((us, i) => bareEntry.cpuUs[i]! / us));
        const vsBarePatch = barePatchEntry && spec.holders !== undefined ? median(entry.loads.map((l, i) => l.rps / barePatchEntry.loads[i]!.rps)) : undefined;
        const load = medianLoad(entry.loads);
        const row: AdmissionRow = {
          server: spec.label,
          holders: spec.holders,
          scenario,
          load,
          rounds: entry.loads.map((l) => Math.round(l.rps)),
          vsBare,
          cpuVsBare,
          ...(vsBarePatch !== undefined ? { vsBarePatch } : {}),
          cpuUsPerReview: median(entry.cpuUs),
          rssBytes: memory.rss,
          peakRssBytes: memory.peakRss,
          loadAverage: loadAverageNow(),
          ...(spec.holders !== undefined ? { handlerMeanMs: median(entry.handlerMs), claimReads: entry.claimReads, claimCreates: entry.claimCreates } : {}),
        };
        rows.push(row);
        process.stdout.write(
          `  ${spec.label}${spec.holders !== undefined ? ` ${spec.holders}` : ''} ${scenario}: ${fmt.int(load.rps)}/s (rounds ${row.rounds.join(', ')}; ${fmt.ratio(vsBare)} of bare${vsBarePatch !== undefined ? `, ${fmt.ratio(vsBarePatch)} of bare+patch` : ''}, paired by round) p50 ${fmt.ms(load.p50Ms)} p99 ${fmt.ms(load.p99Ms)} max ${fmt.ms(load.maxMs)} ms, errors ${load.errors}, CPU ${fmt.int(row.cpuUsPerReview)} us/review, RSS ${fmt.mib(memory.rss)} MiB (load ${row.loadAverage})\n`,
        );
      }
    }
  } finally {
    for (const { server } of servers) await server.stop();
  }
  return rows;
}

/** Per figure, the median over rounds (max: the largest); errors add up. */
function medianLoad(loads: LoadResult[]): LoadResult {
  const pick = (f: (l: LoadResult) => number) => median(loads.map(f));
  return {
    tool: loads[0]!.tool,
    requests: loads.reduce((a, l) => a + l.requests, 0),
    seconds: loads.reduce((a, l) => a + l.seconds, 0),
    rps: pick((l) => l.rps),
    p50Ms: pick((l) => l.p50Ms),
    p90Ms: pick((l) => l.p90Ms),
    p99Ms: pick((l) => l.p99Ms),
    maxMs: Math.max(...loads.map((l) => l.maxMs)),
    meanMs: pick((l) => l.meanMs),
    errors: loads.reduce((a, l) => a + l.errors, 0),
  };
}

export function admissionTable(rows: AdmissionRow[]): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const table: Array<Array<string | number>> = [
    ['server', 'holders', 'scenario', 'reviews/s', 'rounds', 'vs bare', 'vs bare+patch', 'CPU us/review', 'bare/this CPU', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'handler ms', 'claim reads', 'RSS MiB', 'load avg'],
  ];
  for (const scenario of scenarios) {
    for (const r of rows.filter((x) => x.scenario === scenario)) {
      table.push([
        r.server,
        r.holders === undefined ? '-' : fmt.int(r.holders),
        scenario === 'ghr-validate' ? 'ghr-validate (in-memory claims)' : scenario,
        fmt.int(r.load.rps),
        r.rounds.map((v) => fmt.int(v)).join(' / '),
        fmt.ratio(r.vsBare),
        r.vsBarePatch === undefined ? '-' : fmt.ratio(r.vsBarePatch),
        fmt.int(r.cpuUsPerReview),
        fmt.ratio(r.cpuVsBare),
        fmt.ms(r.load.p50Ms),
        fmt.ms(r.load.p99Ms),
        fmt.ms(r.load.maxMs),
        r.load.errors,
        r.handlerMeanMs === undefined ? '-' : fmt.ms(r.handlerMeanMs, 3),
        r.claimReads === undefined ? '-' : r.claimReads,
        fmt.mib(r.rssBytes),
        r.loadAverage,
      ]);
    }
  }
  return formatTable(table);
}

export { describeMachine, machineInfo };
