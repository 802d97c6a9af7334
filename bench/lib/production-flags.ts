// The Node flags the production Deployment runs the orchestrator with (NODE_OPTIONS in
// manifests/deployment.yaml): the benchmarks run their orchestrator processes with the same, so
// memory and throughput figures are those of the shipped settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './build.js';

interface Container {
  env?: Array<{ name: string; value?: string }>;
}

export function productionNodeFlags(): string[] {
  const file = join(REPO_ROOT, 'manifests', 'deployment.yaml');
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const object = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } } | null;
    if (object?.kind !== 'Deployment') continue;
    for (const container of object.spec?.template?.spec?.containers ?? []) {
      const value = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
      if (value !== undefined) return value.split(/\s+/).filter(Boolean);
    }
  }
  throw new Error(`${file}: no Deployment container sets NODE_OPTIONS`);
}
