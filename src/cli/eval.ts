import type { Command } from 'commander';
import { readEncodedChunks } from '../data/pipeline.js';
import { createKernels } from '../engine/backend.js';
import { loadModel } from '../io/model-dir.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import { metricsOf, scoreChunks } from '../train/evaluate.js';
import { fmt } from '../util/format.js';
import { backendOption, oneOf, printJson } from './options.js';

interface EvalFlags {
  model: string;
  data: string[];
  onBadRow?: 'error' | 'skip';
  backend: 'auto' | 'wasm' | 'reference';
  json?: boolean;
}

export function registerEval(program: Command): void {
  program.command('eval')
    .description('evaluate a model: CTR AUC (all rows), CVR AUC (clicked rows), CTCVR AUC (all rows) and log losses')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .requiredOption('--data <paths...>', 'labelled data file(s) or glob(s), in the model\'s input format')
    .option('--on-bad-row <policy>', 'error | skip (default: the model config\'s train.on_bad_row)', oneOf('--on-bad-row', ['error', 'skip'] as const))
    .option('--backend <name>', 'auto | wasm | reference', backendOption, 'auto')
    .option('--json', 'print one JSON object')
    .action(async (flags: EvalFlags) => {
      const loaded = await loadModel(flags.model, await createKernels(flags.backend));
      const { chunks, stats } = readEncodedChunks(flags.data, loaded.config, loaded.encoder, { onBadRow: flags.onBadRow });
      const m = metricsOf(await scoreChunks(loaded.model, chunks));
      const read = { rows_read: stats.rowsRead, dropped_click0_buy1: stats.droppedClick0Buy1, skipped_bad_rows: stats.skippedBadRows };
      if (flags.json) printJson({ ...m, ...read });
      else process.stdout.write(formatMetrics(m, read));
    });
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
