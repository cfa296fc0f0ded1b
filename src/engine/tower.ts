/**
 * An MLP tower: hidden Dense layers with an activation (and optional inverted dropout while training),
 * then a linear layer to one logit per row.
 */
import { Dense, type DenseInit, type DenseParam } from './dense.js';
import type { Activation, Kernels } from './kernels.js';
import type { Rng } from '../util/rng.js';

export class Tower {
  readonly layers: Dense[];
  /** Dropout keep-masks (0 or 1/(1−rate)) of the last training forward, one per hidden layer. */
  private readonly masks: Float32Array[];
  /** Layer inputs of the last forward: inputs[0] is the tower input, inputs[i] the output of layer i−1. */
  private inputs: Float32Array[] = [];
  private readonly grads: Float32Array[];
  private dropoutActive = false;

  constructor(
    k: Kernels, inDim: number, hidden: number[], act: Activation, readonly dropout: number, maxBatch: number,
  ) {
    const dims = [inDim, ...hidden];
    this.layers = hidden.map((h, i) => new Dense(k, dims[i], h, act, maxBatch));
    this.layers.push(new Dense(k, dims[dims.length - 1], 1, 'none', maxBatch));
    this.masks = dropout > 0 ? hidden.map((h) => new Float32Array(maxBatch * h)) : [];
    // gradient buffers w.r.t. each hidden layer's output
    this.grads = hidden.map((h) => k.allocF32(maxBatch * h));
  }

  init(rng: Rng, mode: DenseInit): void {
    for (const l of this.layers) l.init(rng, mode);
  }

  /** Logits (B) of a forward pass; with `dropoutRng` (training) the hidden outputs are dropped out. */
  forward(x: Float32Array, batch: number, dropoutRng: Rng | null): Float32Array {
    this.inputs = [x];
    this.dropoutActive = dropoutRng !== null && this.dropout > 0;
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h, batch);
      if (this.dropoutActive && i < this.masks.length) applyDropout(h, this.masks[i], batch * layer.outDim, this.dropout, dropoutRng!);
      this.inputs.push(h);
    });
    return h;
  }

  /** Backward from dLogit (B); writes or accumulates the gradient w.r.t. the tower input into dX. */
  backward(batch: number, dLogit: Float32Array, dX: Float32Array | null, accumulateDx: boolean): void {
    let dOut = dLogit;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const layer = this.layers[i];
      const dIn = i > 0 ? this.grads[i - 1].subarray(0, batch * layer.inDim) : dX;
      layer.backward(this.inputs[i], batch, dOut, dIn, i > 0 ? false : accumulateDx);
      if (i > 0) {
        if (this.dropoutActive) multiplyInPlace(dIn!, this.masks[i - 1], batch * layer.inDim);
        dOut = dIn!;
      }
    }
  }

  params(prefix: string): DenseParam[] {
    return this.layers.flatMap((l, i) => l.params(`${prefix}.dense.${i}`));
  }
}

function applyDropout(h: Float32Array, mask: Float32Array, n: number, rate: number, rng: Rng): void {
  const scale = 1 / (1 - rate);
  for (let i = 0; i < n; i++) {
    const m = rng.uniform() < rate ? 0 : scale;
    mask[i] = m;
    h[i] *= m;
  }
}

function multiplyInPlace(a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) a[i] *= b[i];
}
