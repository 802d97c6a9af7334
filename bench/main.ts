// `npm run bench [-- <set>]`: the benchmarks, each printing the machine first and its figures after.
//   quick (default)  small sizes, a few seconds each: admission (100 and 10,000 holders), decision,
//                    end to end (100 routes); reconcile only with --reconcile (needs moto + stand-in)
//   admission        10,000 and 100,000 holders, 7 rounds of 3 s per server, alternating
//   decision         100 / 10,000 / 100,000 holders
//   e2e              1,000 routes through the API server
//   reconcile [N..]  requests to Ready against moto with the load-balancer stand-in (default 100)
//   full             admission, decision, e2e
// Options: --json <file> writes every result; --cpu-prof <dir> profiles the benchmark servers;
// admission: --scenario route,ghr-validate,ghr-mutate (default all three);
// reconcile: --concurrency <n> overrides config.reconcile.concurrency, --keep skips the clean-up,
//   --heap-snapshot <dir> writes a heap snapshot of the orchestrator after the steady-state resync.
// The local environment (npm run env:up) is needed for e2e and reconcile.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { admissionTable, benchAdmission } from './admission/run.js';
import { benchDecision, decisionTable } from './admission/decision.js';
import { SCENARIO_PATHS, type ScenarioName } from './admission/dataset.js';
import { benchEndToEnd, e2eTable } from './e2e/run.js';
import { describeMachine, machineInfo } from './lib/machine.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'heap-snapshot': { type: 'string' },
    reconcile: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    keep: { type: 'boolean', default: false },
    scenario: { type: 'string' },
  },
});
const [set = 'quick', ...rest] = positionals;
const results: Record<string, unknown> = { machine: machineInfo(), set };

function heading(title: string): void {
  process.stdout.write(`\n== ${title}\n${describeMachine()}\n`);
}

/** --scenario as a list, refused with the known names when it names another. */
function scenarios(): ScenarioName[] {
  const known = Object.keys(SCENARIO_PATHS) as ScenarioName[];
  if (!values.scenario) return known;
  const asked = values.scenario.split(',').map((s) => s.trim());
  const unknown = asked.filter((s) => !known.includes(s as ScenarioName));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario ${unknown.map((s) => `"${s}"`).join(', ')} (known: ${known.join(', ')})\n`);
    process.exit(2);
  }
  return asked as ScenarioName[];
}

async function admission(sizes: number[], durationSeconds: number, warmupSeconds: number, rounds: number): Promise<void> {
  heading(`admission: production webhook server vs bare fastify, HTTPS, 32 connections, median of ${rounds} alternating rounds of ${durationSeconds} s`);
  const rows = await benchAdmission({
    sizes,
    scenarios: scenarios(),
    connections: 32,
    durationSeconds,
    warmupSeconds,
    rounds,
    bodies: 2000,
    ...(values['cpu-prof'] ? { cpuProfileDir: values['cpu-prof'] } : {}),
  });
  process.stdout.write(`${admissionTable(rows)}\n`);
  results['admission'] = rows;
}

async function decision(sizes: number[], roundMs: number, rounds: number, processesPerSize: number): Promise<void> {
  heading('decision: route admission decided from the ownership index, no HTTP (ns per review, ~2 hostnames each)');
  const rows = await benchDecision({ sizes, roundMs, rounds, processesPerSize, ...(values['cpu-prof'] ? { cpuProfileDir: values['cpu-prof'] } : {}) });
  process.stdout.write(`${decisionTable(rows)}\n`);
  results['decision'] = rows;
}

async function e2e(routes: number): Promise<void> {
  heading(`end to end: ${routes} HTTPRoute creates through the API server, with and without the route webhook`);
  const r = await benchEndToEnd({ routes, blocks: routes >= 500 ? 10 : 2, warmup: 3 });
  process.stdout.write(`${e2eTable(r)}\nerrors ${r.errors}; load average during the blocks: ${r.loadAverage.join(' | ')}\n`);
  results['e2e'] = r;
}

async function reconcile(sizes: number[]): Promise<void> {
  const { benchReconcile, reconcileTables } = await import('./reconcile/run.js');
  for (const requests of sizes) {
    heading(`reconcile: ${requests} requests to Ready against moto with the load-balancer stand-in`);
    const r = await benchReconcile({
      requests,
      cleanup: !values.keep,
      ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
      ...(values['cpu-prof'] ? { cpuProfileDir: values['cpu-prof'] } : {}),
      ...(values['heap-snapshot'] ? { heapSnapshotDir: values['heap-snapshot'] } : {}),
    });
    process.stdout.write(`${reconcileTables(r)}\n`);
    ((results['reconcile'] ??= []) as unknown[]).push(r);
  }
}

switch (set) {
  case 'quick':
    await admission([100, 10_000], 2, 1, 4);
    await decision([100, 10_000, 100_000], 200, 7, 1);
    await e2e(100);
    if (values.reconcile) await reconcile([20]);
    break;
  case 'admission':
    await admission([10_000, 100_000], 3, 2, 7);
    break;
  case 'decision':
    await decision([100, 10_000, 100_000], 500, 5, 3);
    break;
  case 'e2e':
    await e2e(Number(rest[0] ?? 1000));
    break;
  case 'reconcile':
    await reconcile(rest.length ? rest.map(Number) : [100]);
    break;
  case 'full':
    await admission([10_000, 100_000], 3, 2, 7);
    await decision([100, 10_000, 100_000], 500, 5, 3);
    await e2e(1000);
    break;
  default:
    process.stderr.write(`unknown benchmark set "${set}" (quick, admission, decision, e2e, reconcile, full)\n`);
    process.exit(2);
}
process.stdout.write(`\n${describeMachine()}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
