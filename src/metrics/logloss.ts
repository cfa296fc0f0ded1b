/** Mean binary log loss (binary cross-entropy) of predicted probabilities. */
import { EsmmError } from '../errors.js';
import { resolveRows, type RowSelection } from './auc.js';

/**
 * Probabilities are clipped to [LOGLOSS_EPSILON, 1 − LOGLOSS_EPSILON] before taking logs, so one
 * confidently wrong prediction costs at most −ln(1e-7) ≈ 16.1 instead of +Infinity. This is the usual
 * convention (scikit-learn's, TensorFlow's Keras default) and keeps reported numbers comparable with them.
 */
export const LOGLOSS_EPSILON = 1e-7;

/**
 * Mean of −[y·ln p + (1−y)·ln(1−p)] over the selected rows, with p clipped as above and y ∈ [0, 1]
 * (normally 0 or 1). Null when no row is selected. Throws EsmmError on NaN probabilities, labels outside
 * [0, 1] or mismatched lengths.
 */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>, rows?: RowSelection): number | null {
  const n = probabilities.length;
  if (labels.length !== n) throw new EsmmError(`log loss: ${n} probabilities but ${labels.length} labels`);
  const picked = resolveRows(n, rows, 'log loss');
  const m = picked === null ? n : picked.length;
  if (m === 0) return null;

  let sum = 0;
  for (let k = 0; k < m; k++) {
    const i = picked === null ? k : picked[k];
    const p = probabilities[i], y = labels[i];
    if (Number.isNaN(p)) throw new EsmmError(`log loss: probability of row ${i} is NaN`);
    if (!(y >= 0 && y <= 1)) throw new EsmmError(`log loss: label of row ${i} is ${y}, expected a value in [0, 1]`);
    const clipped = Math.min(Math.max(p, LOGLOSS_EPSILON), 1 - LOGLOSS_EPSILON);
    // Skip a term whose weight is 0 so that y ∈ {0,1} needs one log per row.
    if (y !== 0) sum -= y * Math.log(clipped);
    if (y !== 1) sum -= (1 - y) * Math.log1p(-clipped);
  }
  return sum / m;
}
