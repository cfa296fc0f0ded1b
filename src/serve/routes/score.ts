/** POST /v1/score: validate (schema from the model), encode, score, answer in candidate order. */
import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.js';
import { errorBody, type ErrorBody } from '../errors.js';
import { ErrorSchema, scoreRequestSchema, ScoreResponseSchema, type ScoreResponse } from '../schema.js';
import { candidateScores, encodeRequest, type ScoreRequest } from '../scoring.js';

export function scoreRoute(app: FastifyInstance, ctx: ServeContext): void {
  const { state, metrics } = ctx;
  app.post<{ Body: ScoreRequest; Reply: ScoreResponse | ErrorBody }>('/v1/score', {
    schema: {
      summary: 'Score candidates for one request',
      description: 'pCTR, pCVR and pCTCVR for each candidate, in order. Values are raw, as in the training data; unknown ids use the out-of-vocabulary row.',
      body: scoreRequestSchema(ctx.registry.current.config, ctx.limits),
      response: { 200: ScoreResponseSchema, 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 503: ErrorSchema },
    },
    // Shed before the body is even read: the cheapest answer an overloaded service can give.
    onRequest: async (_req, reply) => {
      if (state.inflight >= ctx.maxInflight) {
        metrics.errors.inc({ kind: 'overloaded' });
        reply.code(503).header('retry-after', '1').send(errorBody(503, `overloaded: ${state.inflight} requests in flight (--max-inflight ${ctx.maxInflight}); retry later`));
        return reply;
      }
    },
  }, async (req) => {
    state.inflight++;
    metrics.inflight.set(state.inflight);
    try {
      const model = ctx.registry.current;
      const scores = await model.scorer.score(encodeRequest(model.encoder, req.body));
      metrics.candidates.inc(req.body.candidates.length);
      const out: ScoreResponse = { model: { version: model.version, weights_sha256: model.manifest.weights.sha256 }, scores: candidateScores(scores) };
      if (req.body.request_id !== undefined) out.request_id = req.body.request_id;
      return out;
    } finally {
      state.inflight--;
      metrics.inflight.set(state.inflight);
    }
  });
}
