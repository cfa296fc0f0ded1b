/** Display names shared by the text comparison table (cli/compare-table.ts) and the report's tables and charts. */
import type { ModelKind } from '../model/esmm.js';
import type { CompareRun } from '../train/compare.js';

export type CompareMetric = keyof CompareRun['metrics'];

export const KIND_LABEL: Record<ModelKind, string> = {
  base: 'BASE (CVR on clicks)', aman: 'AMAN', oversampling: 'OVERSAMPLING', division: 'DIVISION', 'esmm-ns': 'ESMM-NS', esmm: 'ESMM',
};

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
