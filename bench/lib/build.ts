// The production build (npm run build: tsc -p tsconfig.build.json -> dist/) plus the benchmark's
// own server entry compiled with the same settings (bench/tsconfig.json -> dist/bench/).
import { fileURLToPath } from 'node:url';
import { run } from './proc.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let built: Promise<number> | undefined;

/** Builds once per process; resolves to the milliseconds it took. */
export function buildProduction(): Promise<number> {
  built ??= (async () => {
    const started = Date.now();
    await run('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT });
    await run(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'bench/tsconfig.json'], { cwd: REPO_ROOT });
    return Date.now() - started;
  })();
  return built;
}
