/**
 * Adam for the tower parameters; lazy (sparse) Adam or Adagrad for embedding rows, touching only the rows
 * of the current batch — never a dense update of a whole table. Lazy Adam uses the global step for bias
 * correction (as TF's LazyAdam and PyTorch's SparseAdam do).
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
  readonly slots = new Map<string, Float32Array>();

  constructor(
    private readonly k: Kernels, private readonly dense: DenseParam[], private readonly embeddings: EmbeddingParam[],
    readonly opts: OptimizerOptions,
  ) {
    this.learningRate = opts.learningRate;
    this.embeddingLearningRate = opts.embeddingLearningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    for (const p of dense) {
      this.slots.set(`${p.name}.adam_m`, k.allocF32(p.data.length));
      this.slots.set(`${p.name}.adam_v`, k.allocF32(p.data.length));
    }
    for (const e of embeddings) {
      const n = e.table.data.length;
      if (opts.embeddingOptimizer === 'adam') {
        this.slots.set(`${e.name}.adam_m`, k.allocF32(n));
        this.slots.set(`${e.name}.adam_v`, k.allocF32(n));
      } else {
        this.slots.set(`${e.name}.adagrad_acc`, k.allocF32(n).fill(opts.adagradInitial ?? 0.1));
      }
    }
  }

  /** Applies the gradients currently held by the parameters and the embeddings' sparse gradients. */
  apply(): void {
    this.step++;
    const { k, beta1, beta2, eps, step } = this;
    const correction = Math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step);
    const lrT = this.learningRate * correction;
    for (const p of this.dense) {
      k.adam(p.data.length, p.data, p.grad, this.slot(p.name, 'adam_m'), this.slot(p.name, 'adam_v'),
        lrT, beta1, beta2, eps, p.decay ? this.opts.l2Tower : 0);
    }
    const l2e = this.opts.l2Embedding;
    for (const e of this.embeddings) {
      const { grad, table } = e;
      if (grad.count === 0) continue;
      if (this.opts.embeddingOptimizer === 'adam') {
        k.lazyAdamRows(table.dim, grad.count, grad.rows, grad.grads, table.data, this.slot(e.name, 'adam_m'),
          this.slot(e.name, 'adam_v'), this.embeddingLearningRate * correction, beta1, beta2, eps, l2e);
      } else {
        k.adagradRows(table.dim, grad.count, grad.rows, grad.grads, table.data, this.slot(e.name, 'adagrad_acc'),
          this.embeddingLearningRate, 1e-7, l2e);
      }
    }
  }

  private slot(name: string, kind: string): Float32Array {
    return this.slots.get(`${name}.${kind}`)!;
  }
}
