/** The fastify app of `esmm serve`: strict JSON body, schema errors naming fields, metrics per route, the routes. */
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { VERSION } from '../version.js';
import type { ServeContext } from './context.js';
import { errorBody, errorHandler } from './errors.js';
import { useStrictJsonBody } from './json-body.js';
import { adminRoutes } from './routes/admin.js';
import { opsRoutes } from './routes/ops.js';
import { scoreRoute } from './routes/score.js';
import { uiRoutes } from './routes/ui.js';
import { modelColumns } from './schema.js';

export interface AppOptions {
  /** Largest request body in bytes (413 beyond). */
  bodyLimit: number;
  logger: FastifyBaseLogger;
}

export async function buildApp(ctx: ServeContext, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    // no log line per request at thousands a second; errors and reloads are logged
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit,
    // slow or stalled clients cannot hold a request open for long
    requestTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, allowUnionTypes: true } },
  });
  useStrictJsonBody(app);
  app.setErrorHandler(errorHandler(() => modelColumns(ctx.registry.current.config).map((c) => c.column)));
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}`)));
  // While draining, every answer closes its connection, so close() does not wait for idle keep-alive ones.
  app.addHook('onSend', async (_req, reply) => {
    if (ctx.state.draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    ctx.metrics.requests.inc({ route, method: req.method, status: String(status) });
    ctx.metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    if (status >= 500 && status !== 503) ctx.metrics.errors.inc({ kind: 'internal' });
    else if (status >= 400 && status < 500) ctx.metrics.errors.inc({ kind: 'invalid' });
  });

  const m = ctx.registry.current;
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'esmm scoring service',
        version: VERSION,
        description: `ESMM scores (pCTR, pCVR, pCTCVR) for candidates. The request schema is this model's: ${m.manifest.spec.kind}, version ${m.version}, columns ${modelColumns(m.config).map((c) => c.column).join(', ')}.`,
      },
    },
  });
  scoreRoute(app, ctx);
  opsRoutes(app, ctx);
  adminRoutes(app, ctx);
  await uiRoutes(app, ctx);
  return app;
}
