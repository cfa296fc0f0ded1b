/**
 * Group AUC (GAUC, as in Alibaba's DIN paper): the exact AUC within each group (e.g. each user), averaged
 * with each group weighted by its number of rows. Groups whose rows all share one label have no AUC and
 * are left out of both sums, as are rows outside the selection.
 */
import { EsmmError } from '../errors.js';
import { resolveRows, rocAuc, type RowSelection, type Scores } from './auc.js';

export interface GroupAuc {
  gauc: number | null;
  /** Groups with both labels, which the average is over. */
  groups: number;
  /** Rows in those groups. */
  rows: number;
}

/** `groups[i]` is row i's group key (any integers, e.g. an id feature's embedding rows). */
export function groupAuc(scores: Scores, labels: ArrayLike<number>, groups: ArrayLike<number>, rows?: RowSelection): GroupAuc {
  const n = scores.length;
  if (labels.length !== n || groups.length !== n) throw new EsmmError(`gauc: length mismatch (scores ${n}, labels ${labels.length}, groups ${groups.length})`);
  const picked = resolveRows(n, rows, 'gauc');
  const order = picked ? Int32Array.from(picked) : Int32Array.from({ length: n }, (_, i) => i);
  // rows of one group side by side (stable, so each group's rows keep their order)
  const sorted = Array.from(order).sort((a, b) => groups[a] - groups[b] || a - b);
  let weighted = 0, weight = 0, used = 0;
  for (let start = 0; start < sorted.length;) {
    let end = start + 1;
    while (end < sorted.length && groups[sorted[end]] === groups[sorted[start]]) end++;
    const auc = rocAuc(scores, labels, { indices: sorted.slice(start, end) });
    if (auc !== null) {
      weighted += auc * (end - start);
      weight += end - start;
      used++;
    }
    start = end;
  }
  return { gauc: weight > 0 ? weighted / weight : null, groups: used, rows: weight };
}
