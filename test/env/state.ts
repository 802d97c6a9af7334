// The state file (.local/env.json): what `env:up` started and where everything is.
// Written as each process starts, so `env:down` can clean up even after a failed `up`.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Daemon } from './processes.js';
import { statePath } from './paths.js';

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  moto: number;
}

export interface AwsState {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Route53 hosted zone id (without "/hostedzone/") per standard zone name. */
  zoneIds: Record<string, string>;
}

export interface EnvState {
  schema: 1;
  /** False while `up` is still starting things; only a ready environment is reused. */
  ready: boolean;
  startedAt: string;
  repoRoot: string;
  kubernetesVersion: string;
  binDir: string;
  kubectl: string;
  runDir: string;
  ports: Ports;
  processes: { etcd?: Daemon; kubeApiserver?: Daemon; moto?: Daemon };
  /** etcd syncs every write to disk, as in a real cluster (GATEWAY_ORCHESTRATOR_ETCD_FSYNC=1); by default it does not. */
  etcdFsync?: boolean;
  apiserverUrl: string;
  kubeconfig: string;
  pki: {
    serverCaCert: string;
    clientCaCert: string;
    clientCaKey: string;
    adminCert: string;
    adminKey: string;
  };
  aws: AwsState;
  awsEnv: string;
  /** Hash of the project's own crds/*.yaml as last applied; a change re-applies them on `up`. */
  projectCrdsHash?: string;
}

export function readState(): EnvState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as EnvState;
    return state.schema === 1 ? state : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(state: EnvState): void {
  mkdirSync(dirname(statePath), { recursive: true });
  const tmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, statePath);
}
