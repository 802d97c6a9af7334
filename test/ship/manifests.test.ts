// The install manifests: `kubectl apply -k manifests/ --dry-run=server` against the real API
// server, and the properties the issue asks of them (replicas, spread, probes, hardening, config),
// checked on the kustomize output a platform team would apply.
import t from 'tap';
import { parse } from 'yaml';
import { DEFAULT_CONFIG, parsePlatformConfig } from '../../policy/config.js';
import { LEASE_NAME } from '../../reconcile/leader.js';
import { join } from 'node:path';
import { createNamespace, kubectl } from '../helpers/index.js';
import { find, kustomize, one, readRepoFile, repoRoot, type K8sObject } from './lib.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let objects: K8sObject[];

t.before(async () => {
  ({ objects } = await kustomize('manifests'));
});

t.test('kubectl apply -k manifests/ --dry-run=server passes', async (t) => {
  // The platform part comes first (README "Install on EKS"); the Role in the pool namespace needs
  // it, and a server-side dry run of objects in a namespace needs the namespace to exist.
  await kubectl(['apply', '-k', join(repoRoot, 'manifests/platform')]);
  await createNamespace('gateway-orchestrator');
  const { stdout, stderr } = await kubectl(['apply', '-k', join(repoRoot, 'manifests'), '--dry-run=server']);
  const lines = stdout.trim().split('\n');
  t.equal(lines.length, objects.length, `one line per object:\n${stdout}\n${stderr}`);
  for (const line of lines) t.match(line, /\((server dry run)\)$/, line);
  t.ok(lines.some((l) => l.startsWith('validatingwebhookconfiguration.admissionregistration.k8s.io/gateway-orchestrator')));
  t.ok(lines.some((l) => l.startsWith('deployment.apps/gateway-orchestrator')));
});

t.test('kubectl apply -k manifests/platform/ --dry-run=server passes (GatewayClass aws-alb, pool namespace edge)', async (t) => {
  const platform = await kustomize('manifests/platform');
  const gatewayClass = one(platform.objects, 'GatewayClass', 'aws-alb') as Json;
  t.equal(gatewayClass['spec'].controllerName, 'gateway.k8s.aws/alb');
  t.equal(gatewayClass['metadata'].name, DEFAULT_CONFIG.defaults.gatewayClass);
  one(platform.objects, 'Namespace', DEFAULT_CONFIG.pool.namespace);
  const { stdout } = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: platform.yaml });
  t.match(stdout, /gatewayclass\.gateway\.networking\.k8s\.io\/aws-alb (created|configured|unchanged) \(server dry run\)/);
  // The platform part is not in the base: the orchestrator's install never owns cluster-global choices.
  t.equal(find(objects, 'GatewayClass').length, 0);
  t.equal(find(objects, 'Namespace', 'edge').length, 0);
});

t.test('the base holds every piece the issue lists', async (t) => {
  for (const [kind, name] of [
    ['Namespace', 'gateway-orchestrator'],
    ['ServiceAccount', 'gateway-orchestrator'],
    ['ClusterRole', 'gateway-orchestrator'],
    ['ClusterRole', 'gateway-orchestrator-tenant'],
    ['ClusterRoleBinding', 'gateway-orchestrator'],
    ['Deployment', 'gateway-orchestrator'],
    ['PodDisruptionBudget', 'gateway-orchestrator'],
    ['Service', 'gateway-orchestrator-webhook'],
    ['NetworkPolicy', 'gateway-orchestrator'],
    ['ValidatingWebhookConfiguration', 'gateway-orchestrator'],
    ['MutatingWebhookConfiguration', 'gateway-orchestrator'],
  ] as const) {
    t.equal(find(objects, kind, name).length, 1, `${kind} ${name}`);
  }
  t.equal(find(objects, 'Role', 'gateway-orchestrator', 'edge').length, 1, 'Role in the pool namespace');
  t.equal(find(objects, 'Role', 'gateway-orchestrator', 'gateway-orchestrator').length, 1, 'Role in its own namespace');
  const crds = find(objects, 'CustomResourceDefinition').map((c) => c.metadata.name).sort();
  t.same(crds, ['domainclaims.gateway-orchestrator.io', 'gatewayhostnamerequests.gateway-orchestrator.io', 'hostnamegrants.gateway-orchestrator.io']);
});

