// `npm run dev`: the whole orchestrator (webhooks and the leader-elected reconciler) and the AWS
// Load Balancer Controller stand-in, in the foreground, against the local environment (started
// when it is not running). Ctrl-C stops both and unregisters the webhooks.
//
//   tsx server/dev/run.ts [--state-file .local/demo/run.json]
//
// The demo runs this same program in the background with --state-file: the file says where it
// listens once everything is up, and goes away when it stops. Either way the process exits on its
// own when the local environment it runs against is stopped (`npm run env:down`).
import type { KubeConfig } from '@kubernetes/client-node';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { up } from '../../test/env/local-env.js';
import { isRunning } from '../../test/env/processes.js';
import { readState, type EnvState } from '../../test/env/state.js';
import { AwsLoadBalancerControllerStandIn } from '../../test/lbc-standin/standin.js';
import { startReconciler, type RunningReconciler } from '../../reconcile/start.js';
import { createLogger } from '../log.js';
import { localPlatformConfig, startLocalOrchestrator, useLocalAwsCredentials, type LocalOrchestrator } from './local.js';
import { applyPlatformPart } from './platform.js';

// The SDK's notice that its 2027 releases need Node 22 is noise here.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { values } = parseArgs({ options: { 'state-file': { type: 'string' } } });
const stateFile = values['state-file'];
const log = createLogger(process.env['LOG_LEVEL'] ?? 'info');
const say = (line: string) => process.stderr.write(`${line}\n`);

export interface RunState {
  pid: number;
  startedAt: string;
  webhookUrl: string;
  /** Name of the local Validating- and MutatingWebhookConfiguration (one per process). */
  webhookConfiguration: string;
  metricsUrl: string;
  envStartedAt: string;
}

let orchestrator: LocalOrchestrator | undefined;
let standIn: AwsLoadBalancerControllerStandIn | undefined;
let stopping = false;

async function stop(reason: string, options: { environmentGone?: boolean } = {}): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`gateway-orchestrator (dev): stopping (${reason})`);
  const timer = setTimeout(() => {
    say('gateway-orchestrator (dev): did not stop within 20s; exiting');
    process.exit(1);
  }, 20_000);
  timer.unref();
  try {
    await standIn?.stop();
    // With the API server gone there is nothing to unregister and nobody to answer.
    if (!options.environmentGone) await orchestrator?.stop();
  } catch (err) {
    say(`gateway-orchestrator (dev): stop failed: ${String(err)}`);
    process.exitCode = 1;
  } finally {
    if (stateFile) rmSync(stateFile, { force: true });
  }
  process.exit();
}

/** Exits when the environment this process runs against is stopped or replaced. */
function watchEnvironment(env: EnvState): void {
  const timer = setInterval(() => {
    const current = readState();
    const apiserver = env.processes.kubeApiserver;
    if (!current || current.startedAt !== env.startedAt || (apiserver && !isRunning(apiserver))) {
      clearInterval(timer);
      void stop('the local environment was stopped', { environmentGone: true });
    }
  }, 1_000);
}

async function main(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal));
  const { state: env, reused } = await up((line) => say(line));
  say(`local environment ${reused ? 'running' : 'started'}: kube-apiserver ${env.apiserverUrl}, moto ${env.aws.endpoint}`);
  useLocalAwsCredentials(env);
  const config = localPlatformConfig(env);
  await applyPlatformPart(env);

  let running: RunningReconciler | undefined;
  orchestrator = await startLocalOrchestrator({
    config,
    log,
    // Local timings: a short lease (a restarted dev process leads again within seconds) and
    // quick polls of ACM and the load balancers, which moto answers at once.
    startReconciler: async (deps) =>
      (running = await startReconciler(deps, {
        leaseDurationMs: 6_000,
        renewIntervalMs: 2_000,
        batchWindowMs: 200,
        // moto accepts a CREATE over an existing record (Route53 refuses it): re-read the zone
        // before every CREATE, so the demo never writes over a record it did not see.
        zoneFreshMs: 0,
        observer: { describeBaseMs: 1_000, listenerBaseMs: 500, loadBalancerMinIntervalMs: 1_000 },
      })),
  });
  if (stopping) return;
  standIn = new AwsLoadBalancerControllerStandIn({
    kubeConfig: await clientNodeKubeConfig(env.kubeconfig),
    aws: { region: env.aws.region, endpoint: env.aws.endpoint },
    namespace: config.pool.namespace,
    gatewayClassNames: [config.defaults.gatewayClass],
    intervalMs: 500,
    log,
  });
  standIn.start();
  watchEnvironment(env);

  const run: RunState = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    webhookUrl: `https://127.0.0.1:${orchestrator.port}`,
    webhookConfiguration: config.webhook.validatingConfigurationName,
    metricsUrl: `http://127.0.0.1:${orchestrator.metricsPort ?? 0}/metrics`,
    envStartedAt: env.startedAt,
  };
  if (stateFile) {
    mkdirSync(dirname(stateFile), { recursive: true });
    writeFileSync(stateFile, JSON.stringify(run, null, 2) + '\n');
  }
  say(
    [
      'gateway-orchestrator (dev) is running:',
      `  webhooks     ${run.webhookUrl} (registered with the API server as ${run.webhookConfiguration})`,
      `  metrics      ${run.metricsUrl}`,
      `  reconciler   ${running?.isLeader ? 'leading' : 'waiting for the leader lease'} (pool namespace ${config.pool.namespace})`,
      `  LBC stand-in ALBs in moto for Gateways of class ${config.defaults.gatewayClass} in ${config.pool.namespace}`,
      `  kubectl      ${env.kubectl} --kubeconfig ${relative(process.cwd(), env.kubeconfig)} get ghr -A`,
      stateFile ? '' : 'Ctrl-C stops it and unregisters the webhooks.',
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

main().catch((err: unknown) => {
  say(`gateway-orchestrator (dev): ${err instanceof Error ? err.message : String(err)}`);
  if (stateFile) rmSync(stateFile, { force: true });
  void (orchestrator ? stop('start failed') : process.exit(1));
});

/** The stand-in (test code, run here for the demo) uses client-node's generated client. */
async function clientNodeKubeConfig(file: string): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(file);
  return kubeConfig;
}
