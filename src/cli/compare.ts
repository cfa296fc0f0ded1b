/** `esmm compare`: the paper's experiment on the user's own data — several model kinds, several seeds, one table. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { loadAnyConfig } from '../config/load.js';
import { EsmmError } from '../errors.js';
import { MODEL_KINDS } from '../config.js';
import type { ModelKind } from '../model/esmm.js';
import { writeCompareReport } from '../report/index.js';
import { compareModels } from '../train/compare.js';
import { createProgress } from '../train/progress.js';
import { comparisonJson, formatComparison } from './compare-table.js';
import { oneOf, positiveInt, printJson, THREADS_HELP } from './options.js';

interface CompareFlags {
  config: string;
  train?: string[];
  eval?: string[];
  models: string;
  seeds: number;
  truth?: string;
  out: string;
  epochs?: number;
  threads?: number;
  progress: 'auto' | 'bar' | 'lines' | 'quiet';
  report?: string;
  json?: boolean;
}

export function registerCompare(program: Command): void {
  program.command('compare')
    .description('train several model kinds (the paper\'s baselines and ESMM) over several seeds on the same files and print mean ± std of each metric')
    .requiredOption('--config <file>', 'YAML/JSON or EasyRec config: data, features, model settings shared by every kind')
    .option('--train <paths...>', 'training file(s) or glob(s) (default: an EasyRec config\'s train_input_path)')
    .option('--eval <paths...>', 'held-out file(s) or glob(s) every model is evaluated on (default: an EasyRec config\'s eval_input_path)')
    .option('--models <list>', `comma-separated kinds: ${MODEL_KINDS.join(', ')}`, 'base,esmm-ns,esmm')
    .option('--seeds <n>', 'training seeds per kind (1..n)', positiveInt('--seeds'), 3)
    .option('--truth <file>', 'ground truth aligned with the eval rows (`esmm synth`\'s test_truth.csv): adds the entire-space measures')
    .requiredOption('--out <dir>', 'each run\'s model goes to <dir>/<kind>-seed<seed>')
    .option('--epochs <n>', 'epochs per run (overrides train.epochs)', positiveInt('--epochs'))
    .option('--threads <n>', `${THREADS_HELP}; overrides train.threads`, positiveInt('--threads'))
    .option('--progress <mode>', 'auto | bar | lines | quiet', oneOf('--progress', ['auto', 'bar', 'lines', 'quiet'] as const), 'auto')
    .option('--report <dir>', 'also write an HTML report (the comparison table and chart) to <dir>')
    .option('--json', 'print the summary (mean, std, n per kind and metric) and every run as one JSON object')
    .action(async (flags: CompareFlags) => {
      const kinds = parseKinds(flags.models);
      const loaded = loadAnyConfig(flags.config);
      for (const w of loaded.warnings) process.stderr.write(`esmm: warning: ${w}\n`);
      const trainPaths = flags.train ?? loaded.trainPaths;
      const evalPaths = flags.eval ?? loaded.evalPaths;
      if (trainPaths.length === 0) throw new EsmmError('--train: no training files');
      if (evalPaths.length === 0) throw new EsmmError('--eval: compare needs held-out files to evaluate every model on');
      const t = loaded.config.train;
      const config: Config = { ...loaded.config, train: { ...t, epochs: flags.epochs ?? t.epochs, threads: flags.threads ?? t.threads } };
      const progress = createProgress(flags.json && flags.progress === 'auto' ? 'quiet' : flags.progress);
      const seeds = Array.from({ length: flags.seeds }, (_, i) => i + 1);
      const runs = await compareModels({ config, kinds, seeds, trainPaths, evalPaths, truthPath: flags.truth, outDir: resolve(flags.out), progress });
      if (flags.report) process.stderr.write(`report: ${(await writeCompareReport(flags.report, { runs, kinds })).html}\n`);
      if (flags.json) printJson({ kinds, seeds, summary: comparisonJson(runs, kinds), runs });
      else process.stdout.write(formatComparison(runs, kinds, flags.seeds, flags.truth !== undefined));
    });
}

function parseKinds(list: string): ModelKind[] {
  const kinds = list.split(',').map((k) => k.trim()).filter((k) => k !== '');
  const unknown = kinds.filter((k) => !(MODEL_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new EsmmError(`--models: unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${MODEL_KINDS.join(', ')})`);
  if (kinds.length === 0) throw new EsmmError('--models: no kind given');
  if (new Set(kinds).size !== kinds.length) throw new EsmmError('--models: a kind is listed twice');
  return kinds as ModelKind[];
}
