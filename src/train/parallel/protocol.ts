/**
 * The messages between the main thread and the training / scoring worker threads (worker.ts, pool.ts), and
 * the layout of their shared control block.
 */
import type { Batch } from '../../data/batch.js';
import type { BatchShare, ModelSpec } from '../../model/esmm.js';
import type { OptimizerOptions } from '../../optim/optimizer.js';
import { Barrier } from './barrier.js';

/** Backends whose buffers live in one shared WebAssembly.Memory that worker threads can attach to. */
export type SharedBackend = 'wasm' | 'native';

export interface WorkerInit {
  index: number;
  threads: number;
  backend: SharedBackend;
  memory: WebAssembly.Memory;
  spec: ModelSpec;
  maxBatch: number;
  /** The model's parameter tensors in allocation order (EsmmModel.paramBuffers). */
  params: Float32Array[];
  /** The optimizer's options and shared slots; null for a pool that only scores. */
  optimizer: { opts: OptimizerOptions; slots: Array<[string, Float32Array]> } | null;
  control: SharedArrayBuffer;
}

export type ToWorker =
  | { type: 'peers'; grads: Float32Array[][] }
  | {
    type: 'step';
    batch: Batch;
    /** The optimizer step being applied (1-based) and the learning rates for it. */
    step: number;
    learningRate: number;
    embeddingLearningRate: number;
    /** Null with one thread (the whole batch, normalised as in one process). */
    share: BatchShare | null;
    /** One thread: the training RNG's state (returned after the step). Several: a per-step seed. */
    rngState: number[] | null;
    seed: number;
  }
  | { type: 'score'; batch: Batch; text: boolean };

export type FromWorker =
  | { type: 'ready'; grads: Float32Array[] }
  | { type: 'done'; objective: number; rngState: number[] | null }
  | { type: 'scored'; pctr: Float32Array; pcvr: Float32Array }
  | { type: 'lines'; text: string }
  | { type: 'error'; message: string; stack?: string };

/**
 * Control block (Int32): the barrier's cells, then for every thread and embedding table the byte offsets of
 * that thread's sparse gradient (rows, grads) and its row count for the current step.
 */
export const DIRECTORY = Barrier.CELLS;

export function controlBlockBytes(threads: number, tables: number): number {
  return 4 * (DIRECTORY + threads * tables * 3);
}

/** Elements [lo, hi) of an n-element tensor that thread `index` of `threads` reduces and updates. */
export function sliceOf(n: number, index: number, threads: number): [number, number] {
  return [Math.floor((index * n) / threads), Math.floor(((index + 1) * n) / threads)];
}
