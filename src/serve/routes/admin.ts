/**
 * POST /admin/reload: load a model directory (the body's `model`, default the one being served) and swap
 * it in. Refused (403) unless the service was given an admin token, and without `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.js';
import { errorBody } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function adminRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const expected = ctx.adminToken === null ? null : digest(ctx.adminToken);
  app.post<{ Body: { model?: string } | undefined }>('/admin/reload', {
    schema: {
      summary: 'Load a model directory beside the current one and swap it in (needs the admin token)',
      description: 'Body (optional): {"model": "<directory>"}; without one, the directory being served is read again.',
    },
    onRequest: async (req, reply) => {
      if (expected === null) return reply.code(403).send(errorBody(403, 'admin endpoints are disabled: start the service with --admin-token or ESMM_ADMIN_TOKEN'));
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (given === undefined || !timingSafeEqual(digest(given), expected)) return reply.code(401).send(errorBody(401, 'missing or wrong admin token (Authorization: Bearer <token>)'));
    },
  }, async (req, reply) => {
    const body: unknown = req.body ?? {};
    const model = (body as { model?: unknown }).model;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).some((k) => k !== 'model') || !(model === undefined || (typeof model === 'string' && model !== ''))) {
      return reply.code(400).send(errorBody(400, 'the body is optional; if given, {"model": "<directory>"}', 'model'));
    }
    const result = await ctx.registry.reload(model as string | undefined);
    if (!result.ok) return reply.code(422).send({ ...errorBody(422, `reload refused, still serving ${result.version}: ${result.error}`), version: result.version });
    return result;
  });
}
