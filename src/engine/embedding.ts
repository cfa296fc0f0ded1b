/**
 * Embedding tables with sum/mean pooling of (optionally weighted) id bags, and their sparse backward.
 *
 * The backward never produces a dense gradient: it deduplicates the rows a batch touches into a compact
 * list (rows[j], grads[j·dim ..]) that the lazy optimizers update, touching nothing else of the table.
 */
import type { FieldBatch } from '../data/batch.js';
import type { Kernels } from './kernels.js';
import { FreshParams, type ParamAllocator } from './params.js';
import type { Rng } from '../util/rng.js';

export type Pooling = 'sum' | 'mean';

export class EmbeddingTable {
  readonly data: Float32Array;

  constructor(k: Kernels, readonly rows: number, readonly dim: number, params: ParamAllocator = new FreshParams(k)) {
    this.data = params.take(rows * dim);
  }

  /** N(0, std²) rows; row 0 (out-of-vocabulary / missing) too, so unseen ids start like rare ones. */
  init(rng: Rng, std: number): void {
    for (let i = 0; i < this.data.length; i++) this.data[i] = rng.normal() * std;
  }

  /**
   * Pools each row's id bag into out[i·stride + col .. + dim]. Empty bags give a zero vector; mean pooling
   * divides by the sum of weights (the count when unweighted).
   */
  forward(f: FieldBatch, batch: number, pooling: Pooling, out: Float32Array, stride: number, col: number): void {
    const { data, dim } = this;
    for (let i = 0; i < batch; i++) {
      const o = i * stride + col;
      const lo = f.offsets[i], hi = f.offsets[i + 1];
      if (hi - lo === 1 && f.weights === null) {
        // the common single-id case: a plain row copy (sum and mean pool alike)
        const r = f.ids[lo] * dim;
        for (let d = 0; d < dim; d++) out[o + d] = data[r + d];
        continue;
      }
      out.fill(0, o, o + dim);
      let wsum = 0;
      for (let p = lo; p < hi; p++) {
        const w = f.weights ? f.weights[p] : 1;
        wsum += w;
        const r = f.ids[p] * dim;
        for (let d = 0; d < dim; d++) out[o + d] += w * data[r + d];
      }
      if (pooling === 'mean' && hi > lo && wsum !== 0) {
        const s = 1 / wsum;
        for (let d = 0; d < dim; d++) out[o + d] *= s;
      }
    }
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

  /** Adds the gradient of each id of each bag, from dOut[i·stride + col ..], into the sparse accumulator. */
  backward(f: FieldBatch, batch: number, pooling: Pooling, dOut: Float32Array, stride: number, col: number, acc: SparseGrad): void {
    const dim = this.dim;
    for (let i = 0; i < batch; i++) {
      const lo = f.offsets[i], hi = f.offsets[i + 1];
      if (hi === lo) continue;
      let scale = 1;
      if (pooling === 'mean') {
        let wsum = 0;
        for (let p = lo; p < hi; p++) wsum += f.weights ? f.weights[p] : 1;
        if (wsum === 0) continue;
        scale = 1 / wsum;
      }
      const o = i * stride + col;
      for (let p = lo; p < hi; p++) {
        const w = (f.weights ? f.weights[p] : 1) * scale;
        const g = acc.slot(f.ids[p]) * dim;
        const grads = acc.grads;
        for (let d = 0; d < dim; d++) grads[g + d] += w * dOut[o + d];
      }
    }
  }
}

/**
 * The gradient of one table for one batch, over the distinct rows touched: rows[0..count) and
 * grads[0..count·dim). A dense row→slot map makes deduplication O(1) without hashing; it is reset over
 * the touched rows only.
 */
export class SparseGrad {
  rows: Int32Array;
  grads: Float32Array;
  count = 0;
  private readonly slotOf: Int32Array;

  constructor(private readonly k: Kernels, tableRows: number, readonly dim: number, initialCapacity = 1024) {
    this.slotOf = new Int32Array(tableRows).fill(-1);
    this.rows = k.allocI32(initialCapacity);
    this.grads = k.allocF32(initialCapacity * dim);
  }

  /** The slot of a row, creating it (with a zero gradient) on first touch. */
  slot(row: number): number {
    const s = this.slotOf[row];
    if (s >= 0) return s;
    if (this.count === this.rows.length) this.grow();
    const n = this.count++;
    this.slotOf[row] = n;
    this.rows[n] = row;
    this.grads.fill(0, n * this.dim, (n + 1) * this.dim);
    return n;
  }

  /** Forgets the touched rows (call after the optimizer step). */
  reset(): void {
    for (let j = 0; j < this.count; j++) this.slotOf[this.rows[j]] = -1;
    this.count = 0;
  }

  private grow(): void {
    const rows = this.k.allocI32(this.rows.length * 2);
    const grads = this.k.allocF32(this.grads.length * 2);
    rows.set(this.rows);
    grads.set(this.grads);
    this.rows = rows;
    this.grads = grads;
  }
}
