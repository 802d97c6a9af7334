// Driver of the decision micro-benchmark: a few processes per index size (dist build), all pinned
// to one core, asked for rounds in turn; the median of all rounds of a size is reported, and the
// spread of its processes' own medians.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, buildProduction } from '../lib/build.js';
import { loadAverageNow } from '../lib/machine.js';
import { pinned } from '../lib/proc.js';
import { fmt, formatTable } from '../lib/stats.js';

export interface DecisionRow {
  holders: number;
  decisionNs: number;
  handlerNs: number;
  /** CPU time of the process per review (user + system), median of the rounds: steadier on a shared machine. */
  decisionCpuNs: number;
  handlerCpuNs: number;
  hostnamesPerRequest: number;
  heapUsedBytes: number;
  loadAverage: string;
  /** checkRoute's median per process of this size, lowest and highest: how much one process's luck moves the figure. */
  decisionNsByProcess: { low: number; high: number };
}

interface RoundOutput {
  decisionNs: number;
  handlerNs: number;
  decisionCpuNs: number;
  handlerCpuNs: number;
  heapUsed: number;
}

/** One size's process: set up once, then answers a JSON line per "round" line. */
class SizeProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(
    readonly holders: number,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async next<T>(): Promise<T> {
    const line = await this.lines.next();
    if (line.done) throw new Error(`the decision process for ${this.holders} holders ended early:\n${this.stderr}`);
    return JSON.parse(line.value) as T;
  }

  async round(): Promise<RoundOutput> {
    this.child.stdin.write('round\n');
    return this.next<RoundOutput>();
  }

  async end(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('close', resolve));
    this.child.stdin.end('end\n');
    await exited;
  }
}

export async function benchDecision(options: {
  sizes: number[];
  roundMs: number;
  /** Rounds per process. */
  rounds: number;
  /** Processes per size: the same size in two processes measured up to 28% apart on one VM (JIT and heap layout differ), more than rounds in one process do. */
  processesPerSize: number;
  cpuProfileDir?: string;
}): Promise<DecisionRow[]> {
  await buildProduction();
  const script = join(REPO_ROOT, 'dist/bench/admission/decision-main.js');
  // Every size in processes of its own (own heap and JIT), all pinned to one core; one runs a round
  // at a time. Rounds go through the sizes in turn, ascending and then descending, so each size
  // meets the machine's slow and fast spells alike (runs one size after another differed by 2x).
  const processes = options.sizes.flatMap((holders) => Array.from({ length: options.processesPerSize }, () => holders)).map((holders) => {
    const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
    const [cmd, args] = pinned(0, process.execPath, [...profile, script, String(holders), String(options.roundMs)]);
    return new SizeProcess(holders, cmd, args);
  });
  try {
    const ready = new Map<number, { hostnamesPerRequest: number }>();
    for (const p of processes) ready.set(p.holders, await p.next<{ hostnamesPerRequest: number }>());
    const rounds = new Map<SizeProcess, RoundOutput[]>(processes.map((p) => [p, []]));
    for (let i = 0; i < options.rounds; i++) {
      const order = i % 2 === 0 ? processes : [...processes].reverse();
      for (const p of order) rounds.get(p)!.push(await p.round());
    }
    const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
    return options.sizes.map((holders) => {
      const own = processes.filter((p) => p.holders === holders).map((p) => rounds.get(p)!);
      const results = own.flat();
      const perProcess = own.map((r) => mid(r.map((x) => x.decisionNs)));
      return {
        holders,
        decisionNs: mid(results.map((r) => r.decisionNs)),
        handlerNs: mid(results.map((r) => r.handlerNs)),
        decisionCpuNs: mid(results.map((r) => r.decisionCpuNs)),
        handlerCpuNs: mid(results.map((r) => r.handlerCpuNs)),
        hostnamesPerRequest: ready.get(holders)!.hostnamesPerRequest,
        heapUsedBytes: results.at(-1)!.heapUsed,
        loadAverage: loadAverageNow(),
        decisionNsByProcess: { low: Math.min(...perProcess), high: Math.max(...perProcess) },
      };
    });
  } finally {
    await Promise.all(processes.map((p) => p.end()));
  }
}

export function decisionTable(rows: DecisionRow[]): string {
  const base = rows[0]!;
  return formatTable([
    [
      'holders (claims = grants)',
      'decision ns/review',
      `vs ${fmt.int(base.holders)}`,
      'per process',
      'handler ns/review',
      `vs ${fmt.int(base.holders)}`,
      'decision CPU ns',
      `vs ${fmt.int(base.holders)}`,
      'handler CPU ns',
      `vs ${fmt.int(base.holders)}`,
      'heap MiB',
      'load avg',
    ],
    ...rows.map((r) => [
      fmt.int(r.holders),
      fmt.int(r.decisionNs),
      fmt.ratio(r.decisionNs / base.decisionNs),
      r.decisionNsByProcess.low === r.decisionNsByProcess.high ? fmt.int(r.decisionNsByProcess.low) : `${fmt.int(r.decisionNsByProcess.low)}-${fmt.int(r.decisionNsByProcess.high)}`,
      fmt.int(r.handlerNs),
      fmt.ratio(r.handlerNs / base.handlerNs),
      fmt.int(r.decisionCpuNs),
      fmt.ratio(r.decisionCpuNs / base.decisionCpuNs),
      fmt.int(r.handlerCpuNs),
      fmt.ratio(r.handlerCpuNs / base.handlerCpuNs),
      fmt.mib(r.heapUsedBytes),
      r.loadAverage,
    ]),
  ]);
}
