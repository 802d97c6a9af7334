// The local environment: etcd + kube-apiserver (built from the pinned Kubernetes module) and moto,
// on loopback, with the CRDs of a real EKS cluster. `up` is idempotent (a healthy environment is
// reused in about a second), `down` stops every process it started and removes the run data.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyCrds, GO_MISSING, hashFiles, platformCrdFiles, projectCrdFiles } from './crds.js';
import { EnvError } from './errors.js';
import { etcdHealthy, etcdUrl, startEtcd, waitEtcdReady } from './etcd.js';
import { apiserverReady, apiserverUrl, KUBERNETES_SERVICE_IP, startApiserver, waitApiserverReady } from './kube-apiserver.js';
import { writeKubeconfig } from './kubeconfig.js';
import {
  AWS_DUMMY_CREDENTIALS,
  AWS_REGION,
  ensureMotoVenv,
  motoHealthy,
  motoUrl,
  resetMoto,
  startMoto,
  waitMotoReady,
  zoneIdEnvName,
} from './moto.js';
import { awsEnvPath, envDir, kubeconfigPath, localDir, lockPath, repoRoot, runDir, statePath } from './paths.js';
import { createCa, createServiceAccountKeys, issueClientCert, issueServingCert } from './pki.js';
import { type Daemon, interrupt, isRunning, pidExists, portFree, stopDaemon, throwIfInterrupted } from './processes.js';
import { type EnvState, type Ports, readState, writeState } from './state.js';
import { kubernetesVersion } from './versions.js';

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(line + '\n');

export interface UpResult {
  state: EnvState;
  /** True when a running, healthy environment was found and reused. */
  reused: boolean;
}

// ---------------------------------------------------------------------------------------------
// Ports

const DEFAULT_PORTS: Ports = { etcdClient: 12379, etcdPeer: 12380, apiserver: 16443, moto: 15005 };
const PORT_NAMES: Record<keyof Ports, string> = {
  etcdClient: 'etcd client',
  etcdPeer: 'etcd peer',
  apiserver: 'kube-apiserver',
  moto: 'moto',
};

/** Default ports, shifted by GATEWAY_ORCHESTRATOR_PORT_OFFSET when set. */
export function configuredPorts(): Ports {
  const raw = process.env['GATEWAY_ORCHESTRATOR_PORT_OFFSET'] ?? '0';
  const offset = Number(raw);
  if (!Number.isInteger(offset) || offset < -10_000 || offset > 40_000) {
    throw new EnvError(`GATEWAY_ORCHESTRATOR_PORT_OFFSET must be an integer from -10000 to 40000, got "${raw}"`);
  }
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(ports) as (keyof Ports)[]) ports[key] += offset;
  return ports;
}

/** GATEWAY_ORCHESTRATOR_ETCD_FSYNC=1: etcd syncs writes to disk, as in a real cluster (for benchmarks). */
export function configuredEtcdFsync(): boolean {
  const raw = process.env['GATEWAY_ORCHESTRATOR_ETCD_FSYNC'] ?? '0';
  if (raw !== '0' && raw !== '1') throw new EnvError(`GATEWAY_ORCHESTRATOR_ETCD_FSYNC must be 0 or 1, got "${raw}"`);
  return raw === '1';
}

async function checkPortsFree(ports: Ports): Promise<void> {
  for (const key of Object.keys(ports) as (keyof Ports)[]) {
    const port = ports[key];
    if (!(await portFree(port))) {
      throw new EnvError(
        `port ${port} (${PORT_NAMES[key]}) on 127.0.0.1 is already in use by a process this project did not start: ` +
          `stop it (find it with: ss -ltnp 'sport = :${port}') or shift all ports with GATEWAY_ORCHESTRATOR_PORT_OFFSET=<n>, then run again`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Lock: one `up`/`down` at a time per checkout (several people and test runs share it).

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


async function withLock<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  mkdirSync(localDir, { recursive: true });
  const deadline = Date.now() + 30 * 60 * 1000; // a first build takes minutes
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockPath); // atomic: fails when someone else holds it
      writeFileSync(join(lockPath, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lockPath, 'pid'), 'utf8'));
      } catch {
        // being created right now, or left empty by a crash: judged by age below
      }
      const stale = Number.isInteger(holder) ? !pidExists(holder) : lockAgeMs() > 10_000;
      if (stale) {
        rmSync(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new EnvError(`another env:up/env:down (pid ${holder}) has held ${lockPath} for 30 minutes; stop it and run again`);
      if (!announced) log(`>> waiting for another env:up/env:down (pid ${holder}) to finish`);
      announced = true;
      throwIfInterrupted();
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { recursive: true, force: true });
  }
}

