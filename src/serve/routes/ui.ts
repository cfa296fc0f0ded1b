/**
 * The browser page (GET /ui/): the built page and WASM kernels from build/web, and the model being
 * served under /ui/model/ (its two files' bytes as verified at load). Everything under /ui/ is sent
 * cross-origin isolated (COOP/COEP), which the kernels' shared WebAssembly memory needs in a browser.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServeContext } from '../context.js';
import { errorBody } from '../errors.js';

function isolate(reply: FastifyReply): void {
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-embedder-policy', 'require-corp');
  reply.header('cross-origin-resource-policy', 'same-origin');
}

export async function uiRoutes(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  if (ctx.webDir === null) return;
  const webDir = ctx.webDir;
  await app.register(async (ui) => {
    ui.addHook('onSend', async (_req, reply) => isolate(reply));
    await ui.register(fastifyStatic, { root: webDir, prefix: '/ui/', redirect: true, index: 'index.html', cacheControl: false });
    ui.get('/ui/model/manifest.json', { schema: { hide: true } }, async (_req, reply) => {
      const m = ctx.registry.current;
      reply.header('cache-control', 'no-store').type('application/json; charset=utf-8');
      return m.manifestText;
    });
    ui.get<{ Params: { file: string } }>('/ui/model/:file', { schema: { hide: true } }, async (req, reply) => {
      const m = ctx.registry.current;
      if (req.params.file !== m.manifest.weights.file) return reply.code(404).send(errorBody(404, `no model file ${req.params.file} (the model being served is ${m.version})`));
      reply.header('cache-control', 'public, max-age=31536000, immutable').type('application/octet-stream');
      return Buffer.from(m.weights.buffer, m.weights.byteOffset, m.weights.byteLength);
    });
  });
}
