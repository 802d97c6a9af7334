// The shipped webhook definitions (manifests/webhooks.yaml) registered for a benchmark run only,
// so a run and the tests other people run against the same API server never call each other's
// orchestrator:
// - the bench's own configuration names, clientConfig pointing at the bench's orchestrator;
// - only the webhooks asked for, each narrowed to namespaces labelled for this run;
// - the bench's users carry the break-glass group, which every shipped configuration (and so every
//   test's copy) lets through; in the bench's copy the break-glass condition names a group nobody
//   has instead, and the "not the orchestrator" condition names the bench orchestrator's user. The
//   API server evaluates the same conditions as in production, with other names in them.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { isNotFound, paths, type KubeRest } from '../../server/kube/rest.js';
import { REPO_ROOT } from './build.js';

export const BENCH_LABEL = 'gateway-orchestrator.io/bench';
export const BREAK_GLASS_GROUP = 'gateway-orchestrator:break-glass';
const PRODUCTION_SERVICE_ACCOUNT = 'system:serviceaccount:gateway-orchestrator:gateway-orchestrator';

interface Webhook {
  name: string;
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
  namespaceSelector?: unknown;
  matchConditions?: Array<{ name: string; expression: string }>;
}

interface Configuration {
  apiVersion?: string;
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';
  metadata: { name: string; labels?: Record<string, string> };
  webhooks: Webhook[];
}

export interface BenchWebhookOptions {
  runId: string;
  urlBase: string;
  caBundlePem: string;
  /** Webhook names by prefix, e.g. ['routes.'] or ['requests.', 'routes.']. */
  only: string[];
  /** The user the bench's orchestrator acts as (its writes skip the webhooks, like the ServiceAccount's in production). */
  orchestratorUser: string;
}

export function benchWebhookConfigurations(o: BenchWebhookOptions): Configuration[] {
  const text = readFileSync(`${REPO_ROOT}manifests/webhooks.yaml`, 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Configuration);
  const caBundle = Buffer.from(o.caBundlePem).toString('base64');
  const out: Configuration[] = [];
  for (const doc of docs) {
    const webhooks = doc.webhooks
      .filter((w) => o.only.some((prefix) => w.name.startsWith(prefix)))
      .map((w) => ({
        ...w,
        clientConfig: { url: `${o.urlBase}${w.clientConfig.service?.path ?? '/'}`, caBundle },
        namespaceSelector: { matchLabels: { [BENCH_LABEL]: o.runId } },
        ...(w.matchConditions
          ? {
              matchConditions: w.matchConditions.map((c) => ({
                ...c,
                expression: c.expression.replaceAll(`'${BREAK_GLASS_GROUP}'`, `'gateway-orchestrator:bench-nobody-${o.runId}'`).replaceAll(`'${PRODUCTION_SERVICE_ACCOUNT}'`, `'${o.orchestratorUser}'`),
              })),
            }
          : {}),
      }));
    if (webhooks.length === 0) continue;
    out.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: doc.kind,
      metadata: { name: `gateway-orchestrator-${o.runId}`, labels: { ...doc.metadata.labels, [BENCH_LABEL]: o.runId } },
      webhooks,
    });
  }
  return out;
}

const pathOf = (kind: Configuration['kind'], name?: string) => (kind === 'ValidatingWebhookConfiguration' ? paths.validatingWebhooks(name) : paths.mutatingWebhooks(name));

export async function registerBenchWebhooks(rest: KubeRest, o: BenchWebhookOptions): Promise<void> {
  for (const config of benchWebhookConfigurations(o)) await rest.create(pathOf(config.kind), config);
}

export async function unregisterBenchWebhooks(rest: KubeRest, runId: string): Promise<void> {
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'] as const) {
    await rest.delete(pathOf(kind, `gateway-orchestrator-${runId}`)).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
  }
}
