// Every request the orchestrator makes to the API server is counted by verb, resource and status
// code (gateway_orchestrator_kube_requests_total), with a bounded resource label: plural and
// subresource, never a name. Proven against the real API server.
import t from 'tap';
import { KubeRest, kubeRequestCounts, kubeRequestsTotal, paths, resourceOf } from '../../server/kube/rest.js';
import { adminKubeConfig, createNamespace, uniqueName } from '../helpers/index.js';

t.test('the resource of a path: plural and subresource, core and group APIs, namespaced or not', async (t) => {
  t.equal(resourceOf('/apis/gateway-orchestrator.io/v1alpha1/namespaces/team-a/gatewayhostnamerequests/web/status'), 'gatewayhostnamerequests/status');
  t.equal(resourceOf('/apis/gateway-orchestrator.io/v1alpha1/namespaces/team-a/gatewayhostnamerequests'), 'gatewayhostnamerequests');
  t.equal(resourceOf('/apis/gateway-orchestrator.io/v1alpha1/domainclaims/hn-0123'), 'domainclaims');
  t.equal(resourceOf('/apis/coordination.k8s.io/v1/namespaces/gateway-orchestrator/leases/leader'), 'leases');
  t.equal(resourceOf('/api/v1/namespaces/team-a'), 'namespaces');
  t.equal(resourceOf('/api/v1/namespaces'), 'namespaces');
  t.equal(resourceOf('/api/v1/namespaces/team-a/events'), 'events');
  t.equal(resourceOf('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/gwo'), 'validatingwebhookconfigurations');
});

t.test('requests are counted with their status code, failed ones too', async (t) => {
  const rest = await KubeRest.fromKubeConfig(await adminKubeConfig());
  const namespace = await createNamespace(uniqueName('kube-metric'));
  const code = async (verb: string, resource: string, status: string) =>
    (await kubeRequestsTotal.get()).values.find((v) => v.labels['verb'] === verb && v.labels['resource'] === resource && v.labels['code'] === status)?.value ?? 0;

  const before = { ok: await code('GET', 'namespaces', '200'), missing: await code('GET', 'gatewayhostnamerequests', '404') };
  const countsBefore = await kubeRequestCounts();
  await rest.get(`/api/v1/namespaces/${namespace}`);
  await rest.get(paths.requests(namespace, 'not-there')).catch(() => undefined);
  t.equal(await code('GET', 'namespaces', '200'), before.ok + 1, 'one GET of a namespace, 200');
  t.equal(await code('GET', 'gatewayhostnamerequests', '404'), before.missing + 1, 'one GET of a missing request, 404');
  const countsAfter = await kubeRequestCounts();
  t.equal((countsAfter['GET gatewayhostnamerequests'] ?? 0) - (countsBefore['GET gatewayhostnamerequests'] ?? 0), 1, 'the totals by verb and resource count both codes');
});