t.test('Deployment: replicas, spread, probes, resources, hardening, config file, POD_NAME', async (t) => {
  const deployment = one(objects, 'Deployment', 'gateway-orchestrator') as Json;
  const spec = deployment['spec'];
  const pod = spec.template.spec;
  const [container] = pod.containers as Json[];
  t.equal(spec.replicas, 2);
  t.equal(spec.strategy.rollingUpdate.maxUnavailable, 0, 'a rollout never drops a ready replica');
  t.same(
    (pod.topologySpreadConstraints as Json[]).map((c) => c['topologyKey']).sort(),
    ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'],
  );
  t.equal(pod.serviceAccountName, 'gateway-orchestrator');
  t.equal(pod.automountServiceAccountToken, true, 'the pod needs its token for the API server');
  t.equal((one(objects, 'ServiceAccount', 'gateway-orchestrator') as Json)['automountServiceAccountToken'], false, 'but nothing else using the account gets one');
  t.equal(pod.securityContext.runAsNonRoot, true);
  t.type(pod.securityContext.runAsUser, 'number');
  t.not(pod.securityContext.runAsUser, 0);
  t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.equal(container!['securityContext'].allowPrivilegeEscalation, false);
  t.equal(container!['securityContext'].readOnlyRootFilesystem, true);
  t.same(container!['securityContext'].capabilities.drop, ['ALL']);
  t.equal(container!['readinessProbe'].httpGet.path, '/readyz');
  t.equal(container!['livenessProbe'].httpGet.path, '/healthz');
  t.ok(container!['resources'].requests.cpu && container!['resources'].requests.memory && container!['resources'].limits.memory);
  const env = container!['env'] as Json[];
  t.same(env.find((e) => e['name'] === 'POD_NAME')?.['valueFrom'], { fieldRef: { fieldPath: 'metadata.name' } });
  const ports = Object.fromEntries((container!['ports'] as Json[]).map((p) => [p['name'], p['containerPort']]));
  t.same(ports, { webhook: DEFAULT_CONFIG.webhook.port, metrics: DEFAULT_CONFIG.webhook.metricsPort });

  // The config: a generated ConfigMap, mounted as a file, named by --config.
  const args = container!['args'] as string[];
  const configPath = args[args.indexOf('--config') + 1]!;
  const mount = (container!['volumeMounts'] as Json[]).find((m) => configPath.startsWith(`${m['mountPath']}/`));
  t.ok(mount, `a volume is mounted where --config ${configPath} points`);
  const volume = (pod.volumes as Json[]).find((v) => v['name'] === mount!['name']);
  const configMap = one(objects, 'ConfigMap', volume!['configMap'].name, 'gateway-orchestrator') as Json;
  t.match(configMap['metadata'].name, /^gateway-orchestrator-config-[a-z0-9]+$/, 'name carries a content hash: a config change rolls the Deployment');
  const file = configPath.slice(mount!['mountPath'].length + 1);
  t.ok(configMap['data'][file], `the ConfigMap holds ${file}`);
});

