/**
 * Train several model kinds (and seeds) on the same files and evaluate them side by side: the paper's
 * experiment on the user's own data. With ground truth (the simulator's test_truth.csv), the entire-space
 * CVR measures are added.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { readTruth } from '../data/truth.js';
import { entireSpaceMetrics, type EntireSpaceMetrics, type GroundTruth } from '../metrics/entire-space.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import type { ModelKind } from '../model/esmm.js';
import type { ProgressSink } from './progress.js';
import { train } from './trainer.js';

export interface CompareOptions {
  config: Config;
  kinds: ModelKind[];
  seeds: number[];
  trainPaths: string[];
  evalPaths: string[];
  /** test_truth.csv aligned with the eval rows, for the entire-space measures. */
  truthPath?: string;
  /** Each run's model goes to <outDir>/<kind>-seed<seed>. */
  outDir: string;
  progress: ProgressSink;
}

export interface CompareRun {
  kind: ModelKind;
  seed: number;
  seconds: number;
  samplesPerSecond: number;
  metrics: EsmmMetrics & Partial<EntireSpaceMetrics>;
}

export async function compareModels(opts: CompareOptions): Promise<CompareRun[]> {
  const truth: GroundTruth | null = opts.truthPath ? await readTruth(opts.truthPath) : null;
  const runs: CompareRun[] = [];
  for (const seed of opts.seeds) {
    for (const kind of opts.kinds) {
      opts.progress.log(`— ${kind}, seed ${seed}`);
      const config: Config = { ...opts.config, model: { ...opts.config.model, kind }, train: { ...opts.config.train, seed } };
      const s = await train({ config, trainPaths: opts.trainPaths, evalPaths: opts.evalPaths, outDir: join(opts.outDir, `${kind}-seed${seed}`), progress: opts.progress });
      if (!s.final || !s.evalScores) throw new Error('compare needs evaluation data');
      let metrics: CompareRun['metrics'] = s.final;
      if (truth) {
        const rows = s.evalScores.pcvr.length;
        if (truth.pcvr.length !== rows) throw new Error(`${opts.truthPath}: ${truth.pcvr.length} truth rows for ${rows} evaluation rows`);
        metrics = { ...metrics, ...entireSpaceMetrics(s.evalScores.pcvr, truth) };
      }
      runs.push({ kind, seed, seconds: s.seconds, samplesPerSecond: s.samplesPerSecond, metrics });
    }
  }
  return runs;
}

/** Mean and sample standard deviation of one metric over the runs of a kind (nulls left out). */
export function summarize(runs: CompareRun[], kind: ModelKind, metric: keyof CompareRun['metrics']): { mean: number; std: number; n: number } | null {
  const xs = runs.filter((r) => r.kind === kind).map((r) => r.metrics[metric]).filter((v): v is number => typeof v === 'number');
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, n: xs.length };
}
