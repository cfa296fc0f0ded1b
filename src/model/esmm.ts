/**
 * ESMM (Ma et al., SIGIR 2018): one set of embedding tables shared by a CTR tower and a CVR tower;
 * pCTR = σ(a), pCVR = σ(b), pCTCVR = pCTR·pCVR, trained on all impressions with
 * w_ctr·BCE(y, pCTR) + w_ctcvr·BCE(y·z, pCTCVR) (see engine/loss.ts) plus optional L2 terms.
 * The same class runs the paper's ESMM-NS and BASE, which differ only in embedding sharing and loss.
 */
import { sliceBatch, type Batch } from '../data/batch.js';
import type { DenseParam } from '../engine/dense.js';
import { EmbeddingTable, SparseGrad, type Pooling } from '../engine/embedding.js';
import type { Activation, Kernels } from '../engine/kernels.js';
import { esmmLoss, sigmoid, weightedSecondTaskLoss } from '../engine/loss.js';
import { Tower } from '../engine/tower.js';
import type { Rng } from '../util/rng.js';
import type { DenseInit } from '../engine/dense.js';

export interface FeatureSpec {
  name: string;
  /** Embedding rows, including the reserved row 0. */
  rows: number;
  pooling: Pooling;
}

/**
 * The paper's model and baselines (Ma et al. 2018, section 4.2):
 * esmm: shared embeddings, CTR + CTCVR loss over all impressions.
 * esmm-ns: the same loss, each tower with its own embeddings.
 * base: an independent CTR network and a CVR network trained on clicked impressions only.
 * aman: base with unclicked impressions sampled in as CVR negatives (rate `amanNegativeRate`).
 * oversampling: base with each conversion copied `oversamplingFactor` times in the CVR loss.
 * division: independent CTR and CTCVR networks; pCVR = pCTCVR / pCTR clipped to [0, 1].
 */
export type ModelKind = 'esmm' | 'esmm-ns' | 'base' | 'aman' | 'oversampling' | 'division';

/** Kinds whose second tower learns its logit directly (not through pCTR·pCVR). */
const DIRECT_KINDS: ReadonlySet<ModelKind> = new Set(['base', 'aman', 'oversampling', 'division']);

export interface ModelSpec {
  kind: ModelKind;
  features: FeatureSpec[];
  embeddingDim: number;
  hidden: number[];
  activation: Activation;
  dropout: number;
  ctrWeight: number;
  ctcvrWeight: number;
  l2Tower: number;
  l2Embedding: number;
  embeddingInitStd: number;
  denseInit: DenseInit;
  /** aman: share of unclicked impressions sampled in as CVR negatives. */
  amanNegativeRate?: number;
  /** oversampling: copies of each conversion in the CVR loss. */
  oversamplingFactor?: number;
}

/** An embedding table with the sparse gradient of the current batch. */
export interface EmbeddingParam {
  name: string;
  table: EmbeddingTable;
  grad: SparseGrad;
}

export interface StepLoss {
  /** The weighted data loss plus the L2 terms: what the optimizer minimises. */
  objective: number;
}

/** Embedding tables of all features with their sparse gradients and the pooled-input workspaces. */
class EmbeddingSet {
  readonly tables: EmbeddingTable[];
  readonly grads: SparseGrad[];
  readonly x: Float32Array;
  readonly dx: Float32Array;

  constructor(k: Kernels, private readonly spec: ModelSpec, readonly prefix: string, readonly inputDim: number, maxBatch: number) {
    this.tables = spec.features.map((f) => new EmbeddingTable(k, f.rows, spec.embeddingDim));
    this.grads = spec.features.map((f) => new SparseGrad(k, f.rows, spec.embeddingDim));
    this.x = k.allocF32(maxBatch * inputDim);
    this.dx = k.allocF32(maxBatch * inputDim);
  }

  /** Pools every feature of the batch into the rows of x (B × features·dim). */
  forward(b: Batch): Float32Array {
    const dim = this.spec.embeddingDim, stride = this.inputDim;
    const x = this.x.subarray(0, b.size * stride);
    this.spec.features.forEach((f, i) => this.tables[i].forward(b.fields[i], b.size, f.pooling, x, stride, i * dim));
    return x;
  }

  /** Scatters dx (filled by the towers) into the sparse gradients of the rows the batch touched. */
  backward(b: Batch): void {
    const dim = this.spec.embeddingDim, stride = this.inputDim;
    const dx = this.dx.subarray(0, b.size * stride);
    this.spec.features.forEach((f, i) => {
      this.grads[i].reset();
      this.tables[i].backward(b.fields[i], b.size, f.pooling, dx, stride, i * dim, this.grads[i]);
    });
  }

  params(): EmbeddingParam[] {
    return this.spec.features.map((f, i) => ({ name: `${this.prefix}${f.name}`, table: this.tables[i], grad: this.grads[i] }));
  }

  /** Σ‖row‖² over the rows the last backward touched. */
  touchedSquares(): number {
    const dim = this.spec.embeddingDim;
    let sum = 0;
    this.tables.forEach((t, i) => {
      const g = this.grads[i];
      for (let j = 0; j < g.count; j++) {
        const r = g.rows[j] * dim;
        for (let d = 0; d < dim; d++) sum += t.data[r + d] * t.data[r + d];
      }
    });
    return sum;
  }
}

