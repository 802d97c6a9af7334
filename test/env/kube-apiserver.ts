// kube-apiserver for the local control plane, configured like controller-runtime's envtest:
// secure serving on loopback with our own CA, client-certificate authentication, RBAC,
// service-account signing keys, and no endpoint reconciler (there is no kubelet or node).

import { join } from 'node:path';
import { httpCall } from './http.js';
import { type Daemon, startDaemon, waitReady } from './processes.js';

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
/** First address of the service range: the in-cluster `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

export interface ApiserverFiles {
  servingCert: string;
  servingKey: string;
  clientCaCert: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

export interface ApiserverOptions {
  binDir: string;
  logDir: string;
  certDir: string;
  port: number;
  etcdUrl: string;
  files: ApiserverFiles;
}

export function apiserverUrl(port: number): string {
  return `https://127.0.0.1:${port}`;
}

export function startApiserver(o: ApiserverOptions): Promise<Daemon> {
  const url = apiserverUrl(o.port);
  return startDaemon('kube-apiserver', join(o.binDir, 'kube-apiserver'), [
    `--etcd-servers=${o.etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--cert-dir=${o.certDir}`,
    `--tls-cert-file=${o.files.servingCert}`,
    `--tls-private-key-file=${o.files.servingKey}`,
    `--client-ca-file=${o.files.clientCaCert}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${url}`,
    `--service-account-key-file=${o.files.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${o.files.serviceAccountPrivateKey}`,
    '--endpoint-reconciler-type=none',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    // As envtest: no controller-manager creates the default ServiceAccount, so Pods would never be admitted.
    '--disable-admission-plugins=ServiceAccount',
  ], join(o.logDir, 'kube-apiserver.log'));
}

export interface AdminCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function apiserverReady(port: number, admin: AdminCredentials): Promise<boolean> {
  const res = await httpCall(`${apiserverUrl(port)}/readyz`, {
    ca: admin.caPem,
    cert: admin.certPem,
    key: admin.keyPem,
    timeoutMs: 3000,
  });
  return res.status === 200;
}

export function waitApiserverReady(daemon: Daemon, port: number, admin: AdminCredentials, timeoutMs = 90_000): Promise<void> {
  return waitReady(daemon, () => apiserverReady(port, admin), timeoutMs, 'ready (/readyz)');
}
