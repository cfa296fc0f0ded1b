/**
 * A stack of Dense layers: hidden layers with an activation (and optional inverted dropout on their
 * outputs while training), optionally followed by a linear output layer without dropout. A tower is an
 * Mlp with a 1-unit output layer (tower.ts); a feature group's DNN is one without (model/bottom.ts).
 */
import { Dense, type DenseInit, type DenseParam } from './dense.js';
import type { Activation, Kernels } from './kernels.js';
import { FreshParams, type ParamAllocator } from './params.js';
import type { Rng } from '../util/rng.js';

export class Mlp {
  readonly layers: Dense[];
  readonly outDim: number;
  /** Dropout keep-masks (0 or 1/(1−rate)) of the last training forward, one per hidden layer. */
  private readonly masks: Float32Array[];
  /** Layer inputs of the last forward: inputs[0] is the Mlp input, inputs[i] the output of layer i−1. */
  private inputs: Float32Array[] = [];
  /** Gradient buffers w.r.t. the output of every layer but the last. */
  private readonly grads: Float32Array[];
  private dropoutActive = false;

  constructor(
    k: Kernels, readonly inDim: number, hidden: number[], act: Activation, readonly dropout: number, maxBatch: number,
    linearOut?: number, params: ParamAllocator = new FreshParams(k),
  ) {
    const dims = [inDim, ...hidden];
    this.layers = hidden.map((h, i) => new Dense(k, dims[i], h, act, maxBatch, params));
    if (linearOut !== undefined) this.layers.push(new Dense(k, dims[dims.length - 1], linearOut, 'none', maxBatch, params));
    if (this.layers.length === 0) throw new Error('an Mlp needs at least one layer');
    this.outDim = this.layers[this.layers.length - 1].outDim;
    this.masks = dropout > 0 ? hidden.map((h) => new Float32Array(maxBatch * h)) : [];
    this.grads = this.layers.slice(0, -1).map((l) => k.allocF32(maxBatch * l.outDim));
  }

  init(rng: Rng, mode: DenseInit): void {
    for (const l of this.layers) l.init(rng, mode);
  }

  /** Output (B × outDim) of a forward pass; with `dropoutRng` (training) the hidden outputs are dropped out. */
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

  /**
   * Backward from dOut (B × outDim), which is overwritten when the last layer is a dropped-out hidden one;
   * writes or accumulates the gradient w.r.t. the Mlp input into dX (skipped when null).
   */
  backward(batch: number, dOut: Float32Array, dX: Float32Array | null, accumulateDx: boolean): void {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const layer = this.layers[i];
      // through the dropout of this layer's output: the same mask as the forward
      if (this.dropoutActive && i < this.masks.length) multiplyInPlace(dOut, this.masks[i], batch * layer.outDim);
      const dIn = i > 0 ? this.grads[i - 1].subarray(0, batch * layer.inDim) : dX;
      layer.backward(this.inputs[i], batch, dOut, dIn, i > 0 ? false : accumulateDx);
      if (i > 0) dOut = dIn!;
    }
  }

  /** The layers' tensors as `<prefix>.dense.<i>.weight|bias|prelu_alpha`. */
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
