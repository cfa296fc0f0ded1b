/**
 * An MLP tower: hidden Dense layers with an activation (and optional inverted dropout while training),
 * then a linear layer to one logit per row.
 */
import type { Activation, Kernels } from './kernels.js';
import { Mlp } from './mlp.js';
import type { ParamAllocator } from './params.js';

export class Tower extends Mlp {
  constructor(k: Kernels, inDim: number, hidden: number[], act: Activation, dropout: number, maxBatch: number, params?: ParamAllocator) {
    super(k, inDim, hidden, act, dropout, maxBatch, 1, params);
  }
}