function lockAgeMs(): number {
  try {
    return Date.now() - statSync(lockPath).mtimeMs;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Prerequisites: binaries, moto venv, CRD modules. Nothing is started here.

function requireGo(): void {
  const res = spawnSync('go', ['version'], { stdio: 'ignore' });
  if (res.error) throw new EnvError(GO_MISSING);
}

/** Builds (or finds cached) kube-apiserver, kubectl and etcd; the build's progress goes to stderr. */
export function buildBinaries(): string {
  requireGo();
  const res = spawnSync('bash', [join(envDir, 'build-localkube.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const binDir = res.stdout?.trim().split('\n').pop();
  if (res.status !== 0 || !binDir) {
    throw new EnvError('building kube-apiserver, kubectl and etcd failed (see the build output above); fix that and run again');
  }
  return binDir;
}

interface Prepared {
  binDir: string;
  motoServer: string;
  platformCrds: string[];
}

/** Everything `up` needs before it starts a process. Also what CI runs to install from nothing. */
export function prepare(log: Log = stderrLog): Prepared {
  const binDir = buildBinaries();
  const motoServer = ensureMotoVenv(log);
  const platformCrds = platformCrdFiles();
  return { binDir, motoServer, platformCrds };
}

// ---------------------------------------------------------------------------------------------
// Health

export type Health = Record<'etcd' | 'kubeApiserver' | 'moto', 'ok' | 'not running' | 'not responding'>;

function adminCredentials(state: EnvState) {
  return {
    caPem: readFileSync(state.pki.serverCaCert, 'utf8'),
    certPem: readFileSync(state.pki.adminCert, 'utf8'),
    keyPem: readFileSync(state.pki.adminKey, 'utf8'),
  };
}

async function probe(daemon: Daemon | undefined, check: () => Promise<boolean>): Promise<Health[keyof Health]> {
  if (!daemon || !isRunning(daemon)) return 'not running';
  return (await check().catch(() => false)) ? 'ok' : 'not responding';
}

export async function checkHealth(state: EnvState): Promise<Health> {
  const [etcd, kubeApiserver, moto] = await Promise.all([
    probe(state.processes.etcd, () => etcdHealthy(state.ports.etcdClient)),
    probe(state.processes.kubeApiserver, async () => apiserverReady(state.ports.apiserver, adminCredentials(state))),
    probe(state.processes.moto, () => motoHealthy(state.aws.endpoint)),
  ]);
  return { etcd, kubeApiserver, moto };
}

const allOk = (health: Health) => Object.values(health).every((h) => h === 'ok');

function describeHealth(health: Health): string {
  return Object.entries(health)
    .filter(([, h]) => h !== 'ok')
    .map(([name, h]) => `${name} ${h}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// Files for clients: admin kubeconfig and aws.env

function writeAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

function writeAwsEnv(state: EnvState): void {
  const lines = [
    '# Written by `npm run env:up`: the local AWS emulator (moto). Source it with: set -a; . .local/aws.env; set +a',
    `AWS_ENDPOINT_URL=${state.aws.endpoint}`,
    `AWS_REGION=${state.aws.region}`,
    `AWS_DEFAULT_REGION=${state.aws.region}`,
    `AWS_ACCESS_KEY_ID=${state.aws.accessKeyId}`,
    `AWS_SECRET_ACCESS_KEY=${state.aws.secretAccessKey}`,
    ...Object.entries(state.aws.zoneIds).map(([zone, id]) => `${zoneIdEnvName(zone)}=${id}`),
  ];
  writeAtomic(state.awsEnv, lines.join('\n') + '\n');
}

function writeAdminKubeconfig(state: EnvState): void {
  const admin = adminCredentials(state);
  const tmp = `${state.kubeconfig}.${process.pid}.tmp`;
  writeKubeconfig(tmp, { server: state.apiserverUrl, ...admin, user: 'admin' });
  renameSync(tmp, state.kubeconfig);
}

// ---------------------------------------------------------------------------------------------
// up

function syncProjectCrds(state: EnvState, log: Log): void {
  const files = projectCrdFiles();
  const hash = hashFiles(files);
  if (hash === state.projectCrdsHash) return;
  if (files.length > 0) {
    log(`>> applying the project's CRDs (crds/: ${files.length} files)`);
    applyCrds(state.kubectl, state.kubeconfig, files, "the project's CRDs (crds/*.yaml)");
  }
  state.projectCrdsHash = hash;
  writeState(state);
}

async function start(log: Log): Promise<EnvState> {
  const version = kubernetesVersion();
  const ports = configuredPorts();
  const etcdFsync = configuredEtcdFsync();
  await checkPortsFree(ports); // before a build of minutes, and again after it
  log(`>> preparing kube-apiserver ${version}, etcd and moto`);
  const { binDir, motoServer, platformCrds } = prepare(log);
  await checkPortsFree(ports);
  throwIfInterrupted();

  rmSync(runDir, { recursive: true, force: true });
  const dirs = { pki: join(runDir, 'pki'), logs: join(runDir, 'logs'), etcd: join(runDir, 'etcd'), certs: join(runDir, 'apiserver-certs') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });

  const serverCa = createCa('gateway-orchestrator-local-server-ca');
  const serving = issueServingCert(
    serverCa,
    ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ['127.0.0.1', KUBERNETES_SERVICE_IP],
  );
  const clientCa = createCa('gateway-orchestrator-local-client-ca');
  const admin = issueClientCert(clientCa, 'admin', ['system:masters']);
  const sa = createServiceAccountKeys();
  const pem = (name: string, text: string, mode = 0o600) => {
    const path = join(dirs.pki, name);
    writeFileSync(path, text, { mode });
    return path;
  };
  const files = {
    serverCaCert: pem('server-ca.crt', serverCa.certPem, 0o644),
    servingCert: pem('apiserver.crt', serving.certPem, 0o644),
    servingKey: pem('apiserver.key', serving.keyPem),
    clientCaCert: pem('client-ca.crt', clientCa.certPem, 0o644),
    clientCaKey: pem('client-ca.key', clientCa.keyPem),
    adminCert: pem('admin.crt', admin.certPem, 0o644),
    adminKey: pem('admin.key', admin.keyPem),
    serviceAccountPublicKey: pem('sa.pub', sa.publicPem, 0o644),
    serviceAccountPrivateKey: pem('sa.key', sa.privatePem),
  };

  const state: EnvState = {
    schema: 1,
    ready: false,
    startedAt: new Date().toISOString(),
    repoRoot,
    kubernetesVersion: version,
    binDir,
    kubectl: join(binDir, 'kubectl'),
    runDir,
    ports,
    processes: {},
    etcdFsync,
    apiserverUrl: apiserverUrl(ports.apiserver),
    kubeconfig: kubeconfigPath,
    pki: {
      serverCaCert: files.serverCaCert,
      clientCaCert: files.clientCaCert,
      clientCaKey: files.clientCaKey,
      adminCert: files.adminCert,
      adminKey: files.adminKey,
    },
    aws: { endpoint: motoUrl(ports.moto), region: AWS_REGION, ...AWS_DUMMY_CREDENTIALS, zoneIds: {} },
    awsEnv: awsEnvPath,
  };
  writeState(state);

  try {
    log(`>> starting etcd (127.0.0.1:${ports.etcdClient}${etcdFsync ? ', syncing writes to disk' : ''}) and moto (127.0.0.1:${ports.moto})`);
    state.processes.etcd = await startEtcd({ binDir, dataDir: dirs.etcd, logDir: dirs.logs, clientPort: ports.etcdClient, peerPort: ports.etcdPeer, fsync: etcdFsync });
    writeState(state);
    state.processes.moto = await startMoto(motoServer, ports.moto, dirs.logs);
    writeState(state);
    await waitEtcdReady(state.processes.etcd, ports.etcdClient);

    log(`>> starting kube-apiserver ${version} (${state.apiserverUrl})`);
    state.processes.kubeApiserver = await startApiserver({
      binDir,
      logDir: dirs.logs,
      certDir: dirs.certs,
      port: ports.apiserver,
      etcdUrl: etcdUrl(ports.etcdClient),
      files,
    });
    writeState(state);
    await Promise.all([
      waitApiserverReady(state.processes.kubeApiserver, ports.apiserver, adminCredentials(state)),
      waitMotoReady(state.processes.moto, state.aws.endpoint),
    ]);
    throwIfInterrupted();

    writeAdminKubeconfig(state);
    log('>> installing CRDs: Gateway API (standard channel), LoadBalancerConfiguration');
    applyCrds(state.kubectl, state.kubeconfig, platformCrds, 'the Gateway API and AWS Load Balancer Controller CRDs');
    syncProjectCrds(state, log);
    throwIfInterrupted();

    log('>> creating the standard Route53 hosted zones in moto');
    state.aws.zoneIds = await resetMoto(state.aws.endpoint);
    writeAwsEnv(state);
    state.ready = true;
    writeState(state);
    return state;
  } catch (err) {
    log('>> start failed: stopping what was started');
    await teardown(state, { keepLogs: true }).then(
      (stopped) => stopped.length > 0 && log(`>> stopped ${stopped.join(', ')}; logs kept in ${join(state.runDir, 'logs')}`),
      (stopErr: unknown) => log(`>> ${String(stopErr)}`),
    );
    throw err;
  }
}

/** Starts the environment, or finds the running one healthy and returns it (about a second). */
export async function up(log: Log = stderrLog): Promise<UpResult> {
  const etcdFsync = configuredEtcdFsync();
  return withLock(log, async () => {
    const existing = readState();
    if (existing?.ready) {
      const health = await checkHealth(existing);
      if (allOk(health)) {
        if ((existing.etcdFsync ?? false) !== etcdFsync) {
          log(`>> the running environment's etcd ${existing.etcdFsync ? 'syncs' : 'does not sync'} writes to disk; GATEWAY_ORCHESTRATOR_ETCD_FSYNC takes effect when it starts (npm run env:down first)`);
        }
        if (!existsSync(existing.kubeconfig)) writeAdminKubeconfig(existing);
        if (!existsSync(existing.awsEnv)) writeAwsEnv(existing);
        syncProjectCrds(existing, log);
        return { state: existing, reused: true };
      }
      log(`>> the environment started ${existing.startedAt} is unhealthy (${describeHealth(health)}): starting a fresh one`);
    } else if (existing) {
      log('>> found an environment that never finished starting: cleaning it up');
    }
    if (existing) {
      const stopped = await teardown(existing);
      if (stopped.length > 0) log(`>> stopped ${stopped.join(', ')}`);
    }
    return { state: await start(log), reused: false };
  });
}

// ---------------------------------------------------------------------------------------------
// down

async function teardown(state: EnvState, options: { keepLogs?: boolean } = {}): Promise<string[]> {
  const stopped: string[] = [];
  const failures: string[] = [];
  // Reverse start order: the API server first, so it never sees etcd vanish under it.
  for (const daemon of [state.processes.kubeApiserver, state.processes.moto, state.processes.etcd]) {
    if (!daemon) continue;
    const wasRunning = isRunning(daemon);
    try {
      await stopDaemon(daemon);
      if (wasRunning) stopped.push(`${daemon.name} (pid ${daemon.pid})`);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (failures.length > 0) throw new EnvError(failures.join('; '));
  if (options.keepLogs) {
    // Keep the logs of a failed start for diagnosis; drop the rest.
    for (const dir of ['etcd', 'pki', 'apiserver-certs', 'tenants']) rmSync(join(state.runDir, dir), { recursive: true, force: true });
  } else {
    rmSync(state.runDir, { recursive: true, force: true });
  }
  for (const path of [state.kubeconfig, state.awsEnv, statePath]) rmSync(path, { force: true });
  return stopped;
}

/** Stops every process `up` started (by process group), verifies they are gone, removes run data. */
export async function down(log: Log = stderrLog): Promise<string[]> {
  return withLock(log, async () => {
    const state = readState();
    if (!state) {
      rmSync(runDir, { recursive: true, force: true });
      return [];
    }
    return teardown(state);
  });
}

// ---------------------------------------------------------------------------------------------
// status and moto reset

export interface Status {
  state?: EnvState;
  health?: Health;
  healthy: boolean;
}

export async function status(): Promise<Status> {
  const state = readState();
  if (!state) return { healthy: false };
  const health = await checkHealth(state);
  return { state, health, healthy: state.ready && allOk(health) };
}

/**
 * Resets moto to its standard state (no resources but the standard hosted zones). Zone ids are
 * stable, so aws.env stays valid; should a moto upgrade change them, the files are updated.
 */
export async function resetAws(state: EnvState): Promise<Record<string, string>> {
  const zoneIds = await resetMoto(state.aws.endpoint);
  if (JSON.stringify(zoneIds) !== JSON.stringify(state.aws.zoneIds)) {
    state.aws.zoneIds = zoneIds;
    writeState(state);
    writeAwsEnv(state);
  }
  return zoneIds;
}

/**
 * For the CLI and the tap hook: on SIGINT/SIGTERM, a running `up` stops at its next step and
 * stops what it started; a second signal exits at once.
 */
export function handleInterrupts(log: Log = stderrLog): void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) process.exit(130);
    log(`>> ${signal}: stopping (processes started so far are stopped; signal again to exit at once)`);
    interrupt(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
