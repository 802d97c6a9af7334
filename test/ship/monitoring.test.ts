// The PrometheusRule and the Grafana dashboard use only metrics that exist: the orchestrator's own
// (as registered by the code, with the labels it really sets) and the request conditions the
// shipped kube-state-metrics config exports. Every alert has a severity, a summary and a runbook
// entry in docs/OPERATIONS.md.
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { CONDITION_TYPES } from '../../policy/api.js';
import { registry } from '../../server/metrics.js';
import { readRepoFile } from './lib.js';

// Load every module that registers metrics: the whole process, both halves.
await import('../../server/orchestrator.js');
await import('../../reconcile/start.js');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const exported = new Map<string, Set<string>>();
for (const metric of registry.getMetricsAsArray()) {
  const m = metric as unknown as { name: string; labelNames?: string[]; type?: string };
  exported.set(m.name, new Set(m.labelNames ?? []));
}

const ksm = parse(readRepoFile('manifests/monitoring/kube-state-metrics-crs.yaml')) as Json;
const ksmMetrics = new Map<string, Set<string>>();
for (const resource of ksm['spec'].resources as Json[]) {
  const common = Object.keys(resource['labelsFromPath'] ?? {});
  for (const metric of resource['metrics'] as Json[]) {
    const labels = new Set([...common, ...Object.keys(metric['each'].gauge?.labelsFromPath ?? {}), 'customresource_group', 'customresource_kind', 'customresource_version']);
    ksmMetrics.set(`${resource['metricNamePrefix']}_${metric['name']}`, labels);
  }
}

const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'count', 'avg', 'rate', 'increase', 'scalar', 'by', 'on', 'and', 'or', 'unless', 'without', 'histogram_quantile', 'absent', 'time', 'vector', 'le', 'offset', 'bool', 'ignoring', 'group_left', 'group_right', 'topk', 'bottomk']);

/** Metric selectors in an expression: name and matchers ({k="v"} pairs). */
function selectors(expr: string): Array<{ name: string; matchers: Array<[string, string, string]> }> {
  const withoutStrings = expr.replace(/\$__rate_interval/g, '5m');
  const out: Array<{ name: string; matchers: Array<[string, string, string]> }> = [];
  for (const m of withoutStrings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?/g)) {
    const name = m[1]!;
    const before = withoutStrings.slice(0, m.index);
    if (PROMQL_WORDS.has(name) || /[a-zA-Z0-9_]$/.test(before) || /(by|on|without|ignoring)\s*\([^)]*$/.test(before) || /\[[^\]]*$/.test(before) || /"[^"]*$/.test(before)) continue;
    if (/^\d/.test(name)) continue;
    const matchers: Array<[string, string, string]> = [];
    for (const mm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) matchers.push([mm[1]!, mm[2]!, mm[3]!]);
    out.push({ name, matchers });
  }
  return out;
}

function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()).filter(Boolean));
}

/** Checks one expression; returns the metric names it uses. */
function checkExpr(t: Test, where: string, expr: string): string[] {
  const used = selectors(expr);
  t.ok(used.length > 0, `${where}: selects metrics`);
  const labelsInExpr = new Set<string>(['le', 'pod', 'instance', 'job', 'namespace']);
  for (const { name, matchers } of used) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const labels = name === 'up' ? new Set(['job', 'instance']) : (exported.get(name) ?? exported.get(base) ?? ksmMetrics.get(name));
    t.ok(labels, `${where}: metric ${name} exists (exported by the code or by kube-state-metrics-crs.yaml)`);
    if (!labels) continue;
    for (const l of labels) labelsInExpr.add(l);
    for (const [label, op, value] of matchers) {
      t.ok(labels.has(label) || label === 'job', `${where}: ${name} has label ${label}`);
      if ((label === 'type' || label === 'condition') && op === '=') t.ok((CONDITION_TYPES as readonly string[]).includes(value), `${where}: condition type ${value} exists`);
    }
  }
  for (const label of groupingLabels(expr)) t.ok(labelsInExpr.has(label), `${where}: grouping label ${label} exists on a metric used`);
  return used.map((u) => u.name);
}

