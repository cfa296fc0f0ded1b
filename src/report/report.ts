/**
 * The report writers: DIR/report.html with every chart inline, plus each chart as DIR/<name>.svg and
 * DIR/<name>.png. Each file is written atomically; report.html goes last, so once it is there, so are the charts.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { EpochRecord } from '../io/model-dir.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import type { ModelKind } from '../model/esmm.js';
import { summarize, type CompareRun } from '../train/compare.js';
import { metricsOf, type ScoredRows } from '../train/evaluate.js';
import { calibrationChart, comparisonChart, historyChart, renderSvg, rocChart, svgToPng, type Chart } from './charts.js';
import { renderReport, type Block, type Cell, type Section } from './html.js';
import { COMPARE_METRICS, kindLabel, TRUTH_METRICS, type CompareMetric } from './labels.js';

export type Summary = Record<string, string | number>;

export interface TrainReportInput {
  history: EpochRecord[];
  /** Scores of the evaluation rows after training: adds the ROC and calibration charts. */
  scores?: ScoredRows;
  summary: Summary;
}

export interface EvalReportInput {
  scores: ScoredRows;
  metrics: EsmmMetrics;
  summary: Summary;
}

export interface CompareReportInput {
  runs: CompareRun[];
  kinds: ModelKind[];
}

export interface WrittenReport {
  /** DIR/report.html */
  html: string;
  /** Every file written, report.html last. */
  files: string[];
}

export async function writeTrainReport(dir: string, input: TrainReportInput): Promise<WrittenReport> {
  const sections: Section[] = [{ heading: 'Summary', blocks: [{ kind: 'keyValue', rows: input.summary }] }];
  const history: Block[] = [historyTable(input.history)];
  sections.push({ heading: 'Training history', blocks: history });
  const charts = [[history, historyChart(input.history)] as const];
  if (input.scores) {
    const blocks: Block[] = [metricsTable(metricsOf(input.scores))];
    sections.push({ heading: 'Evaluation', blocks });
    charts.push([blocks, rocChart(input.scores)], [blocks, calibrationChart(input.scores)]);
  }
  return write(dir, 'ESMM training report', sections, charts);
}

export async function writeEvalReport(dir: string, input: EvalReportInput): Promise<WrittenReport> {
  const blocks: Block[] = [metricsTable(input.metrics)];
  const sections: Section[] = [
    { heading: 'Summary', blocks: [{ kind: 'keyValue', rows: input.summary }] },
    { heading: 'Evaluation', blocks },
  ];
  return write(dir, 'ESMM evaluation report', sections, [[blocks, rocChart(input.scores)], [blocks, calibrationChart(input.scores)]]);
}

export async function writeCompareReport(dir: string, input: CompareReportInput): Promise<WrittenReport> {
  const { runs, kinds } = input;
  const seeds = [...new Set(runs.map((r) => r.seed))];
  const withTruth = runs.some((r) => typeof r.metrics.es_cvr_auc === 'number');
  const columns = withTruth ? [...COMPARE_METRICS, ...TRUTH_METRICS] : COMPARE_METRICS;
  const cell = (kind: ModelKind, key: CompareMetric): Cell => {
    const s = summarize(runs, kind, key);
    return s === null ? null : seeds.length > 1 ? `${s.mean.toFixed(4)} ± ${s.std.toFixed(4)}` : s.mean;
  };
  const comparison: Block[] = [
    { kind: 'text', text: `Mean${seeds.length > 1 ? ' ± sample standard deviation' : ''} over ${seeds.length} seed${seeds.length > 1 ? 's' : ''} (${seeds.join(', ')}). CVR AUC (clicked) is the paper's measure: pCVR ranked against conversions among clicked test impressions.` },
    { kind: 'table', header: ['model', ...columns.map((c) => c[1])], rows: kinds.map((k) => [kindLabel(k), ...columns.map(([key]) => cell(k, key))]) },
  ];
  const runsTable: Block = {
    kind: 'table',
    header: ['model', 'seed', 'seconds', 'samples/s', ...columns.map((c) => c[1])],
    rows: runs.map((r) => [kindLabel(r.kind), r.seed, Number(r.seconds.toFixed(1)), Math.round(r.samplesPerSecond), ...columns.map(([key]) => r.metrics[key] as Cell)]),
  };
  const sections: Section[] = [
    { heading: 'Comparison', blocks: comparison },
    { heading: 'Runs', blocks: [runsTable] },
  ];
  return write(dir, 'ESMM model comparison', sections, [[comparison, comparisonChart(runs, kinds)]]);
}

function historyTable(history: EpochRecord[]): Block {
  return {
    kind: 'table',
    header: ['epoch', 'steps', 'train loss', 'CTR AUC', 'CVR AUC (clicked)', 'CTCVR AUC'],
    rows: history.map((h) => [h.epoch, h.steps, h.train_loss, h.eval?.ctr_auc, h.eval?.cvr_auc, h.eval?.ctcvr_auc]),
  };
}

function metricsTable(m: EsmmMetrics): Block {
  return {
    kind: 'table',
    header: ['task', 'rows', 'AUC', 'log loss'],
    rows: [
      ['CTR (all rows)', m.rows, m.ctr_auc, m.ctr_logloss],
      ['CVR (clicked rows)', m.clicks, m.cvr_auc, m.cvr_logloss],
      ['CTCVR (all rows)', m.rows, m.ctcvr_auc, m.ctcvr_logloss],
    ],
  };
}

/** Renders each chart, appends it to its section's blocks, writes the chart files and then report.html. */
async function write(dir: string, title: string, sections: Section[], charts: ReadonlyArray<readonly [Block[], Chart | null]>): Promise<WrittenReport> {
  const files: string[] = [];
  for (const [blocks, chart] of charts) {
    if (chart === null) continue;
    const svg = await renderSvg(chart);
    blocks.push({ kind: 'chart', title: chart.title, svg });
    for (const [ext, content] of [['svg', svg], ['png', svgToPng(svg)]] as const) {
      const file = join(dir, `${chart.name}.${ext}`);
      writeFileAtomic(file, content);
      files.push(file);
    }
  }
  const html = join(dir, 'report.html');
  writeFileAtomic(html, renderReport({ title, sections }));
  files.push(html);
  return { html, files };
}
