/**
 * A model from the bytes of its two files (manifest.json text and the safetensors weights), with every
 * check loading makes: the manifest's own checksum, its format, the weights' size and SHA-256, the spec
 * against the config and encoder, and each tensor's name and shape. No file or node: module is used, so
 * the node reader (model-dir.ts) and the browser reader (browser/load.ts) share this code; each brings
 * its own SHA-256 (node:crypto or WebCrypto).
 */
import { parseConfig, type Config } from '../config.js';
import { Encoder, type EncoderJSON } from '../data/encoder.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import type { EsmmMetrics } from '../metrics/esmm-metrics.js';
import { EsmmModel } from '../model/esmm.js';
import { featureDim, modelSpecFromConfig, type ModelSpec } from '../model/spec.js';
import { decodeSafetensors, type TensorInput } from './safetensors.js';
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

/** Lowercase hex SHA-256 of some bytes. */
export type Sha256 = (data: Uint8Array) => string | Promise<string>;

/** What a loaded model is made of, whoever read its files. */
export interface ModelFromBytes {
  manifest: Manifest;
  config: Config;
  encoder: Encoder;
  model: EsmmModel;
  training: TrainingRecord;
}

/** Where the two files came from (paths or URLs), to name them in errors. */
export interface ModelSources {
  manifest: string;
  weights: string;
}

/** Every weight tensor of a model under its documented name. */
export function modelTensors(model: EsmmModel): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const e of model.embeddingParams()) out[e.name] = { dtype: 'F32', shape: [e.table.rows, e.table.dim], data: e.table.data };
  for (const p of model.denseParams()) out[p.name] = { dtype: 'F32', shape: p.shape, data: p.data };
  return out;
}

/** Parses and validates a manifest's text (`source` names it in errors). */
export async function parseManifest(text: string, source: string, sha256: Sha256): Promise<Manifest> {
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new EsmmError(`${source}: not valid JSON (truncated or altered?): ${(e as Error).message}`);
  }
  if (m === null || typeof m !== 'object' || m.format !== FORMAT) throw new EsmmError(`${source}: not an ESMM model manifest`);
  const { manifest_sha256: recorded, ...body } = m;
  if (typeof recorded !== 'string') throw new EsmmError(`${source}: no manifest_sha256 (not written by esmm ${VERSION}, or edited)`);
  if (recorded !== (await sha256(new TextEncoder().encode(JSON.stringify(body))))) {
    throw new EsmmError(`${source}: manifest_sha256 does not match its content (the manifest was altered or corrupted)`);
  }
  if (m.format_version !== FORMAT_VERSION) throw new EsmmError(`${source}: format_version ${m.format_version} is not supported by esmm ${VERSION} (expects ${FORMAT_VERSION})`);
  for (const key of ['config', 'spec', 'encoder', 'weights', 'tensors', 'training'] as const) {
    if (m[key] === undefined || m[key] === null) throw new EsmmError(`${source}: missing "${key}"`);
  }
  if (typeof m.weights.file !== 'string' || !/^[\w.\-]+$/.test(m.weights.file) || typeof m.weights.sha256 !== 'string') {
    throw new EsmmError(`${source}: "weights" must name a file in the directory and its sha256`);
  }
  m.config = parseConfig(m.config, `${source} (config)`);
  return m;
}

/** Checks bytes against the size and checksum recorded for them in `recordedIn`. */
export async function verifyBytes(bytes: Uint8Array, expectedBytes: number, hash: string, source: string, sha256: Sha256, recordedIn = MANIFEST): Promise<void> {
  if (bytes.length !== expectedBytes) throw new EsmmError(`${source}: ${bytes.length} bytes, ${recordedIn} says ${expectedBytes} (truncated or replaced file)`);
  if ((await sha256(bytes)) !== hash) throw new EsmmError(`${source}: SHA-256 does not match ${recordedIn} (the file was altered or corrupted)`);
}

/** Copies named tensors into the model's buffers, checking that every tensor is there with its shape. */
export function loadTensors(model: EsmmModel, buf: Uint8Array, source: string): void {
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

/** The model of a validated manifest and its weights' bytes (verified here against the manifest). */
export async function modelFromBytes(manifest: Manifest, weights: Uint8Array, kernels: Kernels, maxBatch: number, sources: ModelSources, sha256: Sha256): Promise<ModelFromBytes> {
  const config = manifest.config;
  let encoder: Encoder;
  try {
    encoder = Encoder.fromJSON(manifest.encoder, config);
  } catch (e) {
    throw new EsmmError(`${sources.manifest}: bad encoder section: ${(e as Error).message}`);
  }
  const model = modelFromManifest(manifest, encoder, kernels, maxBatch, sources.manifest);
  await verifyBytes(weights, manifest.weights.bytes, manifest.weights.sha256, sources.weights, sha256);
  loadTensors(model, weights, sources.weights);
  return { manifest, config, encoder, model, training: manifest.training };
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
