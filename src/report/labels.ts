/** Display names shared by the report's tables and charts (the same as the text comparison table). */
import { KIND_LABEL } from '../cli/compare-table.js';
import type { ModelKind } from '../model/esmm.js';
import type { CompareRun } from '../train/compare.js';

export type CompareMetric = keyof CompareRun['metrics'];

export const COMPARE_METRICS: Array<[CompareMetric, string]> = [
  ['cvr_auc', 'CVR AUC (clicked)'],
  ['ctcvr_auc', 'CTCVR AUC'],
  ['ctr_auc', 'CTR AUC'],
];

/** Only when the runs have them (ground truth from the simulator). */
export const TRUTH_METRICS: Array<[CompareMetric, string]> = [
  ['es_cvr_auc', 'CVR AUC (all impr.)'],
  ['true_pcvr_spearman', 'rank corr. true pCVR'],
  ['pcvr_mean_ratio', 'mean pCVR / true'],
];

export function kindLabel(kind: ModelKind): string {
  return KIND_LABEL[kind] ?? kind;
}