export class EsmmModel {
  readonly ctr: Tower;
  readonly cvr: Tower;
  readonly inputDim: number;
  /** The embedding sets: one shared by both towers (esmm), or one per tower (every other kind). */
  private readonly ctrInput: EmbeddingSet;
  private readonly cvrInput: EmbeddingSet;
  private readonly dCtr: Float32Array;
  private readonly dCvr: Float32Array;
  /** Per-row weights of the second task's loss (baseline kinds). */
  private readonly rowWeight: Float32Array;

  constructor(private readonly k: Kernels, readonly spec: ModelSpec, readonly maxBatch: number) {
    this.inputDim = spec.features.length * spec.embeddingDim;
    if (spec.kind === 'esmm') {
      this.ctrInput = this.cvrInput = new EmbeddingSet(k, spec, 'embedding.', this.inputDim, maxBatch);
    } else {
      this.ctrInput = new EmbeddingSet(k, spec, 'ctr.embedding.', this.inputDim, maxBatch);
      this.cvrInput = new EmbeddingSet(k, spec, 'cvr.embedding.', this.inputDim, maxBatch);
    }
    this.ctr = new Tower(k, this.inputDim, spec.hidden, spec.activation, spec.dropout, maxBatch);
    this.cvr = new Tower(k, this.inputDim, spec.hidden, spec.activation, spec.dropout, maxBatch);
    this.dCtr = k.allocF32(maxBatch);
    this.dCvr = k.allocF32(maxBatch);
    this.rowWeight = new Float32Array(maxBatch);
  }

  private get embeddingSets(): EmbeddingSet[] {
    return this.ctrInput === this.cvrInput ? [this.ctrInput] : [this.ctrInput, this.cvrInput];
  }

  init(rng: Rng): void {
    for (const set of this.embeddingSets) for (const t of set.tables) t.init(rng, this.spec.embeddingInitStd);
    this.ctr.init(rng, this.spec.denseInit);
    this.cvr.init(rng, this.spec.denseInit);
  }

  /** The two logits for a batch of at most maxBatch rows; `dropoutRng` only while training. */
  forward(b: Batch, dropoutRng: Rng | null): { ctr: Float32Array; cvr: Float32Array } {
    if (b.size > this.maxBatch) throw new Error(`batch of ${b.size} rows exceeds the model's workspace (${this.maxBatch})`);
    const xCtr = this.ctrInput.forward(b);
    const xCvr = this.cvrInput === this.ctrInput ? xCtr : this.cvrInput.forward(b);
    return { ctr: this.ctr.forward(xCtr, b.size, dropoutRng), cvr: this.cvr.forward(xCvr, b.size, dropoutRng) };
  }

  /**
   * Forward, loss and backward of one training batch: fills every dense gradient and the sparse ones.
   * `rng` is the training randomness (dropout, AMAN's sampling); null only for kinds that draw nothing.
   */
  trainStep(b: Batch, rng: Rng | null): StepLoss {
    const n = b.size, s = this.spec;
    const { ctr, cvr } = this.forward(b, rng);
    const dCtr = this.dCtr.subarray(0, n), dCvr = this.dCvr.subarray(0, n);
    // for the baselines, the second weight applies to their directly learned CVR (or CTCVR) term
    const loss = DIRECT_KINDS.has(s.kind)
      ? weightedSecondTaskLoss(n, ctr, cvr, b.click, b.buy, this.secondTaskWeights(b, rng), { ctr: s.ctrWeight, second: s.ctcvrWeight }, dCtr, dCvr)
      : esmmLoss(n, ctr, cvr, b.click, b.buy, { ctr: s.ctrWeight, ctcvr: s.ctcvrWeight }, dCtr, dCvr);
    const shared = this.ctrInput === this.cvrInput;
    this.ctr.backward(n, dCtr, this.ctrInput.dx.subarray(0, n * this.inputDim), false);
    this.cvr.backward(n, dCvr, this.cvrInput.dx.subarray(0, n * this.inputDim), shared);
    for (const set of this.embeddingSets) set.backward(b);
    return { objective: loss.total + this.l2Penalty() };
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

  /** The per-row weights r_i of weightedSecondTaskLoss for this kind. */
  private secondTaskWeights(b: Batch, rng: Rng | null): Float32Array {
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

  denseParams(): DenseParam[] {
    return [...this.ctr.params('ctr'), ...this.cvr.params('cvr')];
  }

  embeddingParams(): EmbeddingParam[] {
    return this.embeddingSets.flatMap((set) => set.params());
  }

  /** ½·l2_tower·Σ W² over tower weights plus ½·l2_embedding·Σ over the rows this batch touched. */
  private l2Penalty(): number {
    const s = this.spec;
    let penalty = 0;
    if (s.l2Tower > 0) {
      for (const p of this.denseParams()) if (p.decay) penalty += 0.5 * s.l2Tower * this.k.sumSquares(p.data.length, p.data);
    }
    if (s.l2Embedding > 0) for (const set of this.embeddingSets) penalty += 0.5 * s.l2Embedding * set.touchedSquares();
    return penalty;
  }
}
