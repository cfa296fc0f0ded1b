/**
 * A scoring worker of PoolScorer: builds its own copy of the model from the bytes the main thread read
 * and verified (never from the directory, which may have changed since), then scores batches.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import type { Batch } from '../data/batch.js';
import { createKernels, type BackendName } from '../engine/backend.js';
import { modelFromBytes, parseManifest } from '../io/model-bytes.js';
import { scoreBatch, type ScoreTriples } from './scoring.js';

export interface ScoreWorkerData {
  manifestText: string;
  /** The weights file's bytes (on a SharedArrayBuffer: one copy for every worker). */
  weights: Uint8Array;
  backend: BackendName;
  maxBatch: number;
  sources: { manifest: string; weights: string };
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function load(d: ScoreWorkerData) {
  const manifest = await parseManifest(d.manifestText, d.sources.manifest, sha256);
  const { model } = await modelFromBytes(manifest, d.weights, await createKernels(d.backend), d.maxBatch, d.sources, sha256);
  return model;
}

const ready = load(workerData as ScoreWorkerData);
// A failed load is reported by every task (the pool's warm-up sees it); keep it from being unhandled meanwhile.
ready.catch(() => {});

export default async function score(batch: Batch): Promise<ScoreTriples> {
  return scoreBatch(await ready, batch);
}
