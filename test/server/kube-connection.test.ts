// How the orchestrator finds and authenticates to the API server (server/kube/connection.ts),
// proven against the real API server: it says who we are (SelfSubjectReview) for each way in.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { connectionFromKubeconfigFile, inClusterConnection, KubeConnectionError, loadDefaultConnection, type KubeConnection } from '../../server/kube/connection.js';
import { KubeRest } from '../../server/kube/rest.js';
import { adminKubeConfig, getEnv, uniqueName } from '../helpers/index.js';

interface Kubeconfig {
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context': string;
}

let admin: KubeRest;
let local: Kubeconfig;
const dir = mkdtempSync(join(tmpdir(), 'gwo-kubeconn-'));

t.before(async () => {
  admin = await KubeRest.fromKubeConfig(await adminKubeConfig());
  local = parse(readFileSync((await getEnv()).kubeconfig, 'utf8')) as Kubeconfig;
});

async function whoAmI(connection: KubeConnection): Promise<string> {
  const review = await KubeRest.connect(connection).create<{ status: { userInfo: { username: string } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });
  return review.status.userInfo.username;
}

/** A kubeconfig like the local one, with `user` as its credentials. */
function writeKubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = local.clusters[0]!.cluster): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return file;
}

/** A ServiceAccount and a fresh token for it (TokenRequest). */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  await admin.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  const request = await admin.create<{ status: { token: string } }>(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  return request.status.token;
}

t.test('kubeconfig with embedded client certificate (the local environment)', async (t) => {
  const connection = await connectionFromKubeconfigFile((await getEnv()).kubeconfig);
  t.equal(await whoAmI(connection), 'admin');
  t.match(connection.source, /context gateway-orchestrator-local/);
});

t.test('kubeconfig with certificate files, relative to the kubeconfig', async (t) => {
  const user = local.users[0]!.user;
  const cluster = local.clusters[0]!.cluster;
  writeFileSync(join(dir, 'ca.crt'), Buffer.from(String(cluster['certificate-authority-data']), 'base64'));
  writeFileSync(join(dir, 'client.crt'), Buffer.from(String(user['client-certificate-data']), 'base64'));
  writeFileSync(join(dir, 'client.key'), Buffer.from(String(user['client-key-data']), 'base64'));
  const file = writeKubeconfig('files.yaml', { 'client-certificate': 'client.crt', 'client-key': 'client.key' }, { server: cluster['server'], 'certificate-authority': 'ca.crt' });
  t.equal(await whoAmI(await connectionFromKubeconfigFile(file)), 'admin');
});

t.test('ServiceAccount token files are re-read once a minute (the kubelet rotates them)', async (t) => {
  const namespace = uniqueName('kconn');
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const first = await serviceAccountToken(namespace, 'first');
  const second = await serviceAccountToken(namespace, 'second');
  let now = 1_000_000;
  const clock = () => now;

  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${first}\n`);
  const viaKubeconfig = await connectionFromKubeconfigFile(writeKubeconfig('token-file.yaml', { tokenFile: 'token' }), { clock });
  t.equal(await whoAmI(viaKubeconfig), `system:serviceaccount:${namespace}:first`);

  // In the cluster: KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA.
  const server = new URL(String(local.clusters[0]!.cluster['server']));
  const mount = mkdtempSync(join(dir, 'sa-'));
  writeFileSync(join(mount, 'token'), first);
  writeFileSync(join(mount, 'ca.crt'), Buffer.from(String(local.clusters[0]!.cluster['certificate-authority-data']), 'base64'));
  const inCluster = inClusterConnection({ KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port }, mount, clock);
  t.equal(await whoAmI(inCluster), `system:serviceaccount:${namespace}:first`);

  // The token is replaced on disk: kept for up to a minute, then the new one is used.
  writeFileSync(tokenFile, second);
  writeFileSync(join(mount, 'token'), second);
  now += 30_000;
  t.equal(await whoAmI(viaKubeconfig), `system:serviceaccount:${namespace}:first`, 'within the minute: the token read before');
  now += 31_000;
  t.equal(await whoAmI(viaKubeconfig), `system:serviceaccount:${namespace}:second`, 'after a minute: the rotated token');
  t.equal(await whoAmI(inCluster), `system:serviceaccount:${namespace}:second`);
});

t.test('exec credentials (e.g. aws eks get-token) go through client-node', async (t) => {
  const namespace = uniqueName('kconn');
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const token = await serviceAccountToken(namespace, 'exec');
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } });
  writeFileSync(join(dir, 'credential.json'), credential);
  const file = writeKubeconfig('exec.yaml', {
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'cat', args: [join(dir, 'credential.json')], interactiveMode: 'Never' },
  });
  const connection = await connectionFromKubeconfigFile(file);
  t.match(connection.source, /credentials from client-node/);
  t.equal(await whoAmI(connection), `system:serviceaccount:${namespace}:exec`);
});

t.test('clear errors and the default search order', async (t) => {
  const file = writeKubeconfig('plain.yaml', local.users[0]!.user);
  await t.rejects(connectionFromKubeconfigFile(file, { context: 'nope' }), { name: 'KubeConnectionError', message: /context "nope" not found/ });
  t.throws(() => inClusterConnection({}), KubeConnectionError, 'outside a cluster, say so');
  const fromEnv = await loadDefaultConnection({ KUBECONFIG: `${file}:/nonexistent`, HOME: dir });
  t.match(fromEnv.source, file, '$KUBECONFIG first (its first file)');
  t.equal(await whoAmI(fromEnv), 'admin');
  const noHome = mkdtempSync(join(dir, 'home-'));
  await t.rejects(loadDefaultConnection({ HOME: noHome }), { name: 'KubeConnectionError', message: /not in a cluster/ }, 'no kubeconfig and not in a cluster: say so');
});
