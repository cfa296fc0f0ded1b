import type { Command } from 'commander';
import type { Config } from '../config.js';
import { loadAnyConfig } from '../config/load.js';
import { EsmmError } from '../errors.js';
import { createProgress } from '../train/progress.js';
import type { ReadStats } from '../data/pipeline.js';
import { writeTrainReport } from '../report/index.js';
import { train, type TrainSummary } from '../train/trainer.js';
import { fmt } from '../util/format.js';
import { BACKEND_HELP, backendOption, nonNegativeInt, oneOf, positiveInt, positiveNumber, printJson } from './options.js';

interface TrainFlags {
  config: string;
  train?: string[];
  eval?: string[];
  out: string;
  epochs?: number;
  resume?: boolean;
  batchSize?: number;
  maxSteps?: number;
  lr?: number;
  seed?: number;
  backend?: Config['train']['backend'];
  threads?: number;
  onBadRow?: Config['train']['on_bad_row'];
  progress: 'auto' | 'bar' | 'lines' | 'quiet';
  report?: string;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  program.command('train')
    .description('train a model on impression logs (CSV/TSV, Parquet, Ali-CCP, EasyRec configs), evaluating on --eval after each epoch; writes a model directory')
    .requiredOption('--config <file>', 'YAML/JSON config (see `esmm init`) or an EasyRec pipeline config (.config)')
    .option('--train <paths...>', 'training file(s) or glob(s) (quoted), in the config\'s input format (default: an EasyRec config\'s train_input_path)')
    .option('--eval <paths...>', 'held-out file(s) or glob(s) evaluated after each epoch (default: an EasyRec config\'s eval_input_path)')
    .requiredOption('--out <dir>', 'model directory to write (checkpoints go to <dir>/checkpoints)')
    .option('--epochs <n>', 'number of epochs (overrides train.epochs; with --resume, the total to reach)', positiveInt('--epochs'))
    .option('--resume', 'continue from the latest checkpoint in <dir>/checkpoints')
    .option('--max-steps <n>', 'stop after this many steps (overrides train.max_steps)', positiveInt('--max-steps'))
    .option('--batch-size <n>', 'overrides train.batch_size', positiveInt('--batch-size'))
    .option('--lr <x>', 'overrides train.learning_rate', positiveNumber('--lr'))
    .option('--seed <n>', 'overrides train.seed', nonNegativeInt('--seed'))
    .option('--backend <name>', `${BACKEND_HELP} (overrides train.backend)`, backendOption)
    .option('--threads <n>', 'worker threads training one shared model (overrides train.threads; default: all cores)', positiveInt('--threads'))
    .option('--on-bad-row <policy>', 'error | skip (overrides train.on_bad_row)', oneOf('--on-bad-row', ['error', 'skip'] as const))
    .option('--progress <mode>', 'auto | bar | lines | quiet', oneOf('--progress', ['auto', 'bar', 'lines', 'quiet'] as const), 'auto')
    .option('--report <dir>', 'also write an HTML report (loss and AUC per epoch, ROC curves, calibration) to <dir>')
    .option('--json', 'print the run summary as one JSON object')
    .action(async (flags: TrainFlags) => {
      const loaded = loadAnyConfig(flags.config);
      for (const w of loaded.warnings) process.stderr.write(`esmm: warning: ${w}\n`);
      const config = applyOverrides(loaded.config, flags);
      const trainPaths = flags.train ?? loaded.trainPaths;
      if (trainPaths.length === 0) throw new EsmmError('--train: no training files (give --train, or train_input_path in an EasyRec config)');
      const summary = await train({
        config,
        trainPaths,
        evalPaths: flags.eval ?? loaded.evalPaths,
        outDir: flags.out,
        epochs: flags.epochs,
        resume: flags.resume,
        progress: createProgress(flags.json && flags.progress === 'auto' ? 'quiet' : flags.progress),
      });
      if (flags.report) {
        const written = await writeTrainReport(flags.report, { history: summary.epochs, scores: summary.evalScores ?? undefined, summary: reportSummary(summary) });
        process.stderr.write(`report: ${written.html}\n`);
      }
      if (flags.json) printJson(summaryJson(summary));
      else process.stdout.write(formatSummary(summary));
    });
}

