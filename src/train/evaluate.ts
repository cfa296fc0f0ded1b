/** Scoring data with the model's forward (in memory or streamed chunk by chunk), and the ESMM metrics. */
import type { Batch } from '../data/batch.js';
import { evaluatePredictions, type EsmmMetrics } from '../metrics/esmm-metrics.js';
import type { EsmmModel } from '../model/esmm.js';
import { prefetch } from '../util/prefetch.js';

/** Anything that scores batches: a model on this thread, or a pool of worker threads (parallel/pool.ts). */
export interface Scorer {
  predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset?: number): void | Promise<void>;
}

export interface Predictions {
  pctr: Float32Array;
  pcvr: Float32Array;
}

/** Predictions with the labels of the same rows. */
export interface ScoredRows extends Predictions {
  click: Float32Array;
  buy: Float32Array;
  /** Each row's group (the embedding row of the grouping feature; -1 for its OOV/missing row 0), when asked for. */
  groups?: Int32Array;
}

/** pCTR and pCVR of every row, in row order (pCTCVR is their product). */
export function predictAll(model: EsmmModel, data: Batch): Predictions {
  const pctr = new Float32Array(data.size), pcvr = new Float32Array(data.size);
  model.predict(data, pctr, pcvr);
  return { pctr, pcvr };
}

export function evaluateModel(model: EsmmModel, data: Batch): EsmmMetrics {
  const { pctr, pcvr } = predictAll(model, data);
  return evaluatePredictions(pctr, pcvr, data.click, data.buy);
}

/**
 * Scores and labels of every row of a stream of chunks, in order; memory is 16 bytes a row. With
 * `groupField` (the batch field of a single-id feature), also each row's group for GAUC.
 */
export async function scoreChunks(scorer: Scorer, chunks: AsyncIterable<Batch>, groupField?: number): Promise<ScoredRows> {
  let cap = 1 << 16, n = 0;
  const alloc = (size: number) => ({ pctr: new Float32Array(size), pcvr: new Float32Array(size), click: new Float32Array(size), buy: new Float32Array(size), groups: new Int32Array(groupField === undefined ? 0 : size) });
  let out = alloc(cap);
  for await (const b of prefetch(chunks)) {
    if (n + b.size > cap) {
      while (n + b.size > cap) cap *= 2;
      const grown = alloc(cap);
      for (const k of ['pctr', 'pcvr', 'click', 'buy'] as const) grown[k].set(out[k].subarray(0, n));
      grown.groups.set(out.groups.subarray(0, groupField === undefined ? 0 : n));
      out = grown;
    }
    await scorer.predict(b, out.pctr, out.pcvr, n);
    out.click.set(b.click, n);
    out.buy.set(b.buy, n);
    if (groupField !== undefined) {
      const f = b.fields[groupField];
      for (let i = 0; i < b.size; i++) out.groups[n + i] = f.ids[f.offsets[i]] === 0 ? -1 : f.ids[f.offsets[i]];
    }
    n += b.size;
  }
  const scored: ScoredRows = { pctr: out.pctr.slice(0, n), pcvr: out.pcvr.slice(0, n), click: out.click.slice(0, n), buy: out.buy.slice(0, n) };
  if (groupField !== undefined) scored.groups = out.groups.slice(0, n);
  return scored;
}

export function metricsOf(s: ScoredRows): EsmmMetrics {
  return evaluatePredictions(s.pctr, s.pcvr, s.click, s.buy);
}
