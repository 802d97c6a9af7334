// The HTTPS server the API server calls: admission routes, health, readiness and metrics.
// TLS material can be swapped at runtime (rotation) without a restart.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from './log.js';
import { registry } from './metrics.js';
import { parseAdmissionReview, toReviewJson } from './admission/review.js';
import { isPending, type Handler } from './admission/handlers.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Admission bodies carry object and oldObject; the API server caps an object near 3 MiB. */
export const ADMISSION_BODY_LIMIT = 7 * 1024 * 1024;

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface WebhookServerOptions {
  log: Logger;
  tls: TlsMaterial;
  /** path (e.g. /validate/routes) -> handler */
  routes: Record<string, Handler>;
  /** Ready when caches are synced and TLS is loaded. */
  ready: () => { ready: boolean; detail: string };
  /** Serve /metrics on this server too (the plain-HTTP metrics port also serves it). */
  serveMetrics?: boolean;
}

export async function buildWebhookServer(options: WebhookServerOptions): Promise<FastifyInstance<HttpsServer>> {
  const app = Fastify({
    https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' },
    bodyLimit: ADMISSION_BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    // The API server keeps webhook connections alive; on close, end them instead of waiting minutes.
    forceCloseConnections: true,
    // Deep or hostile JSON is rejected by the parser (400), never by a crash.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  }) as unknown as FastifyInstance<HttpsServer>;

  for (const [path, handler] of Object.entries(options.routes)) {
    // Not async: a decision the handler makes synchronously is sent without a promise in between.
    // A synchronous throw reaches the error handler as a rejection would.
    app.post(path, (req, reply) => {
      const request = parseAdmissionReview(req.body);
      if (typeof request === 'string') {
        reply.code(400).send({ error: `not an AdmissionReview: ${request}` });
        return;
      }
      const result = handler(request);
      if (isPending(result)) return result.then((decision) => reply.type(JSON_TYPE).send(toReviewJson(request.uid, decision)));
      reply.type(JSON_TYPE).send(toReviewJson(request.uid, result));
      return;
    });
  }

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const state = options.ready();
    return reply.code(state.ready ? 200 : 503).send({ ready: state.ready, detail: state.detail });
  });
  if (options.serveMetrics) {
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const code = err.statusCode ?? 500;
    const status = code >= 400 && code < 500 ? code : 500;
    if (status === 500) options.log.error({ err: String(err) }, 'webhook request failed');
    return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });
  return app;
}

/** Swaps the serving certificate for new connections; connections already open keep theirs. */
export function reloadTls(app: FastifyInstance<HttpsServer>, tls: TlsMaterial): void {
  app.server.setSecureContext({ cert: tls.cert, key: tls.key });
}

/** A plain-HTTP server for Prometheus scrapes and kubelet probes that should not need TLS. */
export async function buildMetricsServer(ready: WebhookServerOptions['ready']): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const state = ready();
    return reply.code(state.ready ? 200 : 503).send({ ready: state.ready, detail: state.detail });
  });
  return app;
}
