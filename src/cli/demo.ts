import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { SYNTH_DEFAULTS, writeSynth } from '../data/synth.js';
import type { ModelKind } from '../model/esmm.js';
import { compareModels, summarize, type CompareRun } from '../train/compare.js';
import { createProgress } from '../train/progress.js';
import { fmt } from '../util/format.js';
import { packageRoot } from '../util/package-root.js';
import { oneOf, positiveInt, printJson } from './options.js';

/**
 * The demo trains with examples/synth.yaml on the simulator's default data: the setting where the study
 * (docs/simulator.md) found ESMM's gain.
 */
const DEMO_CONFIG = join(packageRoot(), 'examples', 'synth.yaml');

const KINDS: ModelKind[] = ['base', 'esmm-ns', 'esmm'];
const LABEL: Record<ModelKind, string> = {
  base: 'BASE (CVR on clicks)', aman: 'AMAN', oversampling: 'OVERSAMPLING', division: 'DIVISION', 'esmm-ns': 'ESMM-NS', esmm: 'ESMM',
};

interface DemoFlags {
  out: string;
  rows: number;
  seeds: number;
  epochs?: number;
  progress: 'auto' | 'bar' | 'lines' | 'quiet';
  json?: boolean;
}

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('simulate a funnel, train BASE (a CVR model on clicks), ESMM-NS and ESMM on it, and compare them')
    .option('--out <dir>', 'where data and models go', 'esmm-demo')
    .option('--rows <n>', 'impressions to simulate (train + test)', positiveInt('--rows'), SYNTH_DEFAULTS.rows)
    .option('--seeds <n>', 'training seeds per model (mean ± std when > 1)', positiveInt('--seeds'), 1)
    .option('--epochs <n>', 'epochs per model (default: the example config\'s)', positiveInt('--epochs'))
    .option('--progress <mode>', 'auto | bar | lines | quiet', oneOf('--progress', ['auto', 'bar', 'lines', 'quiet'] as const), 'auto')
    .option('--json', 'print every run\'s metrics as one JSON object')
    .action(async (flags: DemoFlags) => {
      const out = resolve(flags.out);
      const progress = createProgress(flags.json && flags.progress === 'auto' ? 'quiet' : flags.progress);
      progress.log(`simulating ${flags.rows} impressions into ${join(out, 'data')} ...`);
      const { files, stats } = await writeSynth({ rows: flags.rows, seed: SYNTH_DEFAULTS.seed, outDir: join(out, 'data') });
      progress.log(`CTR ${(100 * stats.ctr).toFixed(2)}%, CVR on clicks ${(100 * stats.cvr).toFixed(2)}%, `
        + `${stats.clicks} clicks and ${stats.buys} conversions in ${stats.rows} impressions`);
      const example = loadConfig(DEMO_CONFIG);
      const config = { ...example, train: { ...example.train, epochs: flags.epochs ?? example.train.epochs } };
      const runs = await compareModels({
        config, kinds: KINDS, seeds: Array.from({ length: flags.seeds }, (_, i) => i + 1),
        trainPaths: [files.train], evalPaths: [files.test], truthPath: files.truth, outDir: join(out, 'models'), progress,
      });
      if (flags.json) printJson({ data: stats, runs });
      else process.stdout.write(formatTable(runs, flags.seeds));
    });
}

const COLUMNS: Array<[keyof CompareRun['metrics'], string]> = [
  ['cvr_auc', 'CVR AUC (clicked)'],
  ['ctcvr_auc', 'CTCVR AUC'],
  ['ctr_auc', 'CTR AUC'],
  ['es_cvr_auc', 'CVR AUC (all impr.)'],
  ['true_pcvr_spearman', 'rank corr. true pCVR'],
  ['pcvr_mean_ratio', 'mean pCVR / true'],
];

function formatTable(runs: CompareRun[], seeds: number): string {
  const cell = (kind: ModelKind, key: keyof CompareRun['metrics']) => {
    const s = summarize(runs, kind, key);
    return s === null ? 'n/a' : seeds > 1 ? `${fmt(s.mean)} ± ${fmt(s.std)}` : fmt(s.mean);
  };
  const header = ['model', ...COLUMNS.map((c) => c[1])];
  const rows = KINDS.map((k) => [LABEL[k], ...COLUMNS.map(([key]) => cell(k, key))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'CVR AUC (clicked) is the paper\'s measure: pCVR ranked against conversions among clicked test impressions.',
    'The last three use the simulator\'s ground truth over ALL test impressions, the space pCVR is used in:',
    'a conversion drawn for every impression as if clicked, the true pCVR, and the mean true pCVR.',
    'BASE learns pCVR from clicked impressions only; ESMM learns it over the entire space through',
    'pCTCVR = pCTR × pCVR, with embeddings shared with the click task (ESMM-NS: not shared).',
    '',
  ].join('\n');
}