function applyOverrides(cfg: Config, f: TrainFlags): Config {
  const t = { ...cfg.train };
  if (f.batchSize !== undefined) t.batch_size = f.batchSize;
  if (f.maxSteps !== undefined) t.max_steps = f.maxSteps;
  if (f.lr !== undefined) t.learning_rate = f.lr;
  if (f.seed !== undefined) t.seed = f.seed;
  if (f.backend !== undefined) t.backend = f.backend;
  if (f.threads !== undefined) t.threads = f.threads;
  if (f.onBadRow !== undefined) t.on_bad_row = f.onBadRow;
  if (f.epochs !== undefined) t.epochs = f.epochs;
  return { ...cfg, train: t };
}

function summaryJson(s: TrainSummary) {
  return {
    out: s.outDir,
    backend: s.backend,
    threads: s.threads,
    seconds: s.seconds,
    samples_per_s: Math.round(s.samplesPerSecond),
    peak_rss_mb: peakRssMb(),
    train: s.trainStats,
    eval: s.evalStats,
    epochs: s.epochs,
    metrics: s.final,
  };
}

/** The run summary's numbers, for the report's key-value table. */
function reportSummary(s: TrainSummary): Record<string, string | number> {
  return {
    model: s.outDir, kind: s.config.model.kind, backend: s.backend, threads: s.threads, seconds: Number(s.seconds.toFixed(1)),
    'samples/s': Math.round(s.samplesPerSecond), 'peak RSS (MB)': peakRssMb(),
    'train rows used / read': `${s.trainStats.rowsUsed} / ${s.trainStats.rowsRead}`,
    'dropped click=0, buy=1': s.trainStats.droppedClick0Buy1, 'malformed rows skipped': s.trainStats.skippedBadRows,
    ...(s.evalStats ? { 'eval rows': s.evalStats.rowsUsed } : {}),
  };
}

/** The most memory this process has held, in MB. */
function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** What was read of one split: rows used, dropped, skipped by reason, and unseen values per feature. */
function readLines(what: string, st: ReadStats): string[] {
  const lines = [`${what} rows: ${st.rowsUsed} used of ${st.rowsRead} read from ${st.files.length} file(s); dropped click=0,buy=1: ${st.droppedClick0Buy1}; malformed skipped: ${st.skippedBadRows}`];
  for (const [reason, n] of Object.entries(st.skippedByReason)) lines.push(`  skipped ${n}: ${reason}`);
  const unseen = st.features.filter((f) => f.oov > 0).map((f) => `${f.name} ${f.oov}`);
  if (unseen.length > 0) lines.push(`  out-of-vocabulary values (row 0): ${unseen.join(', ')}`);
  return lines;
}

function formatSummary(s: TrainSummary): string {
  const st = s.trainStats;
  const lines = [
    `model written to ${s.outDir} (backend ${s.backend}, ${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.seconds.toFixed(1)}s, ${Math.round(s.samplesPerSecond)} samples/s, peak RSS ${peakRssMb()} MB)`,
    ...readLines('train', st),
  ];
  if (s.evalStats) lines.push(...readLines('eval', s.evalStats));
  const m = s.final;
  if (m) lines.push(`final eval: ctr_auc ${fmt(m.ctr_auc)}  cvr_auc ${fmt(m.cvr_auc)}  ctcvr_auc ${fmt(m.ctcvr_auc)}  ctr_logloss ${fmt(m.ctr_logloss)}  ctcvr_logloss ${fmt(m.ctcvr_logloss)}`);
  return `${lines.join('\n')}\n`;
}
