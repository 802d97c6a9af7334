// Long-running processes of the local environment (etcd, kube-apiserver, moto): started
// detached in their own process group so they outlive `env:up`, and stopped by group so
// nothing they spawned is left behind.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { EnvError } from './errors.js';

export interface Daemon {
  name: string;
  pid: number;
  /** The executable; also how we recognise the process as ours after a pid was reused. */
  command: string;
  args: string[];
  log: string;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function startDaemon(
  name: string,
  command: string,
  args: string[],
  log: string,
  options: StartOptions = {},
): Promise<Daemon> {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, {
      detached: true, // own process group (setsid): Ctrl-C on the CLI does not reach it
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new EnvError(`cannot start ${name} (${command}): ${err.message}`)));
    });
    child.unref();
    if (child.pid === undefined) throw new EnvError(`cannot start ${name} (${command}): no pid`);
    return { name, pid: child.pid, command, args, log };
  } finally {
    closeSync(fd);
  }
}

interface ProcInfo {
  pid: number;
  pgid: number;
  state: string;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone. */
function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] ?? '?', pgid: Number(fields[2]) };
}

const hasProc = existsSync('/proc/self/stat');

/** Whether a process with this pid exists (signal 0; EPERM means it exists but is not ours). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live (non-zombie) members of a process group. Zombies count as gone: PID 1 in a container may never reap them. */
function groupMembers(pgid: number): number[] {
  if (!hasProc) return pidExists(-pgid) ? [pgid] : [];
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procInfo(Number(entry));
    if (info && info.pgid === pgid && info.state !== 'Z') members.push(info.pid);
  }
  return members;
}

/** True when the recorded process still runs and is the program we started (not a reused pid). */
export function isRunning(daemon: Daemon): boolean {
  if (!hasProc) return pidExists(daemon.pid);
  const info = procInfo(daemon.pid);
  if (!info || info.state === 'Z') return false;
  try {
    const argv = readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8').split('\0');
    // Scripts (moto_server) run as "<interpreter> <script> ...": match any argument.
    return argv.includes(daemon.command);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let interruption: string | undefined;

/** Called from a signal handler: every wait in progress gives up at its next poll. */
export function interrupt(reason: string): void {
  interruption = reason;
}

export function throwIfInterrupted(): void {
  if (interruption) throw new EnvError(`interrupted (${interruption})`);
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (groupMembers(pgid).length === 0) return true;
    await sleep(100);
  }
  return groupMembers(pgid).length === 0;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stops the daemon's whole process group: SIGTERM, then SIGKILL after `graceMs`, and verifies
 * that no member is left. A recorded pid that is no longer ours is left alone.
 */
export async function stopDaemon(daemon: Daemon, graceMs = 10_000): Promise<void> {
  // The daemon is its group's leader (detached spawn), so its pid is the group id.
  const pgid = daemon.pid;
  const leader = procInfo(pgid);
  const reused = leader !== undefined && leader.state !== 'Z' && !isRunning(daemon);
  // Gone, or the pid now belongs to some other program: nothing of ours to stop.
  if (reused || groupMembers(pgid).length === 0) return;
  killGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return;
  killGroup(pgid, 'SIGKILL');
  if (await waitGroupGone(pgid, 5_000)) return;
  throw new EnvError(
    `${daemon.name} (process group ${pgid}: ${groupMembers(pgid).join(', ')}) survived SIGKILL; stop it by hand`,
  );
}

/** True when nothing listens on 127.0.0.1:port (nor on a wildcard address covering it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The last lines of a log file, for error messages. */
export function logTail(path: string, lines = 20): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it returns true. Fails fast with the log's tail when the daemon exits,
 * and with the same at the deadline.
 */
export async function waitReady(
  daemon: Daemon,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what = 'ready',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfInterrupted();
    if (!isRunning(daemon)) {
      throw new EnvError(`${daemon.name} exited before it became ${what}; last lines of ${daemon.log}:\n${logTail(daemon.log)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new EnvError(
        `${daemon.name} did not become ${what} within ${Math.round(timeoutMs / 1000)}s; last lines of ${daemon.log}:\n${logTail(daemon.log)}`,
      );
    }
    await sleep(250);
  }
}
