// Driver of the decision micro-benchmark: one pinned process per index size (dist build), sizes in
// turn and then in reverse; each process reports the median of its rounds, and the better of the
// two passes is kept per size (a pass disturbed by other work on the machine only gets slower).
import { join } from 'node:path';
import { REPO_ROOT, buildProduction } from '../lib/build.js';
import { loadAverageNow } from '../lib/machine.js';
import { pinned, run } from '../lib/proc.js';
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
}

interface DecisionOutput {
  holders: number;
  decisionNs: number;
  handlerNs: number;
  decisionCpuNs: number;
  handlerCpuNs: number;
  hostnamesPerRequest: number;
  heapUsed: number;
}

export async function benchDecision(options: { sizes: number[]; roundMs: number; rounds: number; cpuProfileDir?: string }): Promise<DecisionRow[]> {
  await buildProduction();
  const script = join(REPO_ROOT, 'dist/bench/admission/decision-main.js');
  const passes: DecisionOutput[][] = [];
  for (const order of [options.sizes, [...options.sizes].reverse()]) {
    const pass: DecisionOutput[] = [];
    for (const holders of order) {
      const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
      const [cmd, args] = pinned(0, process.execPath, [...profile, script, String(holders), String(options.roundMs), String(options.rounds)]);
      const { stdout } = await run(cmd, args, { cwd: REPO_ROOT });
      pass.push(JSON.parse(stdout.trim().split('\n').pop()!) as DecisionOutput);
    }
    passes.push(pass);
  }
  return options.sizes.map((holders) => {
    const results = passes.flatMap((p) => p.filter((r) => r.holders === holders));
    const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
    return {
      holders,
      decisionNs: mid(results.map((r) => r.decisionNs)),
      handlerNs: mid(results.map((r) => r.handlerNs)),
      decisionCpuNs: mid(results.map((r) => r.decisionCpuNs)),
      handlerCpuNs: mid(results.map((r) => r.handlerCpuNs)),
      hostnamesPerRequest: results[0]!.hostnamesPerRequest,
      heapUsedBytes: results[0]!.heapUsed,
      loadAverage: loadAverageNow(),
    };
  });
}

export function decisionTable(rows: DecisionRow[]): string {
  const base = rows[0]!;
  return formatTable([
    [
      'holders (claims = grants)',
      'decision ns/review',
      `vs ${fmt.int(base.holders)}`,
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
