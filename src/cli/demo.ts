import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { SYNTH_DEFAULTS, writeSynth } from '../data/synth.js';
import type { ModelKind } from '../model/esmm.js';
import { writeCompareReport } from '../report/index.js';
import { compareModels } from '../train/compare.js';
import { createProgress } from '../train/progress.js';
import { packageRoot } from '../util/package-root.js';
import { formatComparison } from './compare-table.js';
import { oneOf, positiveInt, printJson, THREADS_HELP } from './options.js';

/**
 * The demo trains with examples/synth.yaml on the simulator's default data: the setting where the study
 * (docs/simulator.md) found ESMM's gain.
 */
const DEMO_CONFIG = join(packageRoot(), 'examples', 'synth.yaml');

const KINDS: ModelKind[] = ['base', 'esmm-ns', 'esmm'];

interface DemoFlags {
  out: string;
  rows: number;
  seeds: number;
  epochs?: number;
  threads?: number;
  progress: 'auto' | 'bar' | 'lines' | 'quiet';
  json?: boolean;
}

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('simulate a funnel, train BASE (a CVR model on clicks), ESMM-NS and ESMM on it, and compare them')
    .option('--out <dir>', 'where data and models go', 'esmm-demo')
    .option('--rows <n>', 'impressions to simulate (train + test)', positiveInt('--rows'), SYNTH_DEFAULTS.rows)
    .option('--seeds <n>', 'training seeds per model (mean ± std over them)', positiveInt('--seeds'), 3)
    .option('--epochs <n>', 'epochs per model (default: the example config\'s)', positiveInt('--epochs'))
    .option('--threads <n>', THREADS_HELP, positiveInt('--threads'))
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
      const config = { ...example, train: { ...example.train, epochs: flags.epochs ?? example.train.epochs, threads: flags.threads } };
      const runs = await compareModels({
        config, kinds: KINDS, seeds: Array.from({ length: flags.seeds }, (_, i) => i + 1),
        trainPaths: [files.train], evalPaths: [files.test], truthPath: files.truth, outDir: join(out, 'models'), progress,
      });
      const report = await writeCompareReport(join(out, 'report'), { runs, kinds: KINDS });
      if (flags.json) printJson({ data: stats, runs, report: report.html });
      else process.stdout.write(`${formatComparison(runs, KINDS, flags.seeds, true)}report: ${report.html}\n`);
    });
}

