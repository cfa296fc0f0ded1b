/**
 * The training loop: config → encoder → data → model → optimizer → checkpoint, with evaluation on a
 * held-out file after each epoch and `resume` from the latest checkpoint.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Batch } from '../data/batch.js';
import { readAll, readEncodedChunks, shuffledBatches, type ReadStats } from '../data/pipeline.js';
import { Encoder } from '../data/encoder.js';
import { createKernels } from '../engine/backend.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import { loadModel, saveModel, type TrainingRecord, type EpochRecord } from '../io/model-dir.js';
import { findLatestCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import { EsmmModel } from '../model/esmm.js';
import { modelSpecFromConfig } from '../model/spec.js';
import { Optimizer } from '../optim/optimizer.js';
import { fmt } from '../util/format.js';
import { Rng } from '../util/rng.js';
import { learningRateAt } from '../optim/schedule.js';
import { metricsOf, scoreChunks, type ScoredRows } from './evaluate.js';
import { withRunner, type ModelRunner } from './parallel/pool.js';
import { prefetch } from '../util/prefetch.js';
import { EarlyStopping } from './early-stopping.js';
import type { ProgressSink } from './progress.js';

export interface TrainOptions {
  config: Config;
  trainPaths: string[];
  evalPaths: string[];
  outDir: string;
  /** Overrides config.train.epochs (with resume: the total number of epochs to reach). */
  epochs?: number;
  /** Overrides config.train.threads. */
  threads?: number;
  resume?: boolean;
  progress: ProgressSink;
}

/** Rows per forward pass when scoring (the model's workspaces hold max(batch_size, this) rows). */
const INFERENCE_BLOCK = 4096;

export interface TrainSummary {
  outDir: string;
  backend: string;
  /** Threads that trained (1 on the reference backend, which trains on the calling thread). */
  threads: number;
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
  /** The last evaluation's scores and labels, in eval-file order (null without --eval). */
  evalScores: ScoredRows | null;
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
  /** The base learning rates the schedule scales. */
  learningRates: { dense: number; embedding: number };
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const t0 = performance.now();
  const session = opts.resume ? await resumeSession(opts) : null;
  const s = session ?? (await freshSession(opts));
  const { config, kernels, model, optimizer } = s;
  return withRunner({ kernels, model, optimizer, threads: opts.threads ?? config.train.threads }, (runner) => trainWith(opts, s, runner, t0));
}

