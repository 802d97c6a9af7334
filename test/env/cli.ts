// npm run env:up | env:down, or: npx tsx test/env/cli.ts up|down|status|prepare
//   up       start the local environment, or reuse the running one (idempotent)
//   down     stop every process `up` started and remove the run data
//   status   show what runs and whether it is healthy (exit 1 when not)
//   prepare  build/install everything `up` needs without starting anything (CI)

import { relative } from 'node:path';
import { EnvError } from './errors.js';
import { down, handleInterrupts, prepare, status, up } from './local-env.js';
import { repoRoot } from './paths.js';
import type { EnvState } from './state.js';

// The AWS SDK's notice that its 2027 releases need Node 22 is noise in this tool's output.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const rel = (path: string) => relative(process.cwd(), path) || '.';

function summary(state: EnvState): string {
  const zones = Object.entries(state.aws.zoneIds).map(([zone, id]) => `${zone}=${id}`).join(' ');
  return [
    `  kube-apiserver ${state.kubernetesVersion}  ${state.apiserverUrl}   export KUBECONFIG=${state.kubeconfig}`,
    `  etcd                     http://127.0.0.1:${state.ports.etcdClient}`,
    `  moto (AWS)               ${state.aws.endpoint}    set -a; . ${rel(state.awsEnv)}; set +a`,
    `  Route53 hosted zones     ${zones}`,
    `  kubectl (same version)   ${state.kubectl}`,
    `  logs                     ${rel(state.runDir)}/logs/`,
  ].join('\n');
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      handleInterrupts();
      const started = Date.now();
      const { state, reused } = await up();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`local environment ${reused ? 'already running' : 'started'} (${seconds}s)\n${summary(state)}`);
      return 0;
    }
    case 'down': {
      const stopped = await down();
      console.log(stopped.length > 0 ? `local environment stopped: ${stopped.join(', ')}` : 'local environment was not running');
      return 0;
    }
    case 'status': {
      const s = await status();
      if (!s.state) {
        console.log('local environment: not running');
        return 1;
      }
      console.log(`local environment: ${s.healthy ? 'healthy' : 'UNHEALTHY'}, started ${s.state.startedAt}`);
      for (const [name, health] of Object.entries(s.health ?? {})) {
        const daemon = s.state.processes[name as keyof EnvState['processes']];
        console.log(`  ${name.padEnd(14)} ${health.padEnd(15)} pid ${daemon?.pid ?? '-'}`);
      }
      console.log(summary(s.state));
      return s.healthy ? 0 : 1;
    }
    case 'prepare': {
      const { binDir, motoServer } = prepare();
      console.log(`prepared: binaries in ${binDir}, moto in ${motoServer}, CRD modules in the Go module cache`);
      return 0;
    }
    default:
      console.error(`usage: tsx ${rel(repoRoot + '/test/env/cli.ts')} up|down|status|prepare`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv[2]);
} catch (err) {
  if (err instanceof EnvError) {
    console.error(`error: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = err instanceof EnvError && err.message.startsWith('interrupted') ? 130 : 1;
}
