/**
 * ESMM (Ma et al., SIGIR 2018): one bottom (embedding tables, optional feature-group DNNs) shared by a
 * CTR tower and a CVR tower; pCTR = σ(a), pCVR = σ(b), pCTCVR = pCTR·pCVR, trained on all impressions with
 * w_ctr·BCE(y, pCTR) + w_ctcvr·BCE(y·z, pCTCVR) (see engine/loss.ts) plus optional L2 terms.
 * The same class runs the paper's baselines (ESMM-NS, BASE, AMAN, OVERSAMPLING, DIVISION), which differ
 * in sharing the bottom (embeddings and feature-group DNNs, model/bottom.ts) and in the loss.
 */
import { sliceBatch, type Batch } from '../data/batch.js';
import type { DenseParam } from '../engine/dense.js';
import type { Kernels } from '../engine/kernels.js';
import { FreshParams, SharedParams } from '../engine/params.js';
import { esmmLoss, sigmoid, weightedSecondTaskLoss } from '../engine/loss.js';
import { Tower } from '../engine/tower.js';
import type { Rng } from '../util/rng.js';
import { Bottom, type EmbeddingParam } from './bottom.js';
import { checkModelSpec, type ModelKind, type ModelSpec } from './spec.js';

export type { EmbeddingParam } from './bottom.js';
export type { FeatureSpec, GroupInput, GroupSpec, ModelKind, ModelSpec } from './spec.js';

/** Kinds whose second tower learns its logit directly (not through pCTR·pCVR). */
const DIRECT_KINDS: ReadonlySet<ModelKind> = new Set(['base', 'aman', 'oversampling', 'division']);

export interface StepLoss {
  /** The weighted data loss plus the L2 terms: what the optimizer minimises. */
  objective: number;
}

/**
 * One thread's share of a batch split across worker threads. Losses are normalised by the whole batch, so
 * the shares' gradients add up to the whole batch's gradient; the L2 terms are left to the caller, which
 * counts them once.
 */
export interface BatchShare {
  totalRows: number;
  /** The baselines' second-task row weights of this share (drawn once for the whole batch) and Σ over the whole batch. */
  rowWeights: Float32Array | null;
  totalWeight: number;
}

export class EsmmModel {
  readonly ctr: Tower;
  readonly cvr: Tower;
  /** Width of the towers' input. */
  readonly inputDim: number;
  /** The bottoms: one shared by both towers (esmm), or one per tower (every other kind). */
  private readonly ctrBottom: Bottom;
  private readonly cvrBottom: Bottom;
  private readonly dCtr: Float32Array;
  private readonly dCvr: Float32Array;
  /** Per-row weights of the second task's loss (baseline kinds). */
  private readonly rowWeight: Float32Array;

  /** Every trainable tensor in allocation order: what a replica built with `shared` takes over. */
  readonly paramBuffers: readonly Float32Array[];

  /**
   * `shared`: the paramBuffers of another model of the same spec (in memory this backend can address);
   * the new model is then a replica with workspaces of its own over those very parameters.
   */
  constructor(private readonly k: Kernels, readonly spec: ModelSpec, readonly maxBatch: number, shared?: readonly Float32Array[]) {
    checkModelSpec(spec);
    const params = shared ? new SharedParams(shared) : new FreshParams(k);
    if (spec.kind === 'esmm') {
      this.ctrBottom = this.cvrBottom = new Bottom(k, spec, '', maxBatch, params);
    } else {
      this.ctrBottom = new Bottom(k, spec, 'ctr.', maxBatch, params);
      this.cvrBottom = new Bottom(k, spec, 'cvr.', maxBatch, params);
    }
    this.inputDim = this.ctrBottom.outDim;
    this.ctr = new Tower(k, this.inputDim, spec.ctrHidden ?? spec.hidden, spec.activation, spec.dropout, maxBatch, params);
    this.cvr = new Tower(k, this.inputDim, spec.cvrHidden ?? spec.hidden, spec.activation, spec.dropout, maxBatch, params);
    if (params instanceof SharedParams) params.checkComplete();
    this.paramBuffers = params.buffers;
    this.dCtr = k.allocF32(maxBatch);
    this.dCvr = k.allocF32(maxBatch);
    this.rowWeight = new Float32Array(maxBatch);
  }

  private get bottoms(): Bottom[] {
    return this.ctrBottom === this.cvrBottom ? [this.ctrBottom] : [this.ctrBottom, this.cvrBottom];
  }

  init(rng: Rng): void {
    for (const b of this.bottoms) b.init(rng, this.spec.embeddingInitStd, this.spec.denseInit);
    this.ctr.init(rng, this.spec.denseInit);
    this.cvr.init(rng, this.spec.denseInit);
  }

  /** The two logits for a batch of at most maxBatch rows; `dropoutRng` only while training. */
  forward(b: Batch, dropoutRng: Rng | null): { ctr: Float32Array; cvr: Float32Array } {
    if (b.size > this.maxBatch) throw new Error(`batch of ${b.size} rows exceeds the model's workspace (${this.maxBatch})`);
    const dense = this.spec.dense?.length ?? 0;
    if (b.fields.length !== this.spec.features.length || b.denseWidth !== dense) {
      throw new Error(`batch has ${b.fields.length} embedded fields and ${b.denseWidth} dense columns, the model expects ${this.spec.features.length} and ${dense}`);
    }
    const xCtr = this.ctrBottom.forward(b, dropoutRng);
    const xCvr = this.cvrBottom === this.ctrBottom ? xCtr : this.cvrBottom.forward(b, dropoutRng);
    return { ctr: this.ctr.forward(xCtr, b.size, dropoutRng), cvr: this.cvr.forward(xCvr, b.size, dropoutRng) };
  }

