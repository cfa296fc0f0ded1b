/**
 * A model directory: `manifest.json` (config, model spec, encoder vocabularies / hash settings, training
 * history and metrics, versions, the weights file's SHA-256) and the weights in safetensors format.
 *
 * Tensor names (all float32, row-major); every kind but esmm prefixes the bottom's with `ctr.` / `cvr.`:
 *   embedding.<feature>                [rows, dim]   dim is the feature's own; row 0 is out-of-vocabulary / missing
 *   group.<group>.dense.<i>.weight     [in, out]     a feature group's DNN (only groups with hidden units)
 *   group.<group>.dense.<i>.bias       [out]
 *   group.<group>.dense.<i>.prelu_alpha [out]        PReLU only
 *   ctr.dense.<i>.weight               [in, out]     y = x·W + b (transpose for torch.nn.Linear)
 *   ctr.dense.<i>.bias                 [out]
 *   ctr.dense.<i>.prelu_alpha          [out]         PReLU towers only
 *   cvr.dense.<i>.…                    the same for the CVR tower; the last layer of each tower has out = 1
 *
 * The weights file is named after its content hash and written before the manifest, each atomically, so a
 * crash at any point leaves a complete model (the old or the new one). Loading verifies the manifest's own
 * checksum and the weights' size and SHA-256, so a truncated or altered file is a clear error, never a
 * silently wrong model.
 */
import { readdir, readFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig, type Config } from '../config.js';
import { Encoder, type EncoderJSON } from '../data/encoder.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import { EsmmModel } from '../model/esmm.js';
import { featureDim, modelSpecFromConfig, type ModelSpec } from '../model/spec.js';
import { sha256, writeFileAtomic, type FileContent } from './atomic.js';
import { decodeSafetensors, encodeSafetensorsChunks, type TensorInput } from './safetensors.js';
import { VERSION } from '../version.js';

export const MANIFEST = 'manifest.json';
export const FORMAT = 'esmm-model';
/** 2: encoder version 2 (feature types, tables, numeric settings), feature groups and per-feature widths. */
export const FORMAT_VERSION = 2;

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  steps: number;
  /** Rows trained in this epoch when it stopped early at train.max_steps. */
  rows?: number;
  eval: EsmmMetrics | null;
}

export interface TrainingRecord {
  epochs_completed: number;
  steps: number;
  train_rows: number;
  history: EpochRecord[];
  /** With early stopping: the epoch whose weights these are (the best by the watched metric). */
  best_epoch?: number;
}

export interface Manifest {
  format: typeof FORMAT;
  format_version: number;
  esmm_version: string;
  config: Config;
  spec: ModelSpec;
  encoder: EncoderJSON;
  weights: { file: string; sha256: string; bytes: number };
  tensors: Record<string, number[]>;
  training: TrainingRecord;
  /** SHA-256 of JSON.stringify of every other field (in this order), so an edited manifest is detected too. */
  manifest_sha256?: string;
}

export interface ModelParts {
  config: Config;
  encoder: Encoder;
  model: EsmmModel;
  training: TrainingRecord;
}

export interface LoadedModel extends ModelParts {
  dir: string;
  manifest: Manifest;
  kernels: Kernels;
}

/** Every weight tensor of a model under its documented name. */
export function modelTensors(model: EsmmModel): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const e of model.embeddingParams()) out[e.name] = { dtype: 'F32', shape: [e.table.rows, e.table.dim], data: e.table.data };
  for (const p of model.denseParams()) out[p.name] = { dtype: 'F32', shape: p.shape, data: p.data };
  return out;
}

/**
 * The files of a model directory, by name (the weights name carries its hash). The weights are chunks
 * viewing the model's own buffers, so saving never copies the tables.
 */
