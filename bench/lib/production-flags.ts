// How the production Deployment runs the orchestrator (manifests/deployment.yaml): its Node flags
// (NODE_OPTIONS) and the environment that tunes the runtime under Node (glibc's malloc). The
// benchmarks run their orchestrator processes the same way, so memory and throughput figures are
// those of the shipped settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './build.js';

interface Container {
  env?: Array<{ name: string; value?: string }>;
}

/** Variables of the Deployment that change how the process runs, not what it does. */
const RUNTIME_VARIABLES = ['MALLOC_ARENA_MAX'];

function deploymentEnv(): Array<{ name: string; value?: string }> {
  const file = join(REPO_ROOT, 'manifests', 'deployment.yaml');
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const object = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } } | null;
    if (object?.kind !== 'Deployment') continue;
    for (const container of object.spec?.template?.spec?.containers ?? []) {
      if (container.env?.some((e) => e.name === 'NODE_OPTIONS')) return container.env;
    }
  }
  throw new Error(`${file}: no Deployment container sets NODE_OPTIONS`);
}

export function productionNodeFlags(): string[] {
  const value = deploymentEnv().find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return value.split(/\s+/).filter(Boolean);
}

/** The Deployment's runtime variables (MALLOC_ARENA_MAX), to add to a child process's environment. */
export function productionRuntimeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of deploymentEnv()) if (RUNTIME_VARIABLES.includes(e.name) && e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** One line for the benchmark's header: how the orchestrator is run. */
export function describeProductionRuntime(): string {
  const env = Object.entries(productionRuntimeEnv()).map(([k, v]) => `${k}=${v} `).join('');
  return `${env}node ${productionNodeFlags().join(' ')}`;
}