  /**
   * Forward, loss and backward of one training batch: fills every dense gradient and the sparse ones.
   * `rng` is the training randomness (dropout, AMAN's sampling); null only for kinds that draw nothing.
   * With `share`, b is one thread's part of a larger batch and the objective leaves out the L2 terms.
   */
  trainStep(b: Batch, rng: Rng | null, share?: BatchShare): StepLoss {
    const n = b.size, s = this.spec;
    const { ctr, cvr } = this.forward(b, rng);
    const dCtr = this.dCtr.subarray(0, n), dCvr = this.dCvr.subarray(0, n);
    // for the baselines, the second weight applies to their directly learned CVR (or CTCVR) term
    const loss = this.usesRowWeights
      ? weightedSecondTaskLoss(n, ctr, cvr, b.click, b.buy, share?.rowWeights ?? this.secondTaskWeights(b, rng),
        { ctr: s.ctrWeight, second: s.ctcvrWeight }, dCtr, dCvr, share && { rows: share.totalRows, weight: share.totalWeight })
      : esmmLoss(n, ctr, cvr, b.click, b.buy, { ctr: s.ctrWeight, ctcvr: s.ctcvrWeight }, dCtr, dCvr, share?.totalRows ?? n);
    // the towers write the gradient w.r.t. their input; a shared bottom gets the sum of both
    const shared = this.ctrBottom === this.cvrBottom;
    this.ctr.backward(n, dCtr, this.ctrBottom.dOut.subarray(0, n * this.inputDim), false);
    this.cvr.backward(n, dCvr, this.cvrBottom.dOut.subarray(0, n * this.inputDim), shared);
    for (const bottom of this.bottoms) bottom.backward(b);
    return { objective: loss.total + (share ? 0 : this.l2Penalty()) };
  }

  /** Whether the loss weighs the second task's rows (the baselines), drawn by secondTaskWeights. */
  get usesRowWeights(): boolean {
    return DIRECT_KINDS.has(this.spec.kind);
  }

  /** pCTR and pCVR for every row of a batch of any size, written at `offset` of the outputs. */
  predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset = 0): void {
    for (let start = 0; start < b.size; start += this.maxBatch) {
      const end = Math.min(b.size, start + this.maxBatch);
      const part = start === 0 && end === b.size ? b : sliceBatch(b, start, end);
      const { ctr, cvr } = this.forward(part, null);
      const division = this.spec.kind === 'division';
      for (let i = 0; i < part.size; i++) {
        const p = sigmoid(ctr[i]), q = sigmoid(cvr[i]);
        pctr[offset + start + i] = p;
        // DIVISION's second tower predicts pCTCVR
        pcvr[offset + start + i] = division ? Math.min(1, q / p) : q;
      }
    }
  }

  /** The per-row weights r_i of weightedSecondTaskLoss for this kind (a view of a workspace: copy to keep). */
  secondTaskWeights(b: Batch, rng: Rng | null): Float32Array {
    if (b.size > this.maxBatch) throw new Error(`batch of ${b.size} rows exceeds the model's workspace (${this.maxBatch})`);
    const r = this.rowWeight.subarray(0, b.size), s = this.spec;
    for (let i = 0; i < b.size; i++) {
      const y = b.click[i];
      switch (s.kind) {
        case 'division': r[i] = 1; break;
        case 'oversampling': r[i] = y * (1 + ((s.oversamplingFactor ?? 1) - 1) * b.buy[i]); break;
        case 'aman': {
          if (!rng) throw new Error('aman draws its negatives: trainStep needs an rng');
          r[i] = y === 1 ? 1 : rng.uniform() < (s.amanNegativeRate ?? 0) ? 1 : 0;
          break;
        }
        default: r[i] = y;
      }
    }
    return r;
  }

  /** The group DNNs' and the towers' tensors, for Adam (weights with `decay`: L2 as l2_tower). */
  denseParams(): DenseParam[] {
    return [...this.bottoms.flatMap((b) => b.denseParams()), ...this.ctr.params('ctr'), ...this.cvr.params('cvr')];
  }

  embeddingParams(): EmbeddingParam[] {
    return this.bottoms.flatMap((b) => b.embeddingParams());
  }

  /** ½·l2_tower·Σ W² over tower and group DNN weights plus ½·l2_embedding·Σ over the rows this batch touched. */
  private l2Penalty(): number {
    let penalty = this.denseL2Penalty();
    if (this.spec.l2Embedding > 0) for (const b of this.bottoms) penalty += 0.5 * this.spec.l2Embedding * b.touchedSquares();
    return penalty;
  }

  /** ½·l2_tower·Σ W² over tower and group DNN weights. */
  denseL2Penalty(): number {
    const s = this.spec;
    let penalty = 0;
    if (s.l2Tower > 0) {
      for (const p of this.denseParams()) if (p.decay) penalty += 0.5 * s.l2Tower * this.k.sumSquares(p.data.length, p.data);
    }
    return penalty;
  }
}