export function modelFiles(parts: ModelParts): { files: Record<string, FileContent>; manifest: Manifest } {
  const tensors = modelTensors(parts.model);
  const weights = encodeSafetensorsChunks(tensors, { format: FORMAT, esmm_version: VERSION });
  const hash = sha256(weights);
  const file = `weights-${hash.slice(0, 16)}.safetensors`;
  const body: Manifest = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    esmm_version: VERSION,
    config: parts.config,
    spec: parts.model.spec,
    encoder: parts.encoder.toJSON(),
    weights: { file, sha256: hash, bytes: weights.reduce((n, c) => n + c.byteLength, 0) },
    tensors: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])),
    training: parts.training,
  };
  const manifest: Manifest = { ...body, manifest_sha256: sha256(JSON.stringify(body)) };
  return { files: { [file]: weights, [MANIFEST]: Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`) }, manifest };
}

/** Writes (or replaces) the model in `dir`: weights first, then the manifest, each atomically; then old weights go. */
export async function saveModel(dir: string, parts: ModelParts): Promise<Manifest> {
  const { files, manifest } = modelFiles(parts);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, manifest.weights.file), files[manifest.weights.file]);
  await writeFileAtomic(join(dir, MANIFEST), files[MANIFEST]);
  for (const name of await readdir(dir)) {
    if (/^weights-[0-9a-f]+\.safetensors$/.test(name) && name !== manifest.weights.file) await rm(join(dir, name), { force: true });
  }
  return manifest;
}

/** Reads and validates a manifest (not the weights). */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EsmmError(code === 'ENOENT' ? `${dir}: not a model directory (no ${MANIFEST})` : `${path}: cannot read: ${(e as Error).message}`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new EsmmError(`${path}: not valid JSON (truncated or altered?): ${(e as Error).message}`);
  }
  if (m === null || typeof m !== 'object' || m.format !== FORMAT) throw new EsmmError(`${path}: not an ESMM model manifest`);
  const { manifest_sha256: recorded, ...body } = m;
  if (typeof recorded !== 'string') throw new EsmmError(`${path}: no manifest_sha256 (not written by esmm ${VERSION}, or edited)`);
  if (recorded !== sha256(JSON.stringify(body))) throw new EsmmError(`${path}: manifest_sha256 does not match its content (the manifest was altered or corrupted)`);
  if (m.format_version !== FORMAT_VERSION) throw new EsmmError(`${path}: format_version ${m.format_version} is not supported by esmm ${VERSION} (expects ${FORMAT_VERSION})`);
  for (const key of ['config', 'spec', 'encoder', 'weights', 'tensors', 'training'] as const) {
    if (m[key] === undefined || m[key] === null) throw new EsmmError(`${path}: missing "${key}"`);
  }
  if (typeof m.weights.file !== 'string' || !/^[\w.\-]+$/.test(m.weights.file) || typeof m.weights.sha256 !== 'string') {
    throw new EsmmError(`${path}: "weights" must name a file in the directory and its sha256`);
  }
  m.config = parseConfig(m.config, `${path} (config)`);
  return m;
}

/** Reads a file and verifies its size and checksum against those recorded in `recordedIn`. */
export async function readVerified(dir: string, file: string, bytes: number, hash: string, recordedIn = MANIFEST): Promise<Buffer> {
  const path = join(dir, file);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new EsmmError(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (buf.length !== bytes) throw new EsmmError(`${path}: ${buf.length} bytes, ${recordedIn} says ${bytes} (truncated or replaced file)`);
  if (sha256(buf) !== hash) throw new EsmmError(`${path}: SHA-256 does not match ${recordedIn} (the file was altered or corrupted)`);
  return buf;
}

/** Copies named tensors into the model's buffers, checking that every tensor is there with its shape. */
export function loadTensors(model: EsmmModel, buf: Buffer, source: string): void {
  const { tensors } = decodeSafetensors(buf, source);
  const expected = modelTensors(model);
  for (const [name, t] of Object.entries(expected)) {
    const got = tensors[name];
    if (!got) throw new EsmmError(`${source}: tensor "${name}" is missing`);
    if (got.dtype !== 'F32' || got.shape.join(',') !== t.shape.join(',')) {
      throw new EsmmError(`${source}: tensor "${name}" is ${got.dtype} [${got.shape}], expected F32 [${t.shape}]`);
    }
    (t.data as Float32Array).set(got.data as Float32Array);
  }
  const extra = Object.keys(tensors).filter((n) => !(n in expected));
  if (extra.length > 0) throw new EsmmError(`${source}: unexpected tensors ${extra.slice(0, 5).join(', ')}`);
}

/** Loads a model directory for inference (or to continue training). */
export async function loadModel(dir: string, kernels: Kernels, maxBatch = 4096, manifestRead?: Manifest): Promise<LoadedModel> {
  const manifest = manifestRead ?? (await readManifest(dir));
  const config = manifest.config;
  let encoder: Encoder;
  try {
    encoder = Encoder.fromJSON(manifest.encoder, config);
  } catch (e) {
    throw new EsmmError(`${join(dir, MANIFEST)}: bad encoder section: ${(e as Error).message}`);
  }
  const model = modelFromManifest(manifest, encoder, kernels, maxBatch, join(dir, MANIFEST));
  const buf = await readVerified(dir, manifest.weights.file, manifest.weights.bytes, manifest.weights.sha256);
  loadTensors(model, buf, join(dir, manifest.weights.file));
  return { dir, manifest, config, encoder, model, training: manifest.training, kernels };
}

/**
 * The model a manifest's spec describes, after checking the spec against what its config and encoder
 * describe: the same embedded features (names, table rows, widths) and dense inputs, in the same order.
 */
function modelFromManifest(manifest: Manifest, encoder: Encoder, kernels: Kernels, maxBatch: number, source: string): EsmmModel {
  const spec = manifest.spec;
  let expected: ModelSpec;
  try {
    expected = modelSpecFromConfig(manifest.config, encoder.tableSizes());
  } catch (e) {
    throw new EsmmError(`${source}: the config and the encoder disagree: ${(e as Error).message}`);
  }
  if (!Array.isArray(spec.features) || spec.features.length !== expected.features.length) {
    throw new EsmmError(`${source}: the spec has ${spec.features?.length} embedded features, the config and encoder ${expected.features.length}`);
  }
  spec.features.forEach((f, i) => {
    const e = expected.features[i];
    if (f.name !== e.name) throw new EsmmError(`${source}: embedded feature ${i} is "${f.name}" in the spec but "${e.name}" in the config`);
    if (f.rows !== e.rows) throw new EsmmError(`${source}: feature "${f.name}" has ${f.rows} rows in the spec but ${e.rows} in the encoder`);
    if (featureDim(spec, f) !== featureDim(expected, e)) {
      throw new EsmmError(`${source}: feature "${f.name}" has width ${featureDim(spec, f)} in the spec but ${featureDim(expected, e)} in the config`);
    }
  });
  if ((spec.dense ?? []).join(',') !== (expected.dense ?? []).join(',')) {
    throw new EsmmError(`${source}: the spec's dense features [${spec.dense ?? []}] differ from the config's [${expected.dense ?? []}]`);
  }
  try {
    return new EsmmModel(kernels, spec, maxBatch);
  } catch (e) {
    throw new EsmmError(`${source}: bad model spec: ${(e as Error).message}`);
  }
}
