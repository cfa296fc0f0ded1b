/**
 * Adam for the tower parameters; lazy (sparse) Adam or Adagrad for embedding rows, touching only the rows
 * of the current batch — never a dense update of a whole table. Lazy Adam uses the global step for bias
 * correction (as TF's LazyAdam and PyTorch's SparseAdam do).
 *
 * `apply` updates everything from the gradients the parameters hold. Worker threads instead split one step
 * between them: each calls `updateDense` on its slice of every tensor and `updateRows` on the embedding
 * rows it owns, with slot buffers shared by all threads.
 */
import type { DenseParam } from '../engine/dense.js';
import type { Kernels } from '../engine/kernels.js';
import type { EmbeddingParam } from '../model/esmm.js';

export interface OptimizerOptions {
  learningRate: number;
  embeddingOptimizer: 'adam' | 'adagrad';
  embeddingLearningRate: number;
  l2Tower: number;
  l2Embedding: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Adagrad's initial accumulator value (TensorFlow's default). */
  adagradInitial?: number;
}

export class Optimizer {
  /** Number of updates applied so far (Adam's t). */
  step = 0;
  /** Current learning rates (a schedule may change them between steps). */
  learningRate: number;
  embeddingLearningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  /** Optimizer slots by name: `<param>.adam_m`, `<param>.adam_v`, `<param>.adagrad_acc`. */
  readonly slots: Map<string, Float32Array>;

  /** `slots`: another optimizer's slots (of the same parameters) to update instead of fresh ones. */
  constructor(
    private readonly k: Kernels, readonly dense: DenseParam[], readonly embeddings: EmbeddingParam[],
    readonly opts: OptimizerOptions, slots?: Map<string, Float32Array>,
  ) {
    this.learningRate = opts.learningRate;
    this.embeddingLearningRate = opts.embeddingLearningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.slots = slots ?? this.freshSlots();
  }

  private freshSlots(): Map<string, Float32Array> {
    const { k, opts } = this;
    const slots = new Map<string, Float32Array>();
    for (const p of this.dense) {
      slots.set(`${p.name}.adam_m`, k.allocF32(p.data.length));
      slots.set(`${p.name}.adam_v`, k.allocF32(p.data.length));
    }
    for (const e of this.embeddings) {
      const n = e.table.data.length;
      if (opts.embeddingOptimizer === 'adam') {
        slots.set(`${e.name}.adam_m`, k.allocF32(n));
        slots.set(`${e.name}.adam_v`, k.allocF32(n));
      } else {
        slots.set(`${e.name}.adagrad_acc`, k.allocF32(n).fill(opts.adagradInitial ?? 0.1));
      }
    }
    return slots;
  }

  /** Applies the gradients currently held by the parameters and the embeddings' sparse gradients. */
  apply(): void {
    this.step++;
    const correction = this.biasCorrection();
    this.dense.forEach((p, i) => this.updateDense(i, 0, p.data.length, correction));
    this.embeddings.forEach(({ grad }, i) => this.updateRows(i, grad.rows, grad.grads, grad.count, correction));
  }

  /** Adam's √(1−β2^t)/(1−β1^t) for the current step. */
  biasCorrection(): number {
    return Math.sqrt(1 - this.beta2 ** this.step) / (1 - this.beta1 ** this.step);
  }

  /** Adam on elements [lo, hi) of dense tensor i, from the gradient it holds. */
  updateDense(i: number, lo: number, hi: number, correction: number): void {
    if (hi <= lo) return;
    const p = this.dense[i], { beta1, beta2, eps } = this;
    const part = (a: Float32Array) => a.subarray(lo, hi);
    this.k.adam(hi - lo, part(p.data), part(p.grad), part(this.slot(p.name, 'adam_m')), part(this.slot(p.name, 'adam_v')),
      this.learningRate * correction, beta1, beta2, eps, p.decay ? this.opts.l2Tower : 0);
  }

  /** The lazy update of `count` distinct rows of embedding table i with their gradients (count × dim). */
  updateRows(i: number, rows: Int32Array, grads: Float32Array, count: number, correction: number): void {
    if (count === 0) return;
    const e = this.embeddings[i], { table } = e, l2e = this.opts.l2Embedding;
    if (this.opts.embeddingOptimizer === 'adam') {
      this.k.lazyAdamRows(table.dim, count, rows, grads, table.data, this.slot(e.name, 'adam_m'), this.slot(e.name, 'adam_v'),
        this.embeddingLearningRate * correction, this.beta1, this.beta2, this.eps, l2e);
    } else {
      this.k.adagradRows(table.dim, count, rows, grads, table.data, this.slot(e.name, 'adagrad_acc'), this.embeddingLearningRate, 1e-7, l2e);
    }
  }

  private slot(name: string, kind: string): Float32Array {
    return this.slots.get(`${name}.${kind}`)!;
  }
}
