// `npm run demo`: the whole system on this machine, step by step. Brings the local environment up,
// installs what a platform team installs, starts the orchestrator and the load-balancer stand-in
// in the background, and plays two teams: team-a gets shop.opendi.com, team-b tries to take it and
// to route it, and is told no. Ends with where everything is and how to look around.
//
//   tsx server/dev/demo.ts          run the demo (again: reuses what is running)
//   tsx server/dev/demo.ts stop     stop the background orchestrator (`npm run demo:stop`)
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { DescribeListenerCertificatesCommand, DescribeListenersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { parseAllDocuments, stringify } from 'yaml';
import type { Condition, GatewayHostnameRequest, HostnameGrant } from '../../policy/api.js';
import { up } from '../../test/env/local-env.js';
import { readState, type EnvState } from '../../test/env/state.js';
import { createTenant, type Tenant } from '../../test/helpers/tenants.js';
import { KubeRest, isNotFound, paths } from '../kube/rest.js';
import { localConnection } from './local.js';
import { kubectl, kubectlOk, applyPlatformPart, repoRoot } from './platform.js';
import type { RunState } from './run.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const demoDir = join(repoRoot, '.local', 'demo');
const runFile = join(demoDir, 'run.json');
const logFile = join(demoDir, 'orchestrator.log');
const HOSTNAME = 'shop.opendi.com';
const STEPS = 8;

// ---- output ------------------------------------------------------------------------------------

const tty = process.stdout.isTTY && !process.env['NO_COLOR'];
const paint = (code: string) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');
const cyan = paint('36');
const rel = (path: string) => relative(process.cwd(), path) || '.';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
let spinnerText: string | undefined;
let spinnerFrame = 0;
const spinnerTimer = setInterval(() => renderSpinner(), 100);
spinnerTimer.unref();

function renderSpinner(): void {
  if (!tty || spinnerText === undefined) return;
  spinnerFrame = (spinnerFrame + 1) % SPINNER.length;
  process.stdout.write(`\r\x1b[K    ${cyan(SPINNER[spinnerFrame]!)} ${dim(spinnerText)}`);
}

function progress(text: string | undefined): void {
  if (tty && spinnerText !== undefined && text === undefined) process.stdout.write('\r\x1b[K');
  spinnerText = text;
  renderSpinner();
}

function print(line = ''): void {
  if (tty && spinnerText !== undefined) process.stdout.write('\r\x1b[K');
  process.stdout.write(`${line}\n`);
  renderSpinner();
}

let stepNumber = 0;
function step(title: string): void {
  stepNumber += 1;
  print();
  print(bold(`[${stepNumber}/${STEPS}] ${title}`));
}
const ok = (text: string) => print(`    ${green('✓')} ${text}`);
const denied = (text: string) => print(`    ${red('✗')} ${text}`);
const note = (text: string) => print(`      ${dim(text)}`);
const shell = (text: string) => print(`    ${dim('$')} ${text}`);

/** Wraps a long message at word boundaries, indented. */
function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

const problems: string[] = [];
function unexpected(text: string): void {
  problems.push(text);
  print(`    ${yellow('!')} ${yellow(`unexpected: ${text}`)}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

// ---- the background orchestrator ------------------------------------------------------------------

function processCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    try {
      process.kill(pid, 0);
      return 'server/dev/run.ts'; // alive; no /proc to check what it is
    } catch {
      return '';
    }
  }
}

/** The background orchestrator of an earlier `npm run demo`, when it still runs. */
function runningOrchestrator(): RunState | undefined {
  if (!existsSync(runFile)) return undefined;
  try {
    const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunState;
    if (processCommandLine(run.pid).includes('server/dev/run.ts')) return run;
  } catch {
    // unreadable: treat as gone
  }
  rmSync(runFile, { force: true });
  return undefined;
}

function logTail(lines = 15): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function startOrchestrator(env: EnvState): Promise<RunState> {
  const existing = runningOrchestrator();
  if (existing && existing.envStartedAt === env.startedAt) return existing;
  if (existing) await stopOrchestrator(existing);
  mkdirSync(demoDir, { recursive: true });
  rmSync(runFile, { force: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/dev/run.ts', '--state-file', runFile], {
    cwd: repoRoot,
    detached: true, // its own process group: outlives this command, Ctrl-C here does not reach it
    stdio: ['ignore', fd, fd],
    env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info' },
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const started = Date.now();
  for (;;) {
    if (existsSync(runFile)) return JSON.parse(readFileSync(runFile, 'utf8')) as RunState;
    if (exited !== undefined) throw new Error(`the orchestrator exited (${exited}) before it was ready; last lines of ${rel(logFile)}:\n${logTail()}`);
    if (Date.now() - started > 120_000) throw new Error(`the orchestrator did not become ready in 120s; last lines of ${rel(logFile)}:\n${logTail()}`);
    progress(`starting the orchestrator and the stand-in (${seconds(Date.now() - started)})`);
    await sleep(250);
  }
}

async function stopOrchestrator(run: RunState): Promise<boolean> {
  try {
    process.kill(run.pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    if (!processCommandLine(run.pid).includes('server/dev/run.ts')) {
      rmSync(runFile, { force: true });
      return true;
    }
    await sleep(200);
  }
  process.kill(run.pid, 'SIGKILL');
  rmSync(runFile, { force: true });
  return true;
}

// ---- samples ------------------------------------------------------------------------------------

/** A sample with ${ZONE_ID_...} filled in from the local environment (moto's zone ids). */
function sample(path: string, env: EnvState): string {
  const text = readFileSync(join(repoRoot, 'crds', 'samples', path), 'utf8');
  return text.replace(/\$\{ZONE_ID_([A-Z0-9_]+)\}/g, (_, key: string) => {
    const zone = Object.keys(env.aws.zoneIds).find((z) => z.toUpperCase().replace(/[^A-Z0-9]/g, '_') === key);
    if (!zone) throw new Error(`crds/samples/${path}: no hosted zone for \${ZONE_ID_${key}} in the local environment`);
    return env.aws.zoneIds[zone]!;
  });
}

interface Applied {
  accepted: boolean;
  stdout: string;
  warnings: string[];
  error: string;
}

async function applyAs(env: EnvState, tenant: Tenant, path: string, who: string): Promise<Applied> {
  shell(`kubectl apply -f crds/samples/${path}   ${dim(`(as ${who}; zone id filled in)`)}`);
  const result = await kubectl(env, ['apply', '-f', '-'], { kubeconfig: tenant.kubeconfig, input: sample(path, env) });
  const lines = result.stderr.split('\n').filter(Boolean);
  const warnings = lines.filter((l) => l.startsWith('Warning: ')).map((l) => l.slice('Warning: '.length));
  const error = lines.filter((l) => !l.startsWith('Warning: ')).join(' ');
  return { accepted: result.code === 0, stdout: result.stdout.trim(), warnings, error };
}

/** "Error from server (Forbidden): error when creating "STDIN": admission webhook "x" denied the request: <message>" */
function denialParts(error: string): { webhook: string; message: string } {
  const m = /admission webhook "([^"]+)" denied the request: (.*)$/.exec(error);
  return m ? { webhook: m[1]!, message: m[2]! } : { webhook: '', message: error };
}

// ---- the story ----------------------------------------------------------------------------------

async function installTenants(env: EnvState): Promise<{ alice: Tenant; bob: Tenant }> {
  const alice = await createTenant('team-a', { user: 'alice', groups: ['team-a-developers'], clusterRole: null });
  const bob = await createTenant('team-b', { user: 'bob', groups: ['team-b-developers'], clusterRole: null });
  await kubectlOk(env, ['apply', '-f', 'crds/samples/tenants.yaml']);
  // The authorizer learns of new bindings through a watch.
  for (const [tenant, ns] of [[alice, 'team-a'], [bob, 'team-b']] as const) {
    for (let i = 0; ; i++) {
      const can = await kubectl(env, ['auth', 'can-i', 'create', 'gatewayhostnamerequests.gateway-orchestrator.io', '-n', ns], { kubeconfig: tenant.kubeconfig });
      if (can.code === 0) break;
      if (i > 100) throw new Error(`the RoleBinding in ${ns} did not take effect for ${tenant.user}`);
      await sleep(100);
    }
  }
  return { alice, bob };
}

async function getRequest(rest: KubeRest, namespace: string, name: string): Promise<GatewayHostnameRequest | undefined> {
  try {
    return await rest.get<GatewayHostnameRequest>(paths.requests(namespace, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const CONDITION_ORDER = ['Claimed', 'CertificateRequested', 'DnsValidated', 'CertificateIssued', 'ListenerAttached', 'DnsAliasReady', 'Ready', 'Denied'];

/** Prints each condition as it turns, until Ready is True. */
async function watchUntilReady(rest: KubeRest, namespace: string, name: string, timeoutMs = 180_000): Promise<GatewayHostnameRequest | undefined> {
  const started = Date.now();
  const seen = new Map<string, string>();
  let last: GatewayHostnameRequest | undefined;
  while (Date.now() - started < timeoutMs) {
    last = await getRequest(rest, namespace, name);
    const conditions = [...(last?.status?.conditions ?? [])].sort((a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type));
    for (const c of conditions) {
      const key = `${c.status}/${c.reason}`;
      if (seen.get(c.type) === key) continue;
      seen.set(c.type, key);
      if (c.status === 'Unknown') continue;
      const mark = c.status === 'True' ? green('✓') : yellow('…');
      print(`    ${dim(`+${seconds(Date.now() - started).padStart(6)}`)}  ${mark} ${c.type.padEnd(21)} ${c.status.padEnd(5)} ${dim(`${c.reason}: ${c.message}`)}`);
    }
    const ready = conditions.find((c) => c.type === 'Ready');
    if (ready?.status === 'True' && last?.status?.observedGeneration === last?.metadata.generation) {
      progress(undefined);
      ok(`${bold(HOSTNAME)} is Ready after ${seconds(Date.now() - started)}`);
      return last;
    }
    const waiting = conditions.find((c: Condition) => c.status !== 'True' && c.type !== 'Ready');
    progress(`waiting for ${waiting ? waiting.type : 'the reconciler'} (${seconds(Date.now() - started)})`);
    await sleep(300);
  }
  progress(undefined);
  unexpected(`${namespace}/${name} not Ready after ${seconds(timeoutMs)}; see ${rel(logFile)}`);
  const alias = last?.status?.conditions?.find((c) => c.type === 'DnsAliasReady');
  if (alias?.status === 'False' && alias.message.includes('already exists')) {
    // moto 5.2.1 refuses a CREATE identical to one in its change journal when any record sorts
    // after the name, though the record was deleted and is no longer listed (Route53 accepts it).
    note('moto (the local AWS) still remembers the alias of a hostname deleted earlier; start from scratch:');
    note('npm run demo:stop && npm run env:down && npm run demo');
  }
  return last;
}

interface EventView {
  type: string;
  reason: string;
  note: string;
  regarding?: { kind?: string; name?: string };
  series?: { count?: number };
  deprecatedCount?: number;
}

async function denialEvents(env: EnvState, tenant: Tenant, namespace: string, expected: number): Promise<EventView[]> {
  const started = Date.now();
  for (;;) {
    const out = await kubectlOk(env, ['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json'], { kubeconfig: tenant.kubeconfig });
    const events = (JSON.parse(out) as { items: EventView[] }).items.filter((e) => e.type === 'Warning');
    if (events.length >= expected || Date.now() - started > 15_000) return events;
    progress(`waiting for the Events (${seconds(Date.now() - started)})`);
    await sleep(300);
  }
}

async function showWhere(env: EnvState, rest: KubeRest, request: GatewayHostnameRequest): Promise<void> {
  const status = request.status ?? {};
  const aws = { region: env.aws.region, endpoint: env.aws.endpoint, credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey } };
  const gw = status.assignedGateway;
  const lb = status.assignedLoadBalancer;
  print(`    ${bold('Gateway')}       ${gw ? `${gw.namespace}/${gw.name}` : '-'}   ${dim('(pool Gateway, class aws-alb; its LoadBalancerConfiguration lists the certificate)')}`);
  print(`    ${bold('ALB')}           ${lb?.dnsName ?? '-'}`);
  if (lb?.arn) note(lb.arn);

  const acm = new ACMClient(aws);
  const route53 = new Route53Client(aws);
  const elbv2 = new ElasticLoadBalancingV2Client(aws);
  try {
    if (status.certificateArn) {
      const cert = (await acm.send(new DescribeCertificateCommand({ CertificateArn: status.certificateArn }))).Certificate;
      print(`    ${bold('Certificate')}   ${cert?.DomainName ?? ''}  ${cert?.Status === 'ISSUED' ? green(cert.Status) : (cert?.Status ?? '')}  ${dim('(ACM, DNS-validated)')}`);
      note(status.certificateArn);
      if (lb?.arn) {
        const listeners = (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.arn }))).Listeners ?? [];
        for (const listener of listeners.filter((l) => l.Port === 443)) {
          const certs = (await elbv2.send(new DescribeListenerCertificatesCommand({ ListenerArn: listener.ListenerArn }))).Certificates ?? [];
          const on = certs.some((c) => c.CertificateArn === status.certificateArn);
          print(`    ${bold('Listener')}      ${listener.Protocol}:${listener.Port} carries ${certs.length} certificate(s), ${on ? green('including this one') : red('not this one')}`);
        }
      }
    }
    const zoneId = request.spec.zoneId;
    const records = (await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? [];
    const ours = records.filter((r) => (r.Name ?? '').replace(/\.$/, '').endsWith(HOSTNAME));
    print(`    ${bold('DNS')}           Route53 zone ${zoneId} (opendi.com):`);
    for (const r of ours) {
      const value = r.AliasTarget ? `ALIAS ${r.AliasTarget.DNSName} (zone ${r.AliasTarget.HostedZoneId})` : (r.ResourceRecords ?? []).map((v) => v.Value).join(' ');
      const what = r.AliasTarget ? 'the hostname' : r.Type === 'TXT' ? 'ownership record' : r.Type === 'CNAME' ? 'ACM validation' : '';
      print(`                  ${(r.Type ?? '').padEnd(5)} ${(r.Name ?? '').padEnd(48)} ${dim(`${value}  ${what ? `(${what})` : ''}`)}`);
    }
  } finally {
    acm.destroy();
    route53.destroy();
    elbv2.destroy();
  }
  const grants = (await rest.list<HostnameGrant>(paths.grants())).items.filter((g) => g.spec.hostname === HOSTNAME);
  print(`    ${bold('Granted to')}    ${grants.map((g) => `namespace ${g.spec.namespace}`).join(', ') || '-'}   ${dim('(HostnameGrant: whose routes may use it)')}`);
}

async function demo(): Promise<number> {
  print(bold('gateway-orchestrator demo: self-service hostnames, first come, first served'));

  step('Local environment: kube-apiserver, etcd, moto (AWS)');
  const started = Date.now();
  const { state: env, reused } = await up((line) => print(`    ${dim(line)}`));
  ok(`${reused ? 'running' : `started in ${seconds(Date.now() - started)}`}: kube-apiserver ${env.kubernetesVersion} at ${env.apiserverUrl}, moto at ${env.aws.endpoint}`);
  const rest = KubeRest.connect(await localConnection(env));

  step('Install what a platform team installs');
  ok('CRDs from crds/ (GatewayHostnameRequest, DomainClaim, HostnameGrant), with the Gateway API and LoadBalancerConfiguration CRDs');
  await applyPlatformPart(env);
  ok('the platform part, manifests/platform/: GatewayClass aws-alb (controller gateway.k8s.aws/alb), pool namespace edge');
  await kubectlOk(env, ['apply', '-f', 'manifests/tenant-clusterrole.yaml']);
  const identity = parseAllDocuments(await kubectlOk(env, ['kustomize', 'manifests/']))
    .map((d) => d.toJS() as { kind: string } | null)
    .filter((o): o is { kind: string } => !!o && ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
  await kubectlOk(env, ['apply', '-f', '-'], { input: identity.map((o) => stringify(o)).join('---\n') });
  ok("RBAC from manifests/: the orchestrator's ServiceAccount and roles, the tenant ClusterRole gateway-orchestrator-tenant");
  const { alice, bob } = await installTenants(env);
  ok('two teams, crds/samples/tenants.yaml: team-a (alice) and team-b (bob), each bound to gateway-orchestrator-tenant');
  note(`their kubeconfigs: ${rel(alice.kubeconfig)}, ${rel(bob.kubeconfig)}`);

  step('Start the orchestrator (webhooks + reconciler) and the load-balancer stand-in');
  const existing = runningOrchestrator();
  const run = await startOrchestrator(env);
  progress(undefined);
  ok(`${existing?.pid === run.pid ? 'already running' : 'running in the background'} (pid ${run.pid}), logs in ${rel(logFile)}`);
  note(`webhooks ${run.webhookUrl}, registered with the API server as ${run.webhookConfiguration}; metrics ${run.metricsUrl}`);
  note('the AWS Load Balancer Controller stand-in turns each pool Gateway into an ALB in moto');

  step(`team-a (alice) requests ${HOSTNAME}`);
  // A request deleted just before this run is still being cleaned up: applying now would only
  // touch the one on its way out.
  for (let started = Date.now(); (await getRequest(rest, 'team-a', 'shop'))?.metadata.deletionTimestamp; ) {
    if (Date.now() - started > 120_000) {
      progress(undefined);
      unexpected('team-a/shop from an earlier run is still being deleted after 120s');
      print(`    start from scratch: npm run demo:stop && npm run env:down && npm run demo`);
      return 1;
    }
    progress(`team-a/shop from an earlier run is being cleaned up (${seconds(Date.now() - started)})`);
    await sleep(500);
  }
  progress(undefined);
  const request = await applyAs(env, alice, 'team-a/hostname-request.yaml', 'alice');
  if (!request.accepted) unexpected(`team-a's request was refused: ${request.error}`);
  else {
    ok(request.stdout);
    for (const w of request.warnings) note(`warning from the webhook: ${w}`);
  }
  const ready = await watchUntilReady(rest, 'team-a', 'shop');
  if (ready && request.stdout.endsWith('unchanged')) note('(from an earlier run: `npm run env:down` and `npm run demo` start from scratch)');

  step('team-a (alice) attaches its HTTPRoute');
  const route = await applyAs(env, alice, 'team-a/httproute.yaml', 'alice');
  if (route.accepted) ok(`${route.stdout}   ${dim(`(${HOSTNAME} is granted to team-a)`)}`);
  else unexpected(`team-a's route was refused: ${route.error}`);

  step(`team-b (bob) tries to take ${HOSTNAME}`);
  const hijack = await applyAs(env, bob, 'team-b/hijack-request.yaml', 'bob');
  if (hijack.accepted) unexpected(`team-b's request for ${HOSTNAME} was accepted: ${hijack.stdout}`);
  else {
    const { webhook, message } = denialParts(hijack.error);
    denied(`denied by ${webhook || 'the API server'}:`);
    for (const line of wrap(message, '        ')) print(line);
  }

  step(`team-b (bob) tries an HTTPRoute for ${HOSTNAME}`);
  const hijackRoute = await applyAs(env, bob, 'team-b/httproute.yaml', 'bob');
  if (hijackRoute.accepted) unexpected(`team-b's route for ${HOSTNAME} was accepted: ${hijackRoute.stdout}`);
  else {
    const { webhook, message } = denialParts(hijackRoute.error);
    denied(`denied by ${webhook || 'the API server'}:`);
    for (const line of wrap(message, '        ')) print(line);
  }

  step('The denials as Events in team-b (what bob sees with kubectl get events)');
  shell('kubectl get events -n team-b   (as bob)');
  const events = await denialEvents(env, bob, 'team-b', 2);
  progress(undefined);
  if (events.length === 0) unexpected('no Warning events in team-b');
  for (const e of events) {
    const count = e.series?.count ?? e.deprecatedCount ?? 1;
    print(`    ${yellow(e.type)}  ${bold(e.reason)}  ${e.regarding?.kind ?? ''}/${e.regarding?.name ?? ''}${count > 1 ? dim(` (x${count})`) : ''}`);
    for (const line of wrap(e.note, '        ')) print(dim(line));
  }

  print();
  print(bold(`Where ${HOSTNAME} lives`));
  shell('kubectl get ghr -A -o wide');
  for (const line of (await kubectlOk(env, ['get', 'ghr', '-A', '-o', 'wide'])).trimEnd().split('\n')) print(`    ${line}`);
  print();
  if (ready) await showWhere(env, rest, ready);

  const k = `kubectl --kubeconfig ${rel(env.kubeconfig)}`;
  print();
  print(bold('Look around'));
  print(`    ${dim(`# kubectl: any recent one, or the one env:up built for this API server: ${env.kubectl}`)}`);
  print(`    ${k} get ghr -A                     ${dim('# every hostname request: where and how far')}`);
  print(`    ${k} describe ghr shop -n team-a    ${dim('# its conditions, step by step')}`);
  print(`    ${k} get events -n team-b           ${dim('# the denials')}`);
  print(`    ${k} get domainclaims,hostnamegrants   ${dim('# who holds which hostname, who may route it')}`);
  print(`    ${k} get gateways,loadbalancerconfigurations -n edge   ${dim('# the pool')}`);
  print(`    kubectl --kubeconfig ${rel(bob.kubeconfig)} apply -f ...   ${dim('# act as bob (or alice): RBAC and the webhooks decide')}`);
  print(`    set -a; . ${rel(env.awsEnv)}; set +a   ${dim('# then the AWS CLI or SDK against moto, e.g.')}`);
  print(`    aws --endpoint-url "$AWS_ENDPOINT_URL" route53 list-resource-record-sets --hosted-zone-id ${env.aws.zoneIds['opendi.com'] ?? ''}`);
  print(`    tail -f ${rel(logFile)}    ${dim('# the orchestrator (JSON logs)')}`);
  print();
  print(bold('Stop'));
  print(`    npm run demo:stop     ${dim('# the orchestrator and the stand-in (webhooks unregistered); the environment keeps running')}`);
  print(`    npm run env:down      ${dim('# everything, including the environment (the orchestrator exits with it)')}`);

  if (problems.length > 0) {
    print();
    print(red(`The demo did not go as expected (${problems.length}):`));
    for (const p of problems) print(red(`  - ${p}`));
    return 1;
  }
  return 0;
}

async function stop(): Promise<number> {
  const run = runningOrchestrator();
  if (!run) {
    print('the demo orchestrator is not running');
    return 0;
  }
  progress('stopping the orchestrator (webhooks are unregistered)');
  await stopOrchestrator(run);
  progress(undefined);
  print(`stopped the demo orchestrator and the stand-in (pid ${run.pid})`);
  if (readState()) print(dim('the local environment is still running: `npm run env:down` stops it'));
  return 0;
}

const command = process.argv[2] ?? 'run';
try {
  process.exitCode = command === 'stop' ? await stop() : command === 'run' ? await demo() : (console.error('usage: tsx server/dev/demo.ts [run|stop]'), 2);
} catch (err) {
  progress(undefined);
  print(red(`demo failed: ${err instanceof Error ? err.message : String(err)}`));
  process.exitCode = 1;
}