t.test('the default platform config is valid and uses the names the manifests use', async (t) => {
  const configMap = find(objects, 'ConfigMap')[0] as Json;
  const config = parsePlatformConfig(parse(configMap['data']['config.yaml']));
  t.same(config, parsePlatformConfig(parse(readRepoFile('manifests/config/platform-config.yaml'))));
  t.equal(config.orchestrator.namespace, 'gateway-orchestrator');
  t.equal(config.orchestrator.serviceAccount, one(objects, 'ServiceAccount').metadata.name);
  t.equal(config.pool.namespace, 'edge');
  t.equal(config.webhook.serviceName, one(objects, 'Service').metadata.name);
  t.equal(config.webhook.validatingConfigurationName, one(objects, 'ValidatingWebhookConfiguration').metadata.name);
  t.equal(config.webhook.mutatingConfigurationName, one(objects, 'MutatingWebhookConfiguration').metadata.name);
  // The namespaced Role names the exact Secret and Lease the code uses.
  const own = one(objects, 'Role', 'gateway-orchestrator', 'gateway-orchestrator') as Json;
  const named = (own['rules'] as Json[]).flatMap((r) => (r['resourceNames'] as string[] | undefined) ?? []);
  t.ok(named.includes(config.webhook.tlsSecretName), 'TLS Secret name');
  t.ok(named.includes(LEASE_NAME), 'leader Lease name');
  t.ok(config.orchestrator.breakGlassGroups.includes('gateway-orchestrator:break-glass'));
  // Every field of the shipped file is one the config knows (no silently ignored typo).
  const raw = parse(readRepoFile('manifests/config/platform-config.yaml')) as Json;
  for (const [section, value] of Object.entries(raw)) {
    t.ok(section in DEFAULT_CONFIG, `known section ${section}`);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const key of Object.keys(value)) t.ok(key in (DEFAULT_CONFIG as unknown as Json)[section], `known field ${section}.${key}`);
    }
  }
});

t.test('Service, PodDisruptionBudget and NetworkPolicy', async (t) => {
  const service = one(objects, 'Service') as Json;
  const servicePorts = service['spec'].ports as Json[];
  t.same(servicePorts.find((p) => p['name'] === 'webhook'), { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' });
  t.ok(servicePorts.find((p) => p['name'] === 'metrics'));
  const pdb = one(objects, 'PodDisruptionBudget') as Json;
  t.equal(pdb['spec'].minAvailable, 1);
  const deployment = one(objects, 'Deployment') as Json;
  t.same(pdb['spec'].selector.matchLabels, deployment['spec'].selector.matchLabels);
  t.same(service['spec'].selector, deployment['spec'].selector.matchLabels);
  const policy = one(objects, 'NetworkPolicy') as Json;
  const ingress = policy['spec'].ingress as Json[];
  const webhookRule = ingress.find((r) => (r['ports'] as Json[]).some((p) => p['port'] === 9443));
  t.equal(webhookRule?.['from'], undefined, 'the webhook port is open to any source (the API server)');
  const metricsRule = ingress.find((r) => (r['ports'] as Json[]).some((p) => p['port'] === 9090));
  t.same(metricsRule?.['from'], [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
});

t.test('webhooks point at the Service and skip the orchestrator and break glass', async (t) => {
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    for (const webhook of (one(objects, kind) as Json)['webhooks'] as Json[]) {
      t.same(
        { name: webhook['clientConfig'].service.name, namespace: webhook['clientConfig'].service.namespace, port: webhook['clientConfig'].service.port },
        { name: 'gateway-orchestrator-webhook', namespace: 'gateway-orchestrator', port: 443 },
        `${webhook['name']} calls the Service`,
      );
      t.ok(webhook['timeoutSeconds'] <= 5, `${webhook['name']} times out quickly`);
      const conditions = (webhook['matchConditions'] as Json[]).map((c) => c['expression']).join('\n');
      t.match(conditions, "'gateway-orchestrator:break-glass' in request.userInfo.groups", `${webhook['name']} has the break-glass bypass`);
    }
  }
});

t.test('the IRSA example overlay annotates the ServiceAccount', async (t) => {
  const overlay = await kustomize('docs/examples/irsa');
  const sa = one(overlay.objects, 'ServiceAccount', 'gateway-orchestrator');
  t.match(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], /^arn:aws:iam::\d{12}:role\//);
  t.equal(overlay.objects.length, objects.length, 'the overlay changes the base, adds nothing');
});
