// etcd for the local control plane: a single member on loopback, data in the run directory.

import { join } from 'node:path';
import { httpCall } from './http.js';
import { type Daemon, startDaemon, waitReady } from './processes.js';

export interface EtcdOptions {
  binDir: string;
  dataDir: string;
  logDir: string;
  clientPort: number;
  peerPort: number;
}

export function etcdUrl(clientPort: number): string {
  return `http://127.0.0.1:${clientPort}`;
}

export function startEtcd(o: EtcdOptions): Promise<Daemon> {
  const client = etcdUrl(o.clientPort);
  const peer = `http://127.0.0.1:${o.peerPort}`;
  return startDaemon('etcd', join(o.binDir, 'etcd'), [
    '--name=local',
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=local=${peer}`,
    '--initial-cluster-state=new',
    // Throwaway test data: durability is not worth the fsync latency.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ], join(o.logDir, 'etcd.log'));
}

export async function etcdHealthy(clientPort: number): Promise<boolean> {
  const res = await httpCall(`${etcdUrl(clientPort)}/health`, { timeoutMs: 2000 });
  return res.status === 200 && /"health":\s*"true"/.test(res.body);
}

export function waitEtcdReady(daemon: Daemon, clientPort: number, timeoutMs = 30_000): Promise<void> {
  return waitReady(daemon, () => etcdHealthy(clientPort), timeoutMs, 'healthy');
}
