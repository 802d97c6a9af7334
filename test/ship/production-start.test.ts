// The production start without a container engine, the way the image runs it: `npm run build`
// (into a temporary directory laid out like the Dockerfile's runtime stage, so the checkout's own
// dist/ is left alone), production dependencies only (`npm ci --omit=dev`), then
// `NODE_ENV=production node dist/server/main.js --config <file>`, as the
// ServiceAccount of manifests/ (its token and RBAC), against the local API server and moto.
// It must start, serve /healthz, /readyz and /metrics, answer an AdmissionReview, and stop
// cleanly on SIGTERM; a bad config must stop it with one line naming the field.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { createNamespace, getEnv, kubectl, toYaml, waitFor } from '../helpers/index.js';
import { IDENTITY_KINDS, kustomize, repoRoot } from './lib.js';

const stage = mkdtempSync(join(tmpdir(), 'gwo-image-'));
const dist = join(stage, 'dist');
const children: ChildProcess[] = [];

t.teardown(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(stage, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string, timeoutMs = 300_000): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? jsFiles(path) : path.endsWith('.js') ? [path] : [];
  });
}

/** The environment of the container: nothing of this shell but PATH and HOME. */
async function productionEnv(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const env = await getEnv();
  const awsEnv = Object.fromEntries(
    readFileSync(env.awsEnv, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: stage,
    NODE_ENV: 'production',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...awsEnv,
    ...extra,
  };
}

t.test('npm run build emits dist/server/main.js and no test or dev code', async (t) => {
  run('npm', ['run', '--silent', 'build', '--', '--outDir', dist], repoRoot);
  t.ok(existsSync(join(dist, 'server', 'main.js')), 'dist/server/main.js');
  t.notOk(existsSync(join(dist, 'test')), 'no dist/test');
  t.notOk(existsSync(join(dist, 'server', 'dev')), 'no dist/server/dev (it needs the local test environment)');

  // Every package the compiled code imports is a production dependency: the image has no others.
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);
  const imported = new Set<string>();
  for (const file of jsFiles(dist)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  t.ok(imported.size > 0, `found imports: ${[...imported].join(', ')}`);
  for (const name of imported) t.ok(pkg.dependencies[name], `${name} is in dependencies`);

  // The runtime stage: dist/, package.json and `npm ci --omit=dev`.
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(repoRoot, file), join(stage, file));
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], stage);
  t.notOk(existsSync(join(stage, 'node_modules', 'typescript')), 'no dev dependencies in the staged image');
  t.notOk(existsSync(join(stage, 'node_modules', 'tsx')), 'no tsx in the staged image');
});

/** Starts the compiled entry point from the staged image; resolves on exit. */
function start(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['dist/server/main.js', ...args], { cwd: stage, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

t.test('a bad config stops the process with one line naming the field', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['pool:\n  certificatesPerGateway: -1\n', 'pool.certificatesPerGateway', /must be a number from 1 to 1000, got -1/],
    // (Every field's validation is table-tested on parsePlatformConfig; here the process's behaviour.)
    ['pool: [\n', '(file)', /is not valid YAML/],
  ];
  for (const [text, field, detail] of cases) {
    const file = join(stage, `bad-${field.replace(/\W/g, '_')}.yaml`);
    writeFileSync(file, text);
    const { exited, output } = start(['--config', file], await productionEnv());
    const { code } = await exited;
    const { stdout, stderr } = output();
    t.not(code, 0, `${field}: exits non-zero`);
    t.equal(code, 2, `${field}: exit code 2 (configuration error)`);
    const lines = stderr.trimEnd().split('\n');
    t.equal(lines.length, 1, `${field}: one line: ${stderr}`);
    t.ok(lines[0]!.includes(field), `${field}: the line names the field: ${lines[0]}`);
    t.match(lines[0], detail);
    t.equal(stdout, '', `${field}: nothing else printed`);
  }
  // GATEWAY_ORCHESTRATOR_CONFIG names the file when --config is absent (a missing file is an error, not defaults).
  const { exited, output } = start([], await productionEnv({ GATEWAY_ORCHESTRATOR_CONFIG: join(stage, 'missing.yaml') }));
  t.equal((await exited).code, 2);
  t.match(output().stderr, /^gateway-orchestrator: invalid platform config: \(file\): cannot read .*missing\.yaml/);
});

