/**
 * A model ready to serve: its directory read and verified once, the encoder (always on the HTTP thread:
 * requests are encoded where they are validated), a scorer, and what /v1/model and /metrics report.
 * Loading also scores an all-missing row and refuses a model whose scores are not probabilities.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Encoder } from '../data/encoder.js';
import { createKernels, type BackendName } from '../engine/backend.js';
import { EsmmError } from '../errors.js';
import type { EsmmModel } from '../model/esmm.js';
import { modelFromBytes, MANIFEST, type Manifest } from '../io/model-bytes.js';
import { readModelDir } from '../io/model-dir.js';
import { PoolScorer } from './pool-scorer.js';
import { modelColumns, requestShapeKey } from './schema.js';
import { InlineScorer, type Scorer } from './scorer.js';
import { scoreBatch } from './scoring.js';

export interface ScorerOptions {
  backend: BackendName;
  /** Worker threads for the forward pass; 0 scores on the HTTP thread. */
  threads: number;
  /** Rows of the model's workspace (larger requests are scored in pieces). */
  maxBatch: number;
  /** Replaces the built-in scorers (another kind of scorer, tests): gets the model as loaded and checked here. */
  scorerFactory?: (loaded: LoadedForScoring) => Scorer | Promise<Scorer>;
}

export interface LoadedForScoring {
  model: EsmmModel;
  manifestText: string;
  weights: Uint8Array;
  sources: { manifest: string; weights: string };
}

export interface ServingModel {
  dir: string;
  manifest: Manifest;
  /** The two files' bytes as verified, served to the browser page as they are. */
  manifestText: string;
  weights: Uint8Array;
  config: Config;
  encoder: Encoder;
  scorer: Scorer;
  /** The first 16 hex digits of the manifest's SHA-256 (it covers config, encoder and the weights' hash). */
  version: string;
  loadedAt: Date;
  /** Models with the same key take the same requests (see schema.ts). */
  requestKey: string;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

export async function loadServingModel(dirArg: string, opts: ScorerOptions): Promise<ServingModel> {
  const dir = resolve(dirArg);
  const files = await readModelDir(dir);
  const sources = { manifest: join(dir, MANIFEST), weights: join(dir, files.manifest.weights.file) };
  const parts = await modelFromBytes(files.manifest, files.weights, await createKernels(opts.backend), opts.maxBatch, sources, sha256);
  const probe = parts.encoder.encodeRecords([{}]);
  const expected = scoreBatch(parts.model, probe);
  for (const p of expected) {
    if (!(p >= 0 && p <= 1)) throw new EsmmError(`${dir}: the model scores ${p} for a row of missing values (not a probability): refusing it`);
  }
  let scorer: Scorer;
  if (opts.scorerFactory) scorer = await opts.scorerFactory({ model: parts.model, manifestText: files.manifestText, weights: files.weights, sources });
  else if (opts.threads === 0) scorer = new InlineScorer(parts.model);
  else {
    scorer = await PoolScorer.start(opts.threads, { manifestText: files.manifestText, weights: files.weights, backend: opts.backend, maxBatch: opts.maxBatch, sources }, probe);
    const got = await scorer.score(probe);
    if (got.join() !== expected.join()) {
      await scorer.close();
      throw new EsmmError(`${dir}: the scoring workers score [${got.join()}], the loading thread [${expected.join()}]`);
    }
  }
  return {
    dir, manifest: files.manifest, manifestText: files.manifestText, weights: files.weights, config: parts.config, encoder: parts.encoder, scorer,
    version: files.manifest.manifest_sha256!.slice(0, 16), loadedAt: new Date(), requestKey: requestShapeKey(parts.config),
  };
}

/** What GET /v1/model reports. */
export function modelSummary(m: ServingModel) {
  const t = m.manifest.training;
  const best = t.best_epoch !== undefined ? t.history.find((e) => e.epoch === t.best_epoch) : t.history.at(-1);
  return {
    version: m.version,
    manifest_sha256: m.manifest.manifest_sha256!,
    weights: m.manifest.weights,
    kind: m.manifest.spec.kind,
    esmm_version: m.manifest.esmm_version,
    dir: m.dir,
    loaded_at: m.loadedAt.toISOString(),
    scorer: m.scorer.kind,
    features: m.config.features.map((f) => ({ name: f.name, column: f.column ?? f.name, type: f.type })),
    columns: modelColumns(m.config).map((c) => ({ column: c.column, list: c.list })),
    training: { epochs_completed: t.epochs_completed, steps: t.steps, train_rows: t.train_rows, best_epoch: t.best_epoch ?? null, metrics: best?.eval ?? null },
  };
}
