// The running local environment for tests: reused when `env:up` (or tap's before hook) started
// it, started here otherwise. Memoised per test process.

import { up } from '../env/local-env.js';
import type { EnvState } from '../env/state.js';

let env: Promise<EnvState> | undefined;

export function getEnv(): Promise<EnvState> {
  env ??= up((line) => process.stderr.write(`# ${line}\n`)).then((result) => result.state);
  return env;
}

export type { EnvState };
