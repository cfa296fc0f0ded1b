/**
 * A fully connected layer y = act(x·W + b) with W stored row-major as [in, out] (like a Keras kernel;
 * transpose it for torch.nn.Linear). Forward and backward side by side; gradients are overwritten by each
 * backward call. Workspaces are sized for `maxBatch` rows.
 */
import type { Activation, Kernels } from './kernels.js';
import { FreshParams, type ParamAllocator } from './params.js';
import type { Rng } from '../util/rng.js';

export type DenseInit = 'he_uniform' | 'torch';

export class Dense {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** PReLU negative slopes, one per output unit (null unless act is 'prelu'). */
  readonly alpha: Float32Array | null;
  readonly gWeight: Float32Array;
  readonly gBias: Float32Array;
  readonly gAlpha: Float32Array | null;
  /** x·W + b of the last forward (needed by the backward). */
  private readonly pre: Float32Array;
  private readonly out: Float32Array;
  private readonly dPre: Float32Array;
  private readonly zeroBias: Float32Array;

  constructor(
    private readonly k: Kernels, readonly inDim: number, readonly outDim: number, readonly act: Activation,
    readonly maxBatch: number, params: ParamAllocator = new FreshParams(k),
  ) {
    this.weight = params.take(inDim * outDim);
    this.bias = params.take(outDim);
    this.gWeight = k.allocF32(inDim * outDim);
    this.gBias = k.allocF32(outDim);
    this.alpha = act === 'prelu' ? params.take(outDim) : null;
    this.gAlpha = act === 'prelu' ? k.allocF32(outDim) : null;
    this.pre = k.allocF32(maxBatch * outDim);
    this.out = act === 'none' ? this.pre : k.allocF32(maxBatch * outDim);
    this.dPre = k.allocF32(maxBatch * outDim);
    this.zeroBias = k.allocF32(outDim);
  }

  /**
   * he_uniform: He-uniform weights for ReLU-family layers, Glorot-uniform for the linear output, zero
   * biases. torch: U(±1/√in) for weights and biases (torch.nn.Linear's default). PReLU slopes start at 0.25.
   */
  init(rng: Rng, mode: DenseInit = 'he_uniform'): void {
    const uniform = (a: Float32Array, limit: number) => { for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * limit; };
    if (mode === 'torch') {
      uniform(this.weight, 1 / Math.sqrt(this.inDim));
      uniform(this.bias, 1 / Math.sqrt(this.inDim));
    } else {
      uniform(this.weight, this.act === 'none' ? Math.sqrt(6 / (this.inDim + this.outDim)) : Math.sqrt(6 / this.inDim));
      this.bias.fill(0);
    }
    this.alpha?.fill(0.25);
  }

  /** Returns a view of the output, B × outDim. */
  forward(x: Float32Array, batch: number): Float32Array {
    const { k, inDim, outDim } = this;
    const pre = this.pre.subarray(0, batch * outDim);
    k.gemm(batch, outDim, inDim, x, this.weight, pre, false);
    k.biasActForward(batch, outDim, pre, this.bias, 'none', null, pre);
    if (this.act === 'none') return pre;
    const out = this.out.subarray(0, batch * outDim);
    k.biasActForward(batch, outDim, pre, this.zeroBias, this.act, this.alpha, out);
    return out;
  }

  /**
   * From dOut (B × outDim) and the same x as the forward: fills gWeight, gBias, gAlpha and, when dX is
   * given, writes (or with `accumulateDx` adds) dX = dPre·Wᵀ.
   */
  backward(x: Float32Array, batch: number, dOut: Float32Array, dX: Float32Array | null, accumulateDx: boolean): void {
    const { k, inDim, outDim } = this;
    const pre = this.pre.subarray(0, batch * outDim);
    const dPre = this.dPre.subarray(0, batch * outDim);
    this.gBias.fill(0);
    this.gAlpha?.fill(0);
    k.biasActBackward(batch, outDim, pre, dOut, this.act, this.alpha, dPre, this.gBias, this.gAlpha);
    k.gemmTN(batch, outDim, inDim, x, dPre, this.gWeight, false);
    if (dX) k.gemmNT(batch, outDim, inDim, dPre, this.weight, dX, accumulateDx);
  }

  /** The trainable tensors of this layer with their gradients, under `prefix`. */
  params(prefix: string): DenseParam[] {
    const p: DenseParam[] = [
      { name: `${prefix}.weight`, shape: [this.inDim, this.outDim], data: this.weight, grad: this.gWeight, decay: true },
      { name: `${prefix}.bias`, shape: [this.outDim], data: this.bias, grad: this.gBias, decay: false },
    ];
    if (this.alpha) p.push({ name: `${prefix}.prelu_alpha`, shape: [this.outDim], data: this.alpha, grad: this.gAlpha!, decay: false });
    return p;
  }
}

/** A dense (non-embedding) parameter: `decay` says whether L2 applies (weights yes, biases and slopes no). */
export interface DenseParam {
  name: string;
  shape: number[];
  data: Float32Array;
  grad: Float32Array;
  decay: boolean;
}
