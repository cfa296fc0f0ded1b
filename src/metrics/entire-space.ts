/**
 * Entire-space CVR quality, measurable only where the data carries ground truth (the simulator's
 * test_truth.csv): how good pCVR is over ALL impressions, clicked or not — the space ESMM is built for.
 *
 *   es_cvr_auc          AUC of pCVR against the counterfactual conversion drawn for every impression
 *                       ("would it have converted had it been clicked")
 *   true_pcvr_spearman  Spearman rank correlation of pCVR with the true pCVR
 *   pcvr_mean_ratio     mean predicted pCVR / mean true pCVR over all impressions (1 = calibrated)
 */
import { EsmmError } from '../errors.js';
import { rocAuc } from './auc.js';

export interface GroundTruth {
  /** True conversion probability of every impression. */
  pcvr: Float64Array;
  /** The counterfactual conversion draw of every impression (0/1). */
  buyIfClicked: Uint8Array;
}

export interface EntireSpaceMetrics {
  es_cvr_auc: number | null;
  true_pcvr_spearman: number | null;
  pcvr_mean_ratio: number | null;
}

export function entireSpaceMetrics(pcvr: Float32Array | Float64Array, truth: GroundTruth): EntireSpaceMetrics {
  const n = pcvr.length;
  if (truth.pcvr.length !== n || truth.buyIfClicked.length !== n) {
    throw new EsmmError(`entire-space metrics: ${n} predictions but ${truth.pcvr.length} truth rows`);
  }
  let predicted = 0, actual = 0;
  for (let i = 0; i < n; i++) { predicted += pcvr[i]; actual += truth.pcvr[i]; }
  return {
    es_cvr_auc: rocAuc(pcvr, truth.buyIfClicked),
    true_pcvr_spearman: spearman(pcvr, truth.pcvr),
    pcvr_mean_ratio: actual > 0 ? predicted / actual : null,
  };
}

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation (Pearson correlation of average ranks); null when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const ra = averageRanks(a), rb = averageRanks(b);
  const n = ra.length;
  if (n < 2) return null;
  const mean = (n + 1) / 2;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - mean, db = rb[i] - mean;
    cov += da * db; va += da * da; vb += db * db;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : null;
}
