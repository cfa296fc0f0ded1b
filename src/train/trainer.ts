/**
 * The training loop: config → encoder → data → model → optimizer → checkpoint, with evaluation on a
 * held-out file after each epoch and `resume` from the latest checkpoint.
 */
import type { Config } from '../config.js';
import { gatherBatch, type Batch } from '../data/batch.js';
import { loadDataset, type ReadStats } from '../data/dataset.js';
import { Encoder } from '../data/encoder.js';
import { createKernels } from '../engine/backend.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import { saveModel, type TrainingRecord, type EpochRecord } from '../io/model-dir.js';
import { findLatestCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import { EsmmModel } from '../model/esmm.js';
import { modelSpecFromConfig } from '../model/spec.js';
import { Optimizer } from '../optim/optimizer.js';
import { fmt } from '../util/format.js';
import { Rng } from '../util/rng.js';
import { evaluateModel } from './evaluate.js';
import type { ProgressSink } from './progress.js';

export interface TrainOptions {
  config: Config;
  trainPaths: string[];
  evalPaths: string[];
  outDir: string;
  /** Overrides config.train.epochs (with resume: the total number of epochs to reach). */
  epochs?: number;
  resume?: boolean;
  progress: ProgressSink;
}

/** Rows per forward pass when scoring (the model's workspaces hold max(batch_size, this) rows). */
const INFERENCE_BLOCK = 4096;

export interface TrainSummary {
  outDir: string;
  backend: string;
  epochs: EpochRecord[];
  trainStats: ReadStats;
  evalStats: ReadStats | null;
  seconds: number;
  samplesPerSecond: number;
  final: EsmmMetrics | null;
  /** The trained model and what it was trained with, for callers that keep working with them. */
  model: EsmmModel;
  encoder: Encoder;
  config: Config;
  /** The encoded evaluation rows (null without --eval). */
  evalData: Batch | null;
}

/** Everything the loop needs, either fresh or restored from a checkpoint. */
interface Session {
  config: Config;
  kernels: Kernels;
  encoder: Encoder;
  model: EsmmModel;
  optimizer: Optimizer;
  shuffleRng: Rng;
  dropoutRng: Rng;
  history: EpochRecord[];
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const t0 = performance.now();
  const session = opts.resume ? await resumeSession(opts) : null;
  const s = session ?? (await freshSession(opts));
  const { config, kernels, encoder, model, optimizer } = s;
  const onBadRow = config.train.on_bad_row;
  const epochs = opts.epochs ?? config.train.epochs;

  const { data: trainData, stats: trainStats } = await loadDataset(opts.trainPaths, config, encoder, { onBadRow });
  if (trainData.size === 0) throw new EsmmError(`${opts.trainPaths.join(', ')}: no usable training rows`);
  const evalSet = opts.evalPaths.length > 0 ? await loadDataset(opts.evalPaths, config, encoder, { onBadRow }) : null;
  reportRead(opts.progress, 'train', trainStats);
  if (evalSet) reportRead(opts.progress, 'eval', evalSet.stats);

  const batchSize = config.train.batch_size;
  const order = Int32Array.from({ length: trainData.size }, (_, i) => i);
  let trainedSamples = 0, trainSeconds = 0;
  for (let epoch = s.history.length + 1; epoch <= epochs; epoch++) {
    const epochStart = performance.now();
    order.forEach((_, i) => { order[i] = i; });
    if (config.train.shuffle) s.shuffleRng.shuffle(order);
    opts.progress.start(`epoch ${epoch}/${epochs}`, trainData.size);
    let lossSum = 0, lossRows = 0;
    for (let start = 0; start < trainData.size; start += batchSize) {
      const batch = gatherBatch(trainData, order.subarray(start, Math.min(trainData.size, start + batchSize)));
      const loss = model.trainStep(batch, s.dropoutRng);
      if (!Number.isFinite(loss.objective)) throw new EsmmError(`epoch ${epoch}: the loss became ${loss.objective} at row ${start}; lower the learning rate`);
      optimizer.apply();
      lossSum += loss.objective * batch.size;
      lossRows += batch.size;
      opts.progress.update(start + batch.size, lossSum / lossRows);
    }
    opts.progress.stop();
    trainedSamples += trainData.size;
    trainSeconds += (performance.now() - epochStart) / 1000;
    const metrics = evalSet ? evaluateModel(model, evalSet.data) : null;
    const record: EpochRecord = { epoch, train_loss: lossSum / lossRows, steps: optimizer.step, eval: metrics };
    s.history.push(record);
    opts.progress.log(formatEpoch(record, (performance.now() - epochStart) / 1000));
    await saveCheckpoint(opts.outDir, {
      config, encoder, model, optimizer,
      training: trainingRecord(s.history, trainStats),
      state: { epoch, shuffle_rng: s.shuffleRng.state(), dropout_rng: s.dropoutRng.state(), step: optimizer.step },
    });
  }
  const training = trainingRecord(s.history, trainStats);
  await saveModel(opts.outDir, { config, encoder, model, training });
  return {
    outDir: opts.outDir,
    backend: kernels.name,
    epochs: s.history,
    trainStats,
    evalStats: evalSet?.stats ?? null,
    seconds: (performance.now() - t0) / 1000,
    samplesPerSecond: trainSeconds > 0 ? trainedSamples / trainSeconds : 0,
    final: s.history.at(-1)?.eval ?? null,
    model,
    encoder,
    config,
    evalData: evalSet?.data ?? null,
  };
}

async function freshSession(opts: TrainOptions): Promise<Session> {
  const config = opts.config;
  const kernels = await createKernels(config.train.backend);
  const encoder = await Encoder.fit(config, opts.trainPaths, { onBadRow: config.train.on_bad_row });
  const root = new Rng(config.train.seed);
  const model = new EsmmModel(kernels, modelSpecFromConfig(config, encoder.tableSizes()), maxBatchFor(config));
  model.init(root.fork());
  const optimizer = createOptimizer(kernels, model, config);
  return { config, kernels, encoder, model, optimizer, shuffleRng: root.fork(), dropoutRng: root.fork(), history: [] };
}

async function resumeSession(opts: TrainOptions): Promise<Session | null> {
  const dir = await findLatestCheckpoint(opts.outDir);
  if (!dir) {
    opts.progress.log(`no checkpoint in ${opts.outDir}: starting from scratch`);
    return null;
  }
  const ck = await loadCheckpoint(dir, async (config) => {
    const kernels = await createKernels(config.train.backend);
    return { kernels, maxBatch: maxBatchFor(config) };
  }, (kernels, model, config) => createOptimizer(kernels, model, config));
  opts.progress.log(`resuming from ${dir} (epoch ${ck.state.epoch} done, step ${ck.state.step}) with the checkpoint's config`);
  return {
    config: ck.config, kernels: ck.kernels, encoder: ck.encoder, model: ck.model, optimizer: ck.optimizer,
    shuffleRng: Rng.fromState(ck.state.shuffle_rng), dropoutRng: Rng.fromState(ck.state.dropout_rng),
    history: ck.training.history,
  };
}

export function createOptimizer(kernels: Kernels, model: EsmmModel, config: Config): Optimizer {
  const t = config.train;
  return new Optimizer(kernels, model.denseParams(), model.embeddingParams(), {
    learningRate: t.learning_rate,
    embeddingOptimizer: t.embedding_optimizer,
    embeddingLearningRate: t.embedding_learning_rate ?? (t.embedding_optimizer === 'adam' ? t.learning_rate : 0.05),
    l2Tower: config.model.l2_tower,
    l2Embedding: config.model.l2_embedding,
  });
}

function maxBatchFor(config: Config): number {
  return Math.max(config.train.batch_size, INFERENCE_BLOCK);
}

function trainingRecord(history: EpochRecord[], stats: ReadStats): TrainingRecord {
  return { epochs_completed: history.length, steps: history.at(-1)?.steps ?? 0, train_rows: stats.rowsUsed, history };
}

function formatEpoch(r: EpochRecord, seconds: number): string {
  const m = r.eval;
  const evalPart = m
    ? ` | eval ctr_auc ${fmt(m.ctr_auc)} cvr_auc ${fmt(m.cvr_auc)} ctcvr_auc ${fmt(m.ctcvr_auc)} ctr_logloss ${fmt(m.ctr_logloss)} ctcvr_logloss ${fmt(m.ctcvr_logloss)}`
    : '';
  return `epoch ${r.epoch}: train loss ${r.train_loss.toFixed(5)} (${seconds.toFixed(1)}s)${evalPart}`;
}

function reportRead(progress: ProgressSink, what: string, st: ReadStats): void {
  const dropped = st.droppedClick0Buy1 > 0 ? `, ${st.droppedClick0Buy1} dropped (click=0, buy=1)` : '';
  const skipped = st.skippedBadRows > 0 ? `, ${st.skippedBadRows} malformed rows skipped` : '';
  progress.log(`${what}: ${st.rowsUsed} rows used of ${st.rowsRead} read${dropped}${skipped}`);
  for (const m of st.badRowExamples ?? []) progress.log(`  skipped: ${m}`);
}

