// Local development: registers the same webhook configurations as manifests/webhooks.yaml, but
// pointing at a URL on loopback instead of the in-cluster Service. Each local process registers
// under its own names (labelled with its pid), so several test processes never overwrite each
// other's registration, and a registration whose process died is removed by the next one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeRest } from '../kube/rest.js';
import { isNotFound, paths } from '../kube/rest.js';
import { pidExists } from '../../test/env/processes.js';

const WEBHOOKS_YAML = fileURLToPath(new URL('../../manifests/webhooks.yaml', import.meta.url));
const LABEL_LOCAL_PID = 'gateway-orchestrator.io/local-pid';

type Kind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

interface WebhookConfiguration {
  kind: Kind;
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  webhooks: Array<{ clientConfig: { service?: { path?: string }; url?: string; caBundle?: string } }>;
}

export interface LocalWebhookOptions {
  urlBase: string;
  caBundlePem: string;
  /** Configuration names (the orchestrator injects its CA into these). */
  names: { validating: string; mutating: string };
  poolNamespace?: string;
  orchestratorNamespace?: string;
}

const pathFor = (kind: Kind) => (kind === 'ValidatingWebhookConfiguration' ? paths.validatingWebhooks : paths.mutatingWebhooks);

export function localWebhookConfigurations(options: LocalWebhookOptions): WebhookConfiguration[] {
  const docs = parseAllDocuments(readFileSync(WEBHOOKS_YAML, 'utf8')).map((d) => d.toJS() as WebhookConfiguration);
  const caBundle = Buffer.from(options.caBundlePem).toString('base64');
  for (const doc of docs) {
    doc.metadata.name = doc.kind === 'ValidatingWebhookConfiguration' ? options.names.validating : options.names.mutating;
    doc.metadata.labels = { ...doc.metadata.labels, [LABEL_LOCAL_PID]: String(process.pid) };
    for (const webhook of doc.webhooks as Array<WebhookConfiguration['webhooks'][number] & { namespaceSelector?: Selector }>) {
      const path = webhook.clientConfig.service?.path ?? '/';
      webhook.clientConfig = { url: `${options.urlBase}${path}`, caBundle };
      retargetSelector(webhook.namespaceSelector, options);
    }
  }
  return docs;
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** The manifests name the production namespaces (edge, gateway-orchestrator); tests use their own. */
function retargetSelector(selector: Selector | undefined, options: LocalWebhookOptions): void {
  if (!selector) return;
  const byName = selector.matchLabels?.['kubernetes.io/metadata.name'];
  if (byName && options.poolNamespace) selector.matchLabels!['kubernetes.io/metadata.name'] = options.poolNamespace;
  for (const expression of selector.matchExpressions ?? []) {
    if (expression.key === 'kubernetes.io/metadata.name' && expression.operator === 'NotIn' && options.orchestratorNamespace) {
      expression.values = (expression.values ?? []).map((v) => (v === 'gateway-orchestrator' ? options.orchestratorNamespace! : v));
    }
  }
}

/** Creates or replaces both configurations, after removing those of local processes that died. */
export async function registerLocalWebhooks(rest: KubeRest, options: LocalWebhookOptions): Promise<void> {
  await removeStaleRegistrations(rest);
  for (const config of localWebhookConfigurations(options)) {
    const path = pathFor(config.kind);
    const body = { apiVersion: 'admissionregistration.k8s.io/v1', ...config };
    try {
      const existing = await rest.get<WebhookConfiguration>(path(config.metadata.name));
      await rest.replace(path(config.metadata.name), { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await rest.create(path(), body);
    }
  }
}

export async function unregisterLocalWebhooks(rest: KubeRest, names: { validating: string; mutating: string }): Promise<void> {
  for (const [kind, name] of [
    ['ValidatingWebhookConfiguration', names.validating],
    ['MutatingWebhookConfiguration', names.mutating],
  ] as const) {
    try {
      await rest.delete(pathFor(kind)(name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

async function removeStaleRegistrations(rest: KubeRest): Promise<void> {
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'] as const) {
    const list = await rest.list<WebhookConfiguration>(pathFor(kind)(), { labelSelector: LABEL_LOCAL_PID });
    for (const item of list.items) {
      const pid = Number(item.metadata.labels?.[LABEL_LOCAL_PID]);
      if (Number.isInteger(pid) && pid > 0 && !pidExists(pid)) await rest.delete(pathFor(kind)(item.metadata.name)).catch(() => undefined);
    }
  }
}
