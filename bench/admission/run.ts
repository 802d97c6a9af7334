// Admission throughput and latency: the production webhook server (dist/, TLS, real handlers and
// decorators, ownership index filled with N claims and N grants) against a bare fastify HTTPS
// server that allows everything, in the same run, same TLS, same bodies. Server on one core, load
// generator on the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueStandaloneTls } from '../../server/tls.js';
import { describeMachine, loadAverageNow, machineInfo } from '../lib/machine.js';
import { canPin, pinned, processMemory } from '../lib/proc.js';
import { fmt, formatTable } from '../lib/stats.js';
import { REPO_ROOT, buildProduction } from '../lib/build.js';
import { SCENARIO_PATHS, population, routeReviews, scenarioBodies, type ScenarioName } from './dataset.js';
import { loadTool, runLoad, type LoadResult } from './load.js';

export interface AdmissionBenchOptions {
  sizes: number[];
  scenarios: ScenarioName[];
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Distinct bodies per scenario (the load cycles through them). */
  bodies: number;
  /** Write a CPU profile of each orchestrator server into this directory. */
  cpuProfileDir?: string;
}

export interface AdmissionRow {
  server: string;
  holders: number | undefined;
  scenario: ScenarioName;
  load: LoadResult;
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
  const nodeArgs = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, script, ...args] : [script, ...args];
  const [cmd, cmdArgs] = pinned(SERVER_CPU, process.execPath, nodeArgs);
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], cwd: REPO_ROOT });
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
  process.stdout.write(`admission: production build ${buildMs} ms; load tool ${loadTool()}; ${canPin() ? `server on cpu ${SERVER_CPU}, load on cpu ${LOAD_CPU}` : 'NOT PINNED (no taskset)'}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'gwo-bench-admission-'));
  const tls = issueStandaloneTls({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const tlsFile = join(dir, 'tls.json');
  writeFileSync(tlsFile, JSON.stringify({ cert: tls.cert, key: tls.key }));
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });

  const bodyFiles = new Map<string, string>();
  const bodiesFor = (size: number, scenario: ScenarioName) => {
    const key = `${size}-${scenario}`;
    let file = bodyFiles.get(key);
    if (!file) {
      file = join(dir, `${key}.jsonl`);
      writeFileSync(file, `${scenarioBodies(population(size), scenario, options.bodies).join('\n')}\n`);
      bodyFiles.set(key, file);
    }
    return file;
  };
  const largest = Math.max(...options.sizes);
  const mix = routeReviews(population(largest), options.bodies).mix;
  process.stdout.write(
    `admission: route bodies ${options.bodies}, hostnames 1-3 each: ${mix.exact} exact grants, ${mix.wildcardCovered} below a held wildcard, ${mix.unmanaged} outside the allowlist\n`,
  );

  const rows: AdmissionRow[] = [];
  const servers: Array<{ label: string; holders?: number; args: string[] }> = [
    { label: 'bare', args: ['bare', tlsFile] },
    ...options.sizes.map((holders) => ({ label: 'orchestrator', holders, args: ['orchestrator', String(holders), tlsFile] })),
    { label: 'bare', args: ['bare', tlsFile] },
  ];
  for (const s of servers) {
    const server = await startServer(s.args, s.holders !== undefined ? options.cpuProfileDir : undefined);
    try {
      for (const scenario of options.scenarios) {
        const file = bodiesFor(s.holders ?? largest, scenario);
        const { readFileSync } = await import('node:fs');
        const bodies = readFileSync(file, 'utf8').trim().split('\n');
        const url = `https://127.0.0.1:${server.port}${SCENARIO_PATHS[scenario]}`;
        await verify(server.port, tls.caCert, SCENARIO_PATHS[scenario], bodies, scenario === 'ghr-mutate' && s.holders !== undefined);
        const before = s.holders !== undefined ? await server.stats() : undefined;
        if (options.warmupSeconds > 0) await runLoad({ url, bodiesFile: file, connections: options.connections, durationSeconds: options.warmupSeconds, cpu: LOAD_CPU });
        const load = await runLoad({ url, bodiesFile: file, connections: options.connections, durationSeconds: options.durationSeconds, cpu: LOAD_CPU });
        const memory = processMemory(server.child.pid!);
        const row: AdmissionRow = { server: s.label, holders: s.holders, scenario, load, rssBytes: memory.rss, peakRssBytes: memory.peakRss, loadAverage: loadAverageNow() };
        if (before) {
          const after = await server.stats();
          const time = (after.stats['handlerTime'] as Record<string, { count: number; seconds: number }>) ?? {};
          const timeBefore = (before.stats['handlerTime'] as Record<string, { count: number; seconds: number }>) ?? {};
          const webhook = { route: 'validate-routes', 'ghr-validate': 'validate-requests', 'ghr-mutate': 'mutate-requests' }[scenario];
          const count = (time[webhook]?.count ?? 0) - (timeBefore[webhook]?.count ?? 0);
          const seconds = (time[webhook]?.seconds ?? 0) - (timeBefore[webhook]?.seconds ?? 0);
          row.handlerMeanMs = count > 0 ? (seconds / count) * 1000 : NaN;
          row.claimReads = Number(after.stats['claimReads']) - Number(before.stats['claimReads']);
          row.claimCreates = Number(after.stats['claimCreates']) - Number(before.stats['claimCreates']);
        }
        rows.push(row);
        process.stdout.write(
          `  ${s.label}${s.holders !== undefined ? ` ${s.holders}` : ''} ${scenario}: ${fmt.int(load.rps)}/s p50 ${fmt.ms(load.p50Ms)} p99 ${fmt.ms(load.p99Ms)} max ${fmt.ms(load.maxMs)} ms, errors ${load.errors}, RSS ${fmt.mib(memory.rss)} MiB (load ${row.loadAverage})\n`,
        );
      }
    } finally {
      await server.stop();
    }
  }
  return rows;
}

export function admissionTable(rows: AdmissionRow[]): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const bareRps = (scenario: ScenarioName) => {
    const bare = rows.filter((r) => r.server === 'bare' && r.scenario === scenario);
    return bare.reduce((a, r) => a + r.load.rps, 0) / bare.length;
  };
  const table: Array<Array<string | number>> = [
    ['server', 'holders', 'scenario', 'reviews/s', 'vs bare', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'handler ms', 'claim reads', 'RSS MiB', 'load avg'],
  ];
  for (const scenario of scenarios) {
    for (const r of rows.filter((x) => x.scenario === scenario)) {
      table.push([
        r.server,
        r.holders === undefined ? '-' : fmt.int(r.holders),
        scenario === 'ghr-validate' ? 'ghr-validate (in-memory claims)' : scenario,
        fmt.int(r.load.rps),
        r.server === 'bare' ? '1.00x' : fmt.ratio(r.load.rps / bareRps(scenario)),
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
