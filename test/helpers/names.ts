// Names unique per test run and process, so tests (and reruns against the same environment) never collide.

import { randomBytes } from 'node:crypto';

let counter = 0;

/** A DNS label like "ghr-mabc1-3-x7k2": prefix, time, a per-process counter and randomness. */
export function uniqueName(prefix = 'test'): string {
  counter += 1;
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'test';
  const suffix = `${Date.now().toString(36).slice(-5)}-${counter.toString(36)}-${randomBytes(3).toString('hex')}`;
  return `${clean.slice(0, 62 - suffix.length)}-${suffix}`;
}

/** A hostname below one of the standard zones, e.g. "app-mabc1-4-9f3a1c.opendi.com". */
export function uniqueHostname(zone = 'opendi.com', prefix = 'app'): string {
  return `${uniqueName(prefix)}.${zone}`;
}
