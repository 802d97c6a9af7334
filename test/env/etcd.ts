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
  /** Sync writes to disk as a real cluster's etcd does; off for throwaway test data. */
  fsync: boolean;
}

export function etcdUrl(clientPort: number): string {
  return `http://127.0.0.1:${clientPort}`;
}

export function startEtcd(o: EtcdOptions): Promise<Daemon> {
  return startDaemon('etcd', join(o.binDir, 'etcd'), etcdArgs(o), join(o.logDir, 'etcd.log'));
}

export function etcdArgs(o: Omit<EtcdOptions, 'binDir' | 'logDir'>): string[] {
  const client = etcdUrl(o.clientPort);
  const peer = `http://127.0.0.1:${o.peerPort}`;
  return [
    '--name=local',
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=local=${peer}`,
    '--initial-cluster-state=new',
    // Throwaway test data: durability is not worth the fsync latency (unless asked for, to
    // measure against the write latency of a real cluster).
    ...(o.fsync ? [] : ['--unsafe-no-fsync']),
    '--log-level=warn',
  ];
}

export async function etcdHealthy(clientPort: number): Promise<boolean> {
  const res = await httpCall(`${etcdUrl(clientPort)}/health`, { timeoutMs: 2000 });
  return res.status === 200 && /"health":\s*"true"/.test(res.body);
}

export function waitEtcdReady(daemon: Daemon, clientPort: number, timeoutMs = 30_000): Promise<void> {
  return waitReady(daemon, () => etcdHealthy(clientPort), timeoutMs, 'healthy');
}
