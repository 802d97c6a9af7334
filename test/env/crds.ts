// CustomResourceDefinitions a real EKS cluster would serve (Gateway API standard channel, the
// AWS Load Balancer Controller's LoadBalancerConfiguration), fetched at setup time from their
// pinned Go modules and never committed, plus the project's own crds/*.yaml.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { EnvError } from './errors.js';
import { repoRoot } from './paths.js';
import { AWS_LOAD_BALANCER_CONTROLLER, GATEWAY_API } from './versions.js';

export const GO_MISSING =
  'Go is not installed (needed to build kube-apiserver and etcd and to fetch CRDs): install Go 1.26+ from https://go.dev/dl and run again';

/** Downloads (or finds in the module cache) a Go module and returns its directory. */
export function goModuleDir(module: string, version: string): string {
  const res = spawnSync('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: tmpdir(), // outside any module or workspace
    encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'on', GOWORK: 'off' },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (res.error) {
    if ((res.error as NodeJS.ErrnoException).code === 'ENOENT') throw new EnvError(GO_MISSING);
    throw new EnvError(`go mod download ${module}@${version} failed: ${res.error.message}`);
  }
  let info: { Dir?: string; Error?: string } = {};
  try {
    info = JSON.parse(res.stdout) as typeof info;
  } catch {
    // fall through with the raw output below
  }
  if (res.status !== 0 || !info.Dir) {
    const why = info.Error ?? (res.stderr.trim() || res.stdout.trim()).split('\n').pop();
    throw new EnvError(`go mod download ${module}@${version} failed: ${why}; check access to the Go module proxy (GOPROXY)`);
  }
  return info.Dir;
}

const isYaml = (name: string) => name.endsWith('.yaml') || name.endsWith('.yml');

/** The CRD files of the pinned upstream modules (downloads them when needed). */
export function platformCrdFiles(): string[] {
  const gatewayDir = join(goModuleDir(GATEWAY_API.module, GATEWAY_API.version), GATEWAY_API.crdDir);
  const gatewayFiles = readdirSync(gatewayDir).filter(isYaml).sort().map((f) => join(gatewayDir, f));
  const lbcDir = goModuleDir(AWS_LOAD_BALANCER_CONTROLLER.module, AWS_LOAD_BALANCER_CONTROLLER.version);
  const lbcFiles = AWS_LOAD_BALANCER_CONTROLLER.crdFiles.map((f) => join(lbcDir, f));
  return [...gatewayFiles, ...lbcFiles];
}

/** The project's own crds/*.yaml, if any. */
export function projectCrdFiles(): string[] {
  const dir = join(repoRoot, 'crds');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(isYaml).sort().map((f) => join(dir, f));
}

export function hashFiles(files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

interface CrdBundle {
  yaml: string;
  names: string[];
}

/** Collects the CustomResourceDefinition documents of the files (skipping kustomization.yaml and the like). */
export function crdBundle(files: string[]): CrdBundle {
  const docs: string[] = [];
  const names: string[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new EnvError(`${file}: invalid YAML: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (obj?.kind !== 'CustomResourceDefinition' || !obj.metadata?.name) continue;
      names.push(obj.metadata.name);
      docs.push(doc.toString());
    }
  }
  return { yaml: docs.join('---\n'), names };
}

function runKubectl(what: string, kubectl: string, kubeconfig: string, args: string[], input?: string): void {
  const res = spawnSync(kubectl, ['--kubeconfig', kubeconfig, ...args], {
    input,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const why = (res.stderr || res.error?.message || '').trim();
    throw new EnvError(`${what}: kubectl ${args[0]} failed: ${why}`);
  }
}

/** Applies the CRDs (server-side: the big ones exceed client-side apply's annotation limit) and waits until Established. */
export function applyCrds(kubectl: string, kubeconfig: string, files: string[], what: string): string[] {
  const bundle = crdBundle(files);
  if (bundle.names.length === 0) return [];
  runKubectl(`installing ${what}`, kubectl, kubeconfig, ['apply', '--server-side', '--force-conflicts', '--field-manager=gateway-orchestrator-env', '-f', '-'], bundle.yaml);
  runKubectl(`waiting for ${what} to be Established`, kubectl, kubeconfig, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...bundle.names.map((name) => `crd/${name}`),
  ]);
  return bundle.names;
}
