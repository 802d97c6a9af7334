// Local development: registers the same webhook configurations as manifests/webhooks.yaml, but
// pointing at a URL on loopback instead of the in-cluster Service.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeRest} from '../kube/rest.js';
import { isNotFound, paths } from '../kube/rest.js';

const WEBHOOKS_YAML = fileURLToPath(new URL('../../manifests/webhooks.yaml', import.meta.url));

interface WebhookConfiguration {
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';
  metadata: { name: string; resourceVersion?: string };
  webhooks: Array<{ clientConfig: { service?: { path?: string }; url?: string; caBundle?: string } }>;
}

export function localWebhookConfigurations(urlBase: string, caBundlePem: string, poolNamespace?: string): WebhookConfiguration[] {
  const docs = parseAllDocuments(readFileSync(WEBHOOKS_YAML, 'utf8')).map((d) => d.toJS() as WebhookConfiguration);
  const caBundle = Buffer.from(caBundlePem).toString('base64');
  for (const doc of docs) {
    for (const webhook of doc.webhooks) {
      const path = webhook.clientConfig.service?.path ?? '/';
      webhook.clientConfig = { url: `${urlBase}${path}`, caBundle };
      const selector = (webhook as { namespaceSelector?: { matchLabels?: Record<string, string> } }).namespaceSelector;
      if (poolNamespace && selector?.matchLabels?.['kubernetes.io/metadata.name']) selector.matchLabels['kubernetes.io/metadata.name'] = poolNamespace;
    }
  }
  return docs;
}

/** Creates or replaces both configurations. */
export async function registerLocalWebhooks(rest: KubeRest, urlBase: string, caBundlePem: string, poolNamespace?: string): Promise<void> {
  for (const config of localWebhookConfigurations(urlBase, caBundlePem, poolNamespace)) {
    const path = config.kind === 'ValidatingWebhookConfiguration' ? paths.validatingWebhooks : paths.mutatingWebhooks;
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

export async function unregisterLocalWebhooks(rest: KubeRest): Promise<void> {
  for (const config of localWebhookConfigurations('https://unused', '')) {
    const path = config.kind === 'ValidatingWebhookConfiguration' ? paths.validatingWebhooks : paths.mutatingWebhooks;
    try {
      await rest.delete(path(config.metadata.name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
