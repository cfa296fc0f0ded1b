/**
 * Calibration: whether predicted probabilities match observed rates, overall (mean predicted / observed
 * rate) and per bucket of rows ordered by prediction (equal-count buckets, the data of a reliability plot).
 */
import { EsmmError } from '../errors.js';
import { resolveRows, type RowSelection } from './auc.js';

export interface CalibrationBucket {
  rows: number;
  meanPredicted: number;
  observedRate: number;
  /** The bucket's prediction range. */
  minPredicted: number;
  maxPredicted: number;
}

export interface Calibration {
  rows: number;
  meanPredicted: number;
  observedRate: number;
  /** meanPredicted / observedRate: 1 is calibrated, > 1 over-predicts (null without positives). */
  ratio: number | null;
  buckets: CalibrationBucket[];
}

export function calibration(predicted: ArrayLike<number>, labels: ArrayLike<number>, buckets = 10, rows?: RowSelection): Calibration | null {
  const n = predicted.length;
  if (labels.length !== n) throw new EsmmError(`calibration: ${n} predictions for ${labels.length} labels`);
  if (!Number.isInteger(buckets) || buckets < 1) throw new EsmmError(`calibration: buckets must be a positive integer, got ${buckets}`);
  const picked = resolveRows(n, rows, 'calibration');
  const index = picked ? Array.from(picked) : Array.from({ length: n }, (_, i) => i);
  if (index.length === 0) return null;
  index.sort((a, b) => predicted[a] - predicted[b] || a - b);
  let sumP = 0, sumY = 0;
  for (const i of index) { sumP += predicted[i]; sumY += labels[i]; }
  const out: CalibrationBucket[] = [];
  const k = Math.min(buckets, index.length);
  for (let b = 0; b < k; b++) {
    const lo = Math.floor((b * index.length) / k), hi = Math.floor(((b + 1) * index.length) / k);
    let p = 0, y = 0;
    for (let j = lo; j < hi; j++) { p += predicted[index[j]]; y += labels[index[j]]; }
    out.push({ rows: hi - lo, meanPredicted: p / (hi - lo), observedRate: y / (hi - lo), minPredicted: predicted[index[lo]], maxPredicted: predicted[index[hi - 1]] });
  }
  const meanPredicted = sumP / index.length, observedRate = sumY / index.length;
  return { rows: index.length, meanPredicted, observedRate, ratio: observedRate > 0 ? meanPredicted / observedRate : null, buckets: out };
}
