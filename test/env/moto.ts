// moto, the local AWS emulator (ACM, Route53, ELBv2, EC2 on one port), installed by the project
// into a cached venv so no machine-wide install is needed, and reset to a known state on demand.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { EnvError } from './errors.js';
import { httpCall } from './http.js';
import { cacheRoot } from './paths.js';
import { type Daemon, startDaemon, waitReady } from './processes.js';
import { MOTO_VERSION } from './versions.js';

/** Hosted zones every fresh moto has; the local platform config allowlists the same domains. */
export const STANDARD_HOSTED_ZONES = ['opendi.com', 'in-muenchen.de'] as const;

/**
 * moto draws Route53 zone ids from its seedable random generator. Seeding it with a constant
 * just before creating the standard zones (always in the same order) gives them the same ids
 * after every reset and on every machine with the same moto version.
 */
const ZONE_ID_SEED = 20_260_424;

export const AWS_REGION = 'eu-central-1';
export const AWS_DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export function motoVenvDir(): string {
  return join(cacheRoot(), `moto-venv-${MOTO_VERSION}`);
}

const requirement = `moto[server]==${MOTO_VERSION}`;

function lastLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n').filter(Boolean).pop() ?? '';
}

/**
 * Returns the path of moto_server in the cached venv, creating the venv and installing moto
 * first when it is missing or incomplete. `log` receives progress lines.
 */
export function ensureMotoVenv(log: (line: string) => void): string {
  const venv = motoVenvDir();
  const marker = join(venv, '.gateway-orchestrator-installed');
  const server = join(venv, 'bin', 'moto_server');
  const python = join(venv, 'bin', 'python');
  const installed = () => existsSync(server) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === requirement;
  // The venv links to the interpreter that made it: make sure that still exists.
  const ready = () => installed() && spawnSync(python, ['-c', 'import moto'], { stdio: 'ignore' }).status === 0;
  if (ready()) return server;
  if (installed()) log(`>> moto venv ${venv} is broken (its Python is gone?); re-creating it`);

  const probe = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new EnvError(
      'Python 3 is not installed (needed for the moto AWS emulator): install python3 and python3-venv (Debian/Ubuntu: apt-get install python3 python3-venv) and run again',
    );
  }
  const [major, minor] = probe.stdout.trim().split('.').map(Number);
  if (major !== 3 || (minor ?? 0) < 9) {
    throw new EnvError(`Python ${probe.stdout.trim()} is too old for moto ${MOTO_VERSION}: install Python 3.9 or newer and run again`);
  }

  // Built in a directory of this process's own and renamed into place whole, as the Kubernetes
  // binaries are (build-localkube.sh): two checkouts preparing at once must not delete each
  // other's half-made venv. A venv moves with its directory when run as `bin/python` (Python
  // finds pyvenv.cfg beside its executable), which is how moto is started (startMoto).
  log(`>> creating the moto venv ${venv} and installing ${requirement} (one time, about a minute)`);
  mkdirSync(cacheRoot(), { recursive: true });
  const building = `${venv}.tmp.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const made = spawnSync('python3', ['-m', 'venv', building], { encoding: 'utf8' });
  if (made.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new EnvError(
      `python3 -m venv failed (${lastLine(made.stderr) || 'no output'}); on Debian/Ubuntu install python3-venv (apt-get install python3-venv) and run again`,
    );
  }
  // Quiet: pip still prints its errors (to stderr, with ours).
  const pip = spawnSync(
    join(building, 'bin', 'python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', requirement],
    { stdio: ['ignore', 2, 2] },
  );
  if (pip.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new EnvError(`pip install "${requirement}" failed (see pip's errors above); check access to PyPI and run again`);
  }
  writeFileSync(join(building, '.gateway-orchestrator-installed'), requirement + '\n');
  // Another process may have put a complete venv in place meanwhile, and may be running moto
  // from it: keep that one. Only a broken or incomplete one is replaced.
  if (!ready()) {
    rmSync(venv, { recursive: true, force: true });
    try {
      renameSync(building, venv);
    } catch (error) {
      // Another process renamed its venv into place first: use that one.
      if (!installed()) throw error;
    }
  }
  rmSync(building, { recursive: true, force: true });
  return server;
}

export function motoUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** Our launcher for moto's server: moto unchanged but for pooled ACM keys (see moto-server.py). */
const MOTO_LAUNCHER = fileURLToPath(new URL('./moto-server.py', import.meta.url));

export function startMoto(motoServer: string, port: number, logDir: string): Promise<Daemon> {
  const python = join(dirname(motoServer), 'python');
  return startDaemon('moto', python, [MOTO_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], join(logDir, 'moto.log'), {
    env: {
      ...process.env,
      // ACM certificates go from PENDING_VALIDATION to ISSUED after this many seconds.
      MOTO_ACM_VALIDATION_WAIT: '2',
    },
  });
}

export async function motoHealthy(endpoint: string): Promise<boolean> {
  const res = await httpCall(`${endpoint}/moto-api/`, { timeoutMs: 2000 });
  return res.status === 200;
}

export function waitMotoReady(daemon: Daemon, endpoint: string, timeoutMs = 60_000): Promise<void> {
  return waitReady(daemon, () => motoHealthy(endpoint), timeoutMs, 'ready');
}

async function motoApi(endpoint: string, path: string): Promise<void> {
  const res = await httpCall(`${endpoint}${path}`, { method: 'POST', timeoutMs: 10_000 });
  if (res.status !== 200) throw new Error(`moto ${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
}

/**
 * Forgets everything moto holds (POST /moto-api/reset) and re-creates the standard hosted zones
 * with stable ids. Returns zone name -> id (without the "/hostedzone/" prefix).
 */
export async function resetMoto(endpoint: string): Promise<Record<string, string>> {
  await motoApi(endpoint, '/moto-api/reset');
  await motoApi(endpoint, `/moto-api/seed?a=${ZONE_ID_SEED}`);
  const route53 = new Route53Client({ endpoint, region: AWS_REGION, credentials: AWS_DUMMY_CREDENTIALS });
  const zoneIds: Record<string, string> = {};
  try {
    for (const name of STANDARD_HOSTED_ZONES) {
      const out = await route53.send(
        new CreateHostedZoneCommand({ Name: name, CallerReference: `gateway-orchestrator-local-${name}` }),
      );
      const id = out.HostedZone?.Id?.replace(/^\/hostedzone\//, '');
      if (!id) throw new Error(`moto returned no id for hosted zone ${name}`);
      zoneIds[name] = id;
    }
  } finally {
    route53.destroy();
  }
  // Everything created later (certificates, load balancers) gets fresh random ids again, so an
  // id left in some Kubernetes object from before the reset never points at a new resource.
  await motoApi(endpoint, `/moto-api/seed?a=${Math.floor(Math.random() * 2 ** 31)}`);
  return zoneIds;
}

/** "opendi.com" -> "ZONE_ID_OPENDI_COM" */
export function zoneIdEnvName(zone: string): string {
  return `ZONE_ID_${zone.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
