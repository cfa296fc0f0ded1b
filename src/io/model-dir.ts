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
import type { Config } from '../config.js';
import type { Encoder } from '../data/encoder.js';
import type { Kernels } from '../engine/kernels.js';
import { EsmmError } from '../errors.js';
import type { EsmmModel } from '../model/esmm.js';
import { sha256, writeFileAtomic, type FileContent } from './atomic.js';
import {
  FORMAT, FORMAT_VERSION, MANIFEST, modelFromBytes, modelTensors, parseManifest, verifyBytes,
  type Manifest, type TrainingRecord,
} from './model-bytes.js';
import { encodeSafetensorsChunks } from './safetensors.js';
import { VERSION } from '../version.js';

// The checks and the model building work on bytes (model-bytes.ts, shared with the browser); this file reads and writes the files.
export {
  FORMAT, FORMAT_VERSION, MANIFEST, loadTensors, modelTensors,
  type EpochRecord, type Manifest, type TrainingRecord,
} from './model-bytes.js';

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

/** A model directory's two files as read, after their checks (manifest checksum, weights size and SHA-256). */
export interface ModelDirFiles {
  manifest: Manifest;
  manifestText: string;
  weights: Uint8Array;
}

const nodeSha256 = (data: Uint8Array) => sha256(data);

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
  return (await readManifestText(dir)).manifest;
}

async function readManifestText(dir: string): Promise<{ manifest: Manifest; text: string }> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EsmmError(code === 'ENOENT' ? `${dir}: not a model directory (no ${MANIFEST})` : `${path}: cannot read: ${(e as Error).message}`);
  }
  return { manifest: await parseManifest(text, path, nodeSha256), text };
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
  await verifyBytes(buf, bytes, hash, path, nodeSha256, recordedIn);
  return buf;
}

/** Reads and checks a model directory's manifest and weights without building the model. */
export async function readModelDir(dir: string): Promise<ModelDirFiles> {
  const { manifest, text } = await readManifestText(dir);
  const weights = await readVerified(dir, manifest.weights.file, manifest.weights.bytes, manifest.weights.sha256);
  return { manifest, manifestText: text, weights };
}

/** Loads a model directory for inference (or to continue training). */
export async function loadModel(dir: string, kernels: Kernels, maxBatch = 4096, manifestRead?: Manifest): Promise<LoadedModel> {
  const manifest = manifestRead ?? (await readManifest(dir));
  const path = join(dir, manifest.weights.file);
  let weights: Buffer;
  try {
    weights = await readFile(path);
  } catch (e) {
    throw new EsmmError(`${path}: cannot read: ${(e as Error).message}`);
  }
  const parts = await modelFromBytes(manifest, weights, kernels, maxBatch, { manifest: join(dir, MANIFEST), weights: path }, nodeSha256);
  return { dir, kernels, ...parts };
}
