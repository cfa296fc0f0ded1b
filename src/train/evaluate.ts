/** Scoring a whole data set with the model's forward, and the ESMM metrics on it. */
import type { Batch } from '../data/batch.js';
import { evaluatePredictions, type EsmmMetrics } from '../metrics/esmm-metrics.js';
import type { EsmmModel } from '../model/esmm.js';

export interface Predictions {
  pctr: Float32Array;
  pcvr: Float32Array;
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
