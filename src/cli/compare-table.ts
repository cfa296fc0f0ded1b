/** The paper's comparison table (mean ± std of each metric per model kind), shared by `compare` and `demo`. */
import type { ModelKind } from '../model/esmm.js';
import { COMPARE_METRICS, KIND_LABEL, TRUTH_METRICS, type CompareMetric as MetricKey } from '../report/labels.js';
import { summarize, type CompareRun } from '../train/compare.js';
import { fmt } from '../util/format.js';

/** The table as text: one row per kind, a column per metric, mean ± sample std over the seeds. */
export function formatComparison(runs: CompareRun[], kinds: ModelKind[], seeds: number, withTruth: boolean): string {
  const columns = withTruth ? [...COMPARE_METRICS, ...TRUTH_METRICS] : COMPARE_METRICS;
  const cell = (kind: ModelKind, key: MetricKey) => {
    const s = summarize(runs, kind, key);
    return s === null ? 'n/a' : seeds > 1 ? `${fmt(s.mean)} ± ${fmt(s.std)}` : fmt(s.mean);
  };
  const header = ['model', ...columns.map((c) => c[1])];
  const rows = kinds.map((k) => [KIND_LABEL[k], ...columns.map(([key]) => cell(k, key))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  const notes = [
    'CVR AUC (clicked) is the paper\'s measure: pCVR ranked against conversions among clicked test impressions.',
    ...(withTruth ? [
      'The last three use the simulator\'s ground truth over ALL test impressions, the space pCVR is used in:',
      'a conversion drawn for every impression as if clicked, the true pCVR, and the mean true pCVR.',
    ] : []),
    'BASE learns pCVR from clicked impressions only; ESMM learns it over the entire space through',
    'pCTCVR = pCTR × pCVR, with embeddings shared with the click task (ESMM-NS: not shared).',
  ];
  return ['', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', ...notes, ''].join('\n');
}

/** Mean, std and n of every metric per kind, for --json. */
export function comparisonJson(runs: CompareRun[], kinds: ModelKind[]) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))] as MetricKey[];
  return Object.fromEntries(kinds.map((k) => [k, Object.fromEntries(keys.map((key) => [key, summarize(runs, k, key)]))]));
}
