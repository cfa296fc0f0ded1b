/** Liveness, readiness, Prometheus metrics, the model summary and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.js';
import { errorBody } from '../errors.js';
import { modelSummary } from '../serving-model.js';

export function opsRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { summary: 'Readiness: a model is loaded and the service is not shutting down' } }, async (_req, reply) => {
    if (ctx.state.draining) return reply.code(503).send(errorBody(503, 'shutting down'));
    return { status: 'ready', version: ctx.registry.current.version };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  app.get('/v1/model', { schema: { summary: 'The model being served: version, kind, features, training metrics, weights SHA-256' } },
    async () => modelSummary(ctx.registry.current));

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
