/**
 * Embedding tables with sum/mean pooling of (optionally weighted) id bags, and their sparse backward.
 *
 * The backward never produces a dense gradient: it deduplicates the rows a batch touches into a compact
 * list (rows[j], grads[j·dim ..]) that the lazy optimizers update, touching nothing else of the table.
 * Both run as kernels over a copy of the batch's ids in the backend's memory (JavaScript loops over the
 * shared WASM memory are several times slower than over plain arrays).
 */
import type { FieldBatch } from '../data/batch.js';
import type { Kernels } from './kernels.js';
import { FreshParams, type ParamAllocator } from './params.js';
import type { Rng } from '../util/rng.js';

export type Pooling = 'sum' | 'mean';

/** A batch field's ids, offsets (from 0) and weights, copied into the backend's memory. */
class StagedField {
  ids: Int32Array;
  offsets: Int32Array;
  weights: Float32Array;
  private source: FieldBatch | null = null;
  private n = -1;

  constructor(private readonly k: Kernels) {
    this.ids = k.allocI32(1024);
    this.offsets = k.allocI32(1025);
    this.weights = k.allocF32(0);
  }

  /** A copy of rows [0, n) of f; with `reuse`, the last copy when it was of the same f and n (forward, then backward). */
  stage(f: FieldBatch, n: number, reuse: boolean): { ids: Int32Array; offsets: Int32Array; weights: Float32Array | null } {
    const lo = f.offsets[0], nnz = f.offsets[n] - lo;
    if (!reuse || f !== this.source || n !== this.n) {
      if (this.ids.length < nnz) this.ids = this.k.allocI32(2 * nnz);
      if (this.offsets.length < n + 1) this.offsets = this.k.allocI32(2 * (n + 1));
      if (f.weights && this.weights.length < nnz) this.weights = this.k.allocF32(2 * nnz);
      this.ids.set(f.ids.subarray(lo, lo + nnz));
      if (f.weights) this.weights.set(f.weights.subarray(lo, lo + nnz));
      const offsets = this.offsets;
      if (lo === 0) offsets.set(f.offsets.subarray(0, n + 1));
      else for (let i = 0; i <= n; i++) offsets[i] = f.offsets[i] - lo;
      this.source = f;
      this.n = n;
    }
    return { ids: this.ids.subarray(0, nnz), offsets: this.offsets, weights: f.weights ? this.weights.subarray(0, nnz) : null };
  }
}

export class EmbeddingTable {
  readonly data: Float32Array;
  private readonly staged: StagedField;
  private pooledOut: Float32Array;

  constructor(private readonly k: Kernels, readonly rows: number, readonly dim: number, params: ParamAllocator = new FreshParams(k)) {
    this.data = params.take(rows * dim);
    this.staged = new StagedField(k);
    this.pooledOut = k.allocF32(0);
  }

  /** N(0, std²) rows; row 0 (out-of-vocabulary / missing) too, so unseen ids start like rare ones. */
  init(rng: Rng, std: number): void {
    const values = new Float32Array(this.data.length);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    this.data.set(values);
  }

  /**
   * Pools each row's id bag into out[i·stride + col .. + dim]. Empty bags give a zero vector; mean pooling
   * divides by the sum of weights (the count when unweighted).
   */
  forward(f: FieldBatch, batch: number, pooling: Pooling, out: Float32Array, stride: number, col: number): void {
    const { ids, offsets, weights } = this.staged.stage(f, batch, false);
    this.k.embeddingPool(this.dim, this.rows, batch, ids, offsets, weights, this.data, out, stride, col, pooling === 'mean');
  }

  /** The pooled vectors of n bags (n × dim), as a plain array of the caller's. */
  pooled(f: FieldBatch, n: number, pooling: Pooling): Float32Array {
    if (this.pooledOut.length < n * this.dim) this.pooledOut = this.k.allocF32(2 * n * this.dim);
    this.forward(f, n, pooling, this.pooledOut, this.dim, 0);
    return this.pooledOut.slice(0, n * this.dim);
  }

  /** Adds the gradient of each id of each bag, from dOut[i·stride + col ..], into the sparse accumulator. */
  backward(f: FieldBatch, batch: number, pooling: Pooling, dOut: Float32Array, stride: number, col: number, acc: SparseGrad): void {
    const { ids, offsets, weights } = this.staged.stage(f, batch, true);
    acc.ensureRoom(ids.length);
    acc.count = this.k.embeddingPoolBackward(this.dim, this.rows, batch, ids, offsets, weights, dOut, stride, col, pooling === 'mean',
      acc.slotOf, acc.rows, acc.grads, acc.count);
  }

  /** Σ‖row‖² over rows[0..count). */
  rowSquares(rows: Int32Array, count: number): number {
    const { data, dim } = this;
    let sum = 0;
    for (let j = 0; j < count; j++) {
      const r = rows[j] * dim;
      for (let d = 0; d < dim; d++) sum += data[r + d] * data[r + d];
    }
    return sum;
  }
}

/**
 * The gradient of one table for one batch, over the distinct rows touched: rows[0..count) and
 * grads[0..count·dim). A dense row→slot map (slotOf, −1 for untouched rows) makes deduplication O(1)
 * without hashing; it is reset over the touched rows only.
 */
export class SparseGrad {
  rows: Int32Array;
  grads: Float32Array;
  count = 0;
  readonly slotOf: Int32Array;

  constructor(private readonly k: Kernels, readonly tableRows: number, readonly dim: number, initialCapacity = 1024) {
    this.slotOf = k.allocI32(tableRows).fill(-1);
    this.rows = k.allocI32(initialCapacity);
    this.grads = k.allocF32(initialCapacity * dim);
  }

  /** Makes room for `more` rows beyond count, up to the table's rows (buffers only grow, keeping their contents). */
  ensureRoom(more: number): void {
    const needed = Math.min(this.count + more, this.tableRows);
    if (needed <= this.rows.length) return;
    const capacity = Math.min(Math.max(needed, 2 * this.rows.length), this.tableRows);
    const rows = this.k.allocI32(capacity), grads = this.k.allocF32(capacity * this.dim);
    rows.set(this.rows.subarray(0, this.count));
    grads.set(this.grads.subarray(0, this.count * this.dim));
    this.rows = rows;
    this.grads = grads;
  }

  /** Adds the rows of another gradient of the same table whose id r has r mod modulus = residue. */
  accumulate(from: { rows: Int32Array; grads: Float32Array; count: number }, modulus: number, residue: number): void {
    this.ensureRoom(from.count);
    this.count = this.k.accumulateRows(this.dim, this.tableRows, from.count, from.rows, from.grads, modulus, residue,
      this.slotOf, this.rows, this.grads, this.count);
  }

  /** Forgets the touched rows (call after the optimizer step). */
  reset(): void {
    for (let j = 0; j < this.count; j++) this.slotOf[this.rows[j]] = -1;
    this.count = 0;
  }
}