async function trainWith(opts: TrainOptions, s: Session, runner: ModelRunner, t0: number): Promise<TrainSummary> {
  const { config, kernels, encoder, model, optimizer } = s;
  const t = config.train;
  const onBadRow = t.on_bad_row;
  const epochs = opts.epochs ?? t.epochs;
  const maxSteps = t.max_steps ?? Infinity;

  const readTrain = () => readEncodedChunks(opts.trainPaths, config, encoder, { onBadRow });
  const readEval = () => readEncodedChunks(opts.evalPaths, config, encoder, { onBadRow });
  // With `cache`, both sets are read once and kept; otherwise every epoch streams the files again.
  const cachedTrain = t.cache ? await readAll(readTrain(), encoder) : null;
  const cachedEval = t.cache && opts.evalPaths.length > 0 ? await readAll(readEval(), encoder) : null;
  if (cachedTrain) reportRead(opts.progress, 'train', cachedTrain.stats);
  if (cachedEval) reportRead(opts.progress, 'eval', cachedEval.stats);
  let trainStats: ReadStats | null = cachedTrain?.stats ?? null;
  let evalStats: ReadStats | null = cachedEval?.stats ?? null;
  let evalScores: ScoredRows | null = null;
  let expectedRows = cachedTrain?.data.size ?? encoder.fitStats?.rowsUsed ?? 0;

  const stopper = t.early_stopping ? new EarlyStopping(t.early_stopping, s.history) : null;
  if (stopper && opts.evalPaths.length === 0) throw new EsmmError('train.early_stopping watches an evaluation metric: give --eval files');
  let bestScores: ScoredRows | null = null;
  const bestDir = join(opts.outDir, 'best');

  let trainedSamples = 0, trainSeconds = 0, checkpointedAt = optimizer.step;
  for (let epoch = (s.history.at(-1)?.epoch ?? 0) + 1; epoch <= epochs && optimizer.step < maxSteps && !stopper?.shouldStop; epoch++) {
    const epochStart = performance.now();
    const stream = cachedTrain ? null : readTrain();
    const chunks = cachedTrain ? single(cachedTrain.data) : stream!.chunks;
    const bufferRows = cachedTrain ? Infinity : t.shuffle_buffer;
    opts.progress.start(`epoch ${epoch}/${epochs}`, expectedRows);
    let lossSum = 0, lossRows = 0;
    // the next batches are read and encoded on this thread while the worker threads train on the current one
    for await (const batch of prefetch(shuffledBatches(chunks, t.batch_size, bufferRows, t.shuffle ? s.shuffleRng : null))) {
      const factor = learningRateAt(1, t.lr_schedule, optimizer.step);
      optimizer.learningRate = s.learningRates.dense * factor;
      optimizer.embeddingLearningRate = s.learningRates.embedding * factor;
      const objective = await runner.trainStep(batch, s.dropoutRng);
      if (!Number.isFinite(objective)) throw new EsmmError(`epoch ${epoch}: the loss became ${objective} at step ${optimizer.step}; lower the learning rate`);
      lossSum += objective * batch.size;
      lossRows += batch.size;
      opts.progress.update(lossRows, lossSum / lossRows);
      if (optimizer.step >= maxSteps) break;
    }
    opts.progress.stop();
    if (lossRows === 0) throw new EsmmError(`${opts.trainPaths.join(', ')}: no usable training rows`);
    if (stream && !trainStats) {
      trainStats = stream.stats;
      reportRead(opts.progress, 'train', stream.stats);
    }
    expectedRows = lossRows;
    trainedSamples += lossRows;
    trainSeconds += (performance.now() - epochStart) / 1000;
    const last = epoch === epochs || optimizer.step >= maxSteps;
    // with checkpoint_steps, short epochs go by without evaluation or checkpoint until enough steps have passed
    if (!last && t.checkpoint_steps !== undefined && optimizer.step - checkpointedAt < t.checkpoint_steps) continue;
    checkpointedAt = optimizer.step;
    let metrics: EsmmMetrics | null = null;
    if (opts.evalPaths.length > 0) {
      const evalStream = cachedEval ? null : readEval();
      evalScores = await scoreChunks(runner, cachedEval ? single(cachedEval.data) : evalStream!.chunks);
      if (evalStream && !evalStats) {
        evalStats = evalStream.stats;
        reportRead(opts.progress, 'eval', evalStream.stats);
      }
      metrics = metricsOf(evalScores);
    }
    const partial = optimizer.step >= maxSteps && !(trainStats && lossRows >= trainStats.rowsUsed);
    const record: EpochRecord = { epoch, train_loss: lossSum / lossRows, steps: optimizer.step, eval: metrics, ...(partial ? { rows: lossRows } : {}) };
    s.history.push(record);
    opts.progress.log(formatEpoch(record, (performance.now() - epochStart) / 1000) + (partial ? ` (stopped at max_steps ${maxSteps})` : ''));
    if (stopper?.observe(record)) {
      bestScores = evalScores;
      await saveModel(bestDir, { config, encoder, model, training: { ...trainingRecord(s.history, trainStats!), best_epoch: epoch } });
    }
    await saveCheckpoint(opts.outDir, {
      config, encoder, model, optimizer,
      training: trainingRecord(s.history, trainStats!),
      state: { epoch, shuffle_rng: s.shuffleRng.state(), dropout_rng: s.dropoutRng.state(), step: optimizer.step },
    });
    if (stopper?.shouldStop) {
      opts.progress.log(`early stopping: ${stopper.cfg.metric} has not improved for ${stopper.stale} evaluation(s); best epoch ${stopper.bestEpoch} (${fmt(stopper.bestValue)})`);
    }
  }
  if (!trainStats) throw new EsmmError(`${opts.outDir}: nothing to train: the checkpoint already has ${s.history.at(-1)?.epoch ?? 0} epochs (${optimizer.step} steps)`);
  let training = trainingRecord(s.history, trainStats);
  let finalModel = model;
  let final = s.history.at(-1)?.eval ?? null;
  if (stopper?.bestEpoch != null) {
    // the model written is the best epoch's, as saved in DIR/best when it was reached
    training = { ...training, best_epoch: stopper.bestEpoch };
    final = s.history.find((r) => r.epoch === stopper.bestEpoch)?.eval ?? final;
    if (stopper.bestEpoch !== s.history.at(-1)?.epoch) {
      finalModel = (await loadModel(bestDir, kernels, maxBatchFor(config))).model;
      evalScores = bestScores ?? (await scoreChunks(finalModel, cachedEval ? single(cachedEval.data) : readEval().chunks));
    }
  }
  await saveModel(opts.outDir, { config, encoder, model: finalModel, training });
  return {
    outDir: opts.outDir,
    backend: kernels.name,
    threads: runner.threads,
    epochs: s.history,
    trainStats,
    evalStats,
    seconds: (performance.now() - t0) / 1000,
    samplesPerSecond: trainSeconds > 0 ? trainedSamples / trainSeconds : 0,
    final,
    model: finalModel,
    encoder,
    config,
    evalScores,
  };
}

async function* single(b: Batch): AsyncGenerator<Batch> {
  yield b;
}

async function freshSession(opts: TrainOptions): Promise<Session> {
  const config = opts.config;
  const kernels = await createKernels(config.train.backend);
  const encoder = await Encoder.fit(config, opts.trainPaths, { onBadRow: config.train.on_bad_row });
  const root = new Rng(config.train.seed);
  const model = new EsmmModel(kernels, modelSpecFromConfig(config, encoder.tableSizes()), maxBatchFor(config));
  model.init(root.fork());
  const optimizer = createOptimizer(kernels, model, config);
  return { config, kernels, encoder, model, optimizer, shuffleRng: root.fork(), dropoutRng: root.fork(), history: [], learningRates: baseRates(optimizer) };
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
    learningRates: baseRates(ck.optimizer),
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

function baseRates(o: Optimizer) {
  return { dense: o.opts.learningRate, embedding: o.opts.embeddingLearningRate };
}

function maxBatchFor(config: Config): number {
  return Math.max(config.train.batch_size, INFERENCE_BLOCK);
}

function trainingRecord(history: EpochRecord[], stats: ReadStats): TrainingRecord {
  return { epochs_completed: history.at(-1)?.epoch ?? 0, steps: history.at(-1)?.steps ?? 0, train_rows: stats.rowsUsed, history };
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
  progress.log(`${what}: ${st.rowsUsed} rows used of ${st.rowsRead} read from ${st.files.length} file(s)${dropped}${skipped}`);
  for (const [reason, n] of Object.entries(st.skippedByReason)) progress.log(`  skipped ${n}: ${reason}`);
  for (const m of st.badRowExamples) progress.log(`  e.g. ${m}`);
}

