import type { Command } from 'commander';
import { readEncodedChunks } from '../data/pipeline.js';
import { createKernels } from '../engine/backend.js';
import { loadModel } from '../io/model-dir.js';
import type { Config } from '../config.js';
import type { Encoder } from '../data/encoder.js';
import { EsmmError } from '../errors.js';
import type { Calibration } from '../metrics/calibration.js';
import { detailedMetrics, type EsmmMetrics } from '../metrics/esmm-metrics.js';
import { writeEvalReport } from '../report/index.js';
import { metricsOf, scoreChunks } from '../train/evaluate.js';
import { fmt } from '../util/format.js';
import { withRunner } from '../train/parallel/pool.js';
import { BACKEND_HELP, type BackendFlag, backendOption, oneOf, positiveInt, printJson, THREADS_HELP } from './options.js';

interface EvalFlags {
  model: string;
  data: string[];
  onBadRow?: 'error' | 'skip';
  backend: BackendFlag;
  threads?: number;
  gaucBy?: string;
  buckets: number;
  report?: string;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program.command('eval')
    .description('evaluate a model: CTR AUC (all rows), CVR AUC (clicked rows), CTCVR AUC (all rows) and log losses')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .requiredOption('--data <paths...>', 'labelled data file(s) or glob(s), in the model\'s input format')
    .option('--on-bad-row <policy>', 'error | skip (default: the model config\'s train.on_bad_row)', oneOf('--on-bad-row', ['error', 'skip'] as const))
    .option('--backend <name>', BACKEND_HELP, backendOption, 'auto')
    .option('--threads <n>', THREADS_HELP, positiveInt('--threads'))
    .option('--gauc-by <feature>', 'also the group AUC of each task, grouped by this single-id feature (e.g. user_id); its out-of-vocabulary rows are left out')
    .option('--buckets <n>', 'calibration buckets (equal-count, by prediction)', positiveInt('--buckets'), 10)
    .option('--report <dir>', 'also write an HTML report (ROC curves, calibration) to <dir>')
    .option('--json', 'print one JSON object')
    .action(async (flags: EvalFlags) => {
      const kernels = await createKernels(flags.backend);
      const loaded = await loadModel(flags.model, kernels);
      const groupField = flags.gaucBy === undefined ? undefined : groupFieldOf(loaded.config, loaded.encoder, flags.gaucBy);
      const { chunks, stats } = readEncodedChunks(flags.data, loaded.config, loaded.encoder, { onBadRow: flags.onBadRow });
      const scored = await withRunner({ kernels, model: loaded.model, optimizer: null, threads: flags.threads }, (runner) => scoreChunks(runner, chunks, groupField));
      const m = metricsOf(scored);
      const detail = detailedMetrics(scored.pctr, scored.pcvr, scored.click, scored.buy, scored.groups ?? null, flags.buckets);
      const read = { rows_read: stats.rowsRead, dropped_click0_buy1: stats.droppedClick0Buy1, skipped_bad_rows: stats.skippedBadRows };
      if (flags.report) {
        const written = await writeEvalReport(flags.report, { scores: scored, metrics: m, summary: { model: flags.model, data: flags.data.join(', '), ...read } });
        process.stderr.write(`report: ${written.html}\n`);
      }
      if (flags.json) printJson({ ...m, ...read, calibration: detail.calibration, gauc: detail.gauc });
      else process.stdout.write(formatMetrics(m, read) + formatDetail(detail, flags.gaucBy));
    });
}

/** The batch field of a single-id feature, to group rows by. */
function groupFieldOf(cfg: Config, encoder: Encoder, name: string): number {
  const f = cfg.features.find((g) => g.name === name);
  if (!f) throw new EsmmError(`--gauc-by: no feature "${name}" (features: ${cfg.features.map((g) => g.name).join(', ')})`);
  if (f.type !== 'id') throw new EsmmError(`--gauc-by: feature "${name}" is ${f.type}; grouping needs a single-id feature`);
  return encoder.fieldIndex(name);
}

function formatDetail(d: ReturnType<typeof detailedMetrics>, gaucBy: string | undefined): string {
  const lines: string[] = [];
  const cal = (what: string, c: Calibration | null) => {
    if (c) lines.push(`${what.padEnd(30)}  mean predicted ${fmt(c.meanPredicted)} / observed ${fmt(c.observedRate)} = ${c.ratio === null ? 'n/a' : c.ratio.toFixed(3)}`);
  };
  cal('calibration pCTR', d.calibration.ctr);
  cal('calibration pCVR (click)', d.calibration.cvr);
  cal('calibration pCTCVR', d.calibration.ctcvr);
  if (d.gauc) {
    for (const [task, g] of [['CTR', d.gauc.ctr], ['CVR (clicked)', d.gauc.cvr], ['CTCVR', d.gauc.ctcvr]] as const) {
      lines.push(`${`GAUC ${task} by ${gaucBy}`.padEnd(30)}  ${fmt(g.gauc)} (${g.groups} groups, ${g.rows} rows)`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function formatMetrics(m: EsmmMetrics, read: Record<string, number>): string {
  const rows: Array<[string, string]> = [
    ['rows', `${m.rows} (clicks ${m.clicks}, conversions ${m.conversions})`],
    ['CTR AUC (all rows)', fmt(m.ctr_auc)],
    ['CVR AUC (clicked rows)', fmt(m.cvr_auc)],
    ['CTCVR AUC (all rows)', fmt(m.ctcvr_auc)],
    ['CTR log loss', fmt(m.ctr_logloss)],
    ['CVR log loss (clicked)', fmt(m.cvr_logloss)],
    ['CTCVR log loss', fmt(m.ctcvr_logloss)],
    ['rows read / dropped (click=0, buy=1) / malformed skipped', `${read.rows_read} / ${read.dropped_click0_buy1} / ${read.skipped_bad_rows}`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}
