/**
 * Per-epoch training checkpoints: OUT/checkpoints/epoch-NNNN/ holds the model files (as in a model
 * directory), the optimizer slots (optimizer.safetensors: `<param>.adam_m`, `<param>.adam_v`,
 * `<param>.adagrad_acc`) and trainer-state.json (epoch, step, RNG states). Each checkpoint directory is
 * written whole under a temporary name and renamed into place, so a crash never leaves a partial one.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { Encoder } from '../data/encoder.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import { EsmmModel } from '../model/esmm.js';
import type { Optimizer } from '../optim/optimizer.js';
import { resolveDir, sha256, writeDirAtomic } from './atomic.js';
import { loadModel, modelFiles, readManifest, readVerified, type ModelParts, type TrainingRecord } from './model-dir.js';
import { decodeSafetensors, encodeSafetensorsChunks } from './safetensors.js';

const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer-state.json';
const KEEP = 2;

export interface TrainerState {
  epoch: number;
  step: number;
  shuffle_rng: number[];
  dropout_rng: number[];
  /** Size and SHA-256 of optimizer.safetensors. */
  optimizer_bytes?: number;
  optimizer_sha256?: string;
}

export interface CheckpointParts extends ModelParts {
  optimizer: Optimizer;
  state: TrainerState;
}

export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

export async function saveCheckpoint(outDir: string, parts: CheckpointParts): Promise<string> {
  const { files } = modelFiles(parts);
  const slots = Object.fromEntries([...parts.optimizer.slots].map(([name, data]) => [name, { dtype: 'F32' as const, shape: [data.length], data }]));
  const optimizerBuf = encodeSafetensorsChunks(slots, { step: String(parts.optimizer.step) });
  const state: TrainerState = {
    ...parts.state, optimizer_bytes: optimizerBuf.reduce((n, c) => n + c.byteLength, 0), optimizer_sha256: sha256(optimizerBuf),
  };
  const dir = join(checkpointsDir(outDir), `epoch-${String(parts.state.epoch).padStart(4, '0')}`);
  await writeDirAtomic(dir, { ...files, [OPTIMIZER_FILE]: optimizerBuf, [STATE_FILE]: Buffer.from(`${JSON.stringify(state, null, 1)}\n`) });
  await pruneCheckpoints(outDir, KEEP);
  return dir;
}

async function listCheckpoints(outDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir(outDir));
  } catch {
    return [];
  }
  // a crash while replacing a checkpoint may leave only its retired copy (epoch-NNNN.old-…): resolveDir recovers it
  const bases = [...new Set(names.map((n) => /^(epoch-\d{4,})(\.|$)/.exec(n)?.[1]).filter((b): b is string => b !== undefined))].sort();
  return bases.map((b) => resolveDir(join(checkpointsDir(outDir), b))).filter((d): d is string => d !== null);
}

async function pruneCheckpoints(outDir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(outDir);
  for (const dir of all.slice(0, Math.max(0, all.length - keep))) await rm(dir, { recursive: true, force: true });
}

/** The newest complete checkpoint directory of a training output, or null. */
export async function findLatestCheckpoint(outDir: string): Promise<string | null> {
  const all = await listCheckpoints(outDir);
  for (let i = all.length - 1; i >= 0; i--) {
    const ok = await stat(join(all[i], STATE_FILE)).then(() => true, () => false);
    if (ok) return all[i];
  }
  return null;
}

export interface LoadedCheckpoint {
  config: Config;
  kernels: Kernels;
  encoder: Encoder;
  model: EsmmModel;
  optimizer: Optimizer;
  training: TrainingRecord;
  state: TrainerState;
}

/** Restores model, optimizer and trainer state from a checkpoint directory. */
export async function loadCheckpoint(
  dir: string,
  setup: (config: Config) => Promise<{ kernels: Kernels; maxBatch: number }>,
  makeOptimizer: (kernels: Kernels, model: EsmmModel, config: Config) => Optimizer,
): Promise<LoadedCheckpoint> {
  const statePath = join(dir, STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (e) {
    throw new EsmmError(`${statePath}: cannot read trainer state: ${(e as Error).message}`);
  }
  const manifest = await readManifest(dir);
  const { kernels, maxBatch } = await setup(manifest.config);
  const loaded = await loadModel(dir, kernels, maxBatch, manifest);
  const optimizer = makeOptimizer(kernels, loaded.model, loaded.config);
  const optPath = join(dir, OPTIMIZER_FILE);
  const buf = await readVerified(dir, OPTIMIZER_FILE, state.optimizer_bytes ?? -1, state.optimizer_sha256 ?? '', STATE_FILE);
  const { tensors } = decodeSafetensors(buf, optPath);
  for (const [name, slot] of optimizer.slots) {
    const t = tensors[name];
    if (!t || t.data.length !== slot.length) throw new EsmmError(`${optPath}: optimizer slot "${name}" is missing or has the wrong size`);
    slot.set(t.data as Float32Array);
  }
  optimizer.step = state.step;
  return { config: loaded.config, kernels, encoder: loaded.encoder, model: loaded.model, optimizer, training: loaded.training, state };
}
