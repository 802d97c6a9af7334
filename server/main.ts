// The production entry point: `node dist/server/main.js [--config /etc/gateway-orchestrator/config.yaml]`.
// Kubernetes credentials come from the pod's ServiceAccount (or KUBECONFIG), AWS credentials from
// the default chain (IRSA on EKS).
import { ConfigError } from '../policy/config.js';
import { loadPlatformConfig } from './config-file.js';
import { loadDefaultConnection } from './kube/connection.js';
import { log } from './log.js';
import { startOrchestrator } from './orchestrator.js';

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadPlatformConfig(argValue('--config') ?? process.env['GATEWAY_ORCHESTRATOR_CONFIG']);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gateway-orchestrator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const kube = await loadDefaultConnection();
  log.info({ kube: kube.source, server: kube.server.origin }, 'Kubernetes API server');
  const { startReconciler } = await import('../reconcile/start.js');
  const orchestrator = await startOrchestrator({ config, kube, log, startReconciler });
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    orchestrator.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  log.fatal({ err: String(err) }, 'gateway-orchestrator failed to start');
  process.exit(1);
});