t.test('node dist/server/main.js --config <file> starts as the ServiceAccount and serves', async (t) => {
  const env = await getEnv();
  // The ServiceAccount and its RBAC from manifests/ (nothing that runs or intercepts).
  await createNamespace('edge');
  await createNamespace('gateway-orchestrator');
  const { objects } = await kustomize('manifests');
  await kubectl(['apply', '-f', '-'], { input: toYaml(objects.filter((o) => IDENTITY_KINDS.has(o.kind))) });
  const token = (await kubectl(['create', 'token', 'gateway-orchestrator', '-n', 'gateway-orchestrator', '--duration=20m'])).stdout.trim();
  const kubeconfig = join(stage, 'serviceaccount.kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: env.apiserverUrl, 'certificate-authority': env.pki.serverCaCert } }],
      users: [{ name: 'gateway-orchestrator', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'local', user: 'gateway-orchestrator' } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  // The shipped config with what differs locally: domains with hosted zones in moto, the endpoint,
  // and free ports (the log line reports the ones taken).
  const config = join(stage, 'config.yaml');
  const shipped = (await import('yaml')).parse(readFileSync(join(repoRoot, 'manifests/config/platform-config.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  writeFileSync(
    config,
    stringify({
      ...shipped,
      clusterId: 'ship-test',
      allowedDomains: [{ domain: 'opendi.com' }, { domain: 'in-muenchen.de' }],
      aws: { ...shipped['aws'], region: env.aws.region, endpoint: env.aws.endpoint },
      webhook: { ...shipped['webhook'], port: 0, metricsPort: 0 },
    }),
  );

  const { child, exited, output } = start(['--config', config], await productionEnv({ KUBECONFIG: kubeconfig, POD_NAME: 'ship-test-0' }));
  const started = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}`);
      const line = output().stdout.split('\n').find((l) => l.includes('"gateway-orchestrator started"'));
      return line ? (JSON.parse(line) as { port: number; metricsPort: number; reconciler: boolean }) : undefined;
    },
    { description: 'the "gateway-orchestrator started" log line', timeoutMs: 60_000, intervalMs: 200 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nstdout:\n${output().stdout}\nstderr:\n${output().stderr}`);
  });
  t.ok(started.port > 0 && started.metricsPort > 0, `listening on ${started.port} (webhook) and ${started.metricsPort} (metrics)`);
  t.equal(started.reconciler, true, 'with the leader-elected reconciler');

  // HTTPS with the orchestrator's own CA (from its Secret) and the Service name the API server uses.
  const secret = JSON.parse((await kubectl(['get', 'secret', 'gateway-orchestrator-webhook-tls', '-n', 'gateway-orchestrator', '-o', 'json'])).stdout) as { data: Record<string, string> };
  const ca = Buffer.from(secret.data['ca.crt']!, 'base64').toString('utf8');
  const https = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: started.port, path, method, ca, servername: 'gateway-orchestrator-webhook.gateway-orchestrator.svc', headers: body ? { 'content-type': 'application/json' } : {} },
        (res) => {
          let data = '';
          res.setEncoding('utf8').on('data', (c: string) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const http = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: started.metricsPort, path }, (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      }).on('error', reject);
    });

  const healthz = await https('GET', '/healthz');
  t.equal(healthz.status, 200, '/healthz answers over TLS the API server would trust');
  t.same(JSON.parse(healthz.body), { ok: true });
  const readyz = await waitFor(async () => ((await https('GET', '/readyz')).status === 200 ? https('GET', '/readyz') : undefined), {
    description: '/readyz to turn 200',
    timeoutMs: 20_000,
  });
  t.match(JSON.parse(readyz.body), { ready: true });

  // One real decision through the compiled admission path.
  const review = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/admission/ghr-create.json'), 'utf8')) as { request: { uid: string } };
  const answer = await https('POST', '/mutate/gatewayhostnamerequests', JSON.stringify(review));
  t.equal(answer.status, 200);
  t.match(JSON.parse(answer.body), { kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });

  const metrics = await http('/metrics');
  t.equal(metrics.status, 200);
  for (const name of ['gateway_orchestrator_admission_requests_total', 'gateway_orchestrator_admission_duration_seconds', 'gateway_orchestrator_aws_calls_total', 'process_cpu_seconds_total']) {
    t.match(metrics.body, new RegExp(`^# TYPE ${name} `, 'm'), `metrics port exports ${name}`);
  }
  t.match(metrics.body, /gateway_orchestrator_admission_requests_total\{[^}]*webhook="mutate-requests"[^}]*\} 1/, 'the review above was counted');
  t.equal((await http('/readyz')).status, 200, 'the metrics port serves /readyz too');

  // JSON logs only (pino), nothing unstructured on stderr.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const line of output().stdout.trim().split('\n')) t.doesNotThrow(() => JSON.parse(line), `JSON log line: ${line.slice(0, 120)}`);
  t.equal(output().stderr, '', 'stderr is empty');

  child.kill('SIGTERM');
  const exit = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000))]);
  t.same(exit, { code: 0, signal: null }, 'SIGTERM stops it cleanly (exit 0)');
  t.match(output().stdout, /"msg":"shutting down"/);
});