t.test('the code exports the metrics the issue lists', async (t) => {
  for (const [what, name] of [
    ['admission counts', 'gateway_orchestrator_admission_requests_total'],
    ['admission latency', 'gateway_orchestrator_admission_duration_seconds'],
    ['reconcile duration', 'gateway_orchestrator_reconcile_duration_seconds'],
    ['reconcile errors', 'gateway_orchestrator_reconcile_errors_total'],
    ['queue depth', 'gateway_orchestrator_queue_depth'],
    ['AWS calls by API and outcome', 'gateway_orchestrator_aws_calls_total'],
    ['throttles', 'gateway_orchestrator_aws_throttles_total'],
    ['certificates pending', 'gateway_orchestrator_certificates_pending'],
    ['their age', 'gateway_orchestrator_certificate_pending_age_seconds'],
    ['Gateway pool fill', 'gateway_orchestrator_pool_gateway_fill_ratio'],
  ]) {
    t.ok(exported.has(name!), `${what}: ${name}`);
  }
});

const operations = readRepoFile('docs/OPERATIONS.md');
const anchors = new Set([...operations.matchAll(/^#+\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));

function alertsOf(file: string): Json[] {
  const rule = parse(readRepoFile(file)) as Json;
  if (rule['kind'] !== 'PrometheusRule') throw new Error(`${file} is not a PrometheusRule`);
  return (rule['spec'].groups as Json[]).flatMap((g) => g['rules'] as Json[]);
}

function checkAlerts(t: Test, alerts: Json[]): void {
  for (const alert of alerts) {
    const name = alert['alert'] as string;
    checkExpr(t, name, alert['expr'] as string);
    t.ok(['critical', 'warning', 'info'].includes(alert['labels']?.severity), `${name}: severity`);
    t.ok(alert['annotations']?.summary, `${name}: summary`);
    const runbook = String(alert['annotations']?.runbook ?? '');
    t.match(runbook, /^docs\/OPERATIONS\.md#/, `${name}: runbook`);
    t.ok(anchors.has(runbook.split('#')[1]!), `${name}: docs/OPERATIONS.md has the section #${runbook.split('#')[1]}`);
  }
}

t.test('PrometheusRule: real metrics, severity, summary, runbook; the alerts the issue asks for', async (t) => {
  const alerts = alertsOf('manifests/monitoring/prometheusrule.yaml');
  const names = alerts.map((a) => a['alert'] as string);
  t.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const [what, name] of [
    ['high reconcile error rate', 'GatewayOrchestratorReconcileErrors'],
    ['ACM issuance stuck', 'GatewayOrchestratorCertificateIssuanceStuck'],
    ['Route53 change failures', 'GatewayOrchestratorRoute53ChangeFailures'],
    ['listener attach failures', 'GatewayOrchestratorListenerAttachStuck'],
    ['webhook latency', 'GatewayOrchestratorWebhookLatencyHigh'],
    ['webhook errors', 'GatewayOrchestratorWebhookErrors'],
    ['AWS throttling', 'GatewayOrchestratorAwsThrottling'],
  ]) {
    t.ok(names.includes(name!), `${what}: ${name}`);
  }
  checkAlerts(t, alerts);
  // The base monitoring kustomization applies it; the per-request rules stay opt-in.
  const kustomization = parse(readRepoFile('manifests/monitoring/kustomization.yaml')) as Json;
  t.same(kustomization['resources'], ['servicemonitor.yaml', 'prometheusrule.yaml']);
});

t.test('per-request PrometheusRule (kube-state-metrics): real metrics, severity, summary, runbook', async (t) => {
  const alerts = alertsOf('manifests/monitoring/prometheusrule-requests.yaml');
  t.ok(alerts.length >= 3);
  checkAlerts(t, alerts);
});

t.test('Grafana dashboard: valid, unique panel ids, real metrics', async (t) => {
  const dashboard = JSON.parse(readRepoFile('manifests/monitoring/grafana-dashboard.json')) as Json;
  t.equal(dashboard['uid'], 'gateway-orchestrator');
  const panels = (dashboard['panels'] as Json[]).flatMap((p) => [p, ...((p['panels'] as Json[] | undefined) ?? [])]);
  const ids = panels.map((p) => p['id']);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const used = new Set<string>();
  for (const panel of panels.filter((p) => p['type'] !== 'row')) {
    for (const target of panel['targets'] as Json[]) for (const name of checkExpr(t, `panel "${panel['title']}"`, target['expr'] as string)) used.add(name);
  }
  for (const name of [
    'gateway_orchestrator_admission_requests_total',
    'gateway_orchestrator_admission_duration_seconds_bucket',
    'gateway_orchestrator_reconcile_duration_seconds_bucket',
    'gateway_orchestrator_queue_depth',
    'gateway_orchestrator_certificate_pending_age_seconds',
    'gateway_orchestrator_pool_gateway_fill_ratio',
    'gateway_orchestrator_aws_calls_total',
    'kube_gatewayhostnamerequest_status_condition',
  ]) {
    t.ok(used.has(name), `the dashboard shows ${name}`);
  }
});
