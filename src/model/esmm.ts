/**
 * ESMM (Ma et al., SIGIR 2018): one set of embedding tables shared by a CTR tower and a CVR tower;
 * pCTR = σ(a), pCVR = σ(b), pCTCVR = pCTR·pCVR, trained on all impressions with
 * w_ctr·BCE(y, pCTR) + w_ctcvr·BCE(y·z, pCTCVR) (see engine/loss.ts) plus optional L2 terms.
 */
import type { Batch } from '../data/batch.js';
import type { DenseParam } from '../engine/dense.js';
import { EmbeddingTable, SparseGrad, type Pooling } from '../engine/embedding.js';
import type { Activation, Kernels } from '../engine/kernels.js';
import { esmmLoss, sigmoid } from '../engine/loss.js';
import { Tower } from '../engine/tower.js';
import type { Rng } from '../util/rng.js';

export interface FeatureSpec {
  name: string;
  /** Embedding rows, including the reserved row 0. */
  rows: number;
  pooling: Pooling;
}

export interface ModelSpec {
  kind: 'esmm';
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
  ctr: number;
  ctcvr: number;
}

export class EsmmModel {
  readonly tables: EmbeddingTable[];
  readonly sparseGrads: SparseGrad[];
  readonly ctr: Tower;
  readonly cvr: Tower;
  readonly inputDim: number;
  private readonly x: Float32Array;
  private readonly dx: Float32Array;
  private readonly dCtr: Float32Array;
  private readonly dCvr: Float32Array;

  constructor(private readonly k: Kernels, readonly spec: ModelSpec, readonly maxBatch: number) {
    const dim = spec.embeddingDim;
    this.tables = spec.features.map((f) => new EmbeddingTable(k, f.rows, dim));
    this.sparseGrads = spec.features.map((f) => new SparseGrad(k, f.rows, dim));
    this.inputDim = spec.features.length * dim;
    this.ctr = new Tower(k, this.inputDim, spec.hidden, spec.activation, spec.dropout, maxBatch);
    this.cvr = new Tower(k, this.inputDim, spec.hidden, spec.activation, spec.dropout, maxBatch);
    this.x = k.allocF32(maxBatch * this.inputDim);
    this.dx = k.allocF32(maxBatch * this.inputDim);
    this.dCtr = k.allocF32(maxBatch);
    this.dCvr = k.allocF32(maxBatch);
  }

  init(rng: Rng): void {
    for (const t of this.tables) t.init(rng, this.spec.embeddingInitStd);
    this.ctr.init(rng);
    this.cvr.init(rng);
  }

  /** The two logits for a batch of at most maxBatch rows; `dropoutRng` only while training. */
  forward(b: Batch, dropoutRng: Rng | null): { ctr: Float32Array; cvr: Float32Array } {
    if (b.size > this.maxBatch) throw new Error(`batch of ${b.size} rows exceeds the model's workspace (${this.maxBatch})`);
    const x = this.embed(b);
    return { ctr: this.ctr.forward(x, b.size, dropoutRng), cvr: this.cvr.forward(x, b.size, dropoutRng) };
  }

  /** Forward, loss and backward of one training batch: fills every dense gradient and the sparse ones. */
  trainStep(b: Batch, dropoutRng: Rng | null): StepLoss {
    const n = b.size, s = this.spec;
    const { ctr, cvr } = this.forward(b, dropoutRng);
    const dCtr = this.dCtr.subarray(0, n), dCvr = this.dCvr.subarray(0, n);
    const loss = esmmLoss(n, ctr, cvr, b.click, b.buy, { ctr: s.ctrWeight, ctcvr: s.ctcvrWeight }, dCtr, dCvr);
    const dx = this.dx.subarray(0, n * this.inputDim);
    this.ctr.backward(n, dCtr, dx, false);
    this.cvr.backward(n, dCvr, dx, true);
    this.embedBackward(b, dx);
    return { objective: loss.total + this.l2Penalty(), ctr: loss.ctr, ctcvr: loss.ctcvr };
  }

  /** pCTR and pCVR for every row of a batch of any size, written at `offset` of the outputs. */
  predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset = 0): void {
    for (let start = 0; start < b.size; start += this.maxBatch) {
      const end = Math.min(b.size, start + this.maxBatch);
      const part = start === 0 && end === b.size ? b : sliceRows(b, start, end);
      const { ctr, cvr } = this.forward(part, null);
      for (let i = 0; i < part.size; i++) {
        pctr[offset + start + i] = sigmoid(ctr[i]);
        pcvr[offset + start + i] = sigmoid(cvr[i]);
      }
    }
  }

  denseParams(): DenseParam[] {
    return [...this.ctr.params('ctr'), ...this.cvr.params('cvr')];
  }

  embeddingParams(): EmbeddingParam[] {
    return this.spec.features.map((f, i) => ({ name: `embedding.${f.name}`, table: this.tables[i], grad: this.sparseGrads[i] }));
  }

  private embed(b: Batch): Float32Array {
    const dim = this.spec.embeddingDim, stride = this.inputDim;
    const x = this.x.subarray(0, b.size * stride);
    this.spec.features.forEach((f, i) => this.tables[i].forward(b.fields[i], b.size, f.pooling, x, stride, i * dim));
    return x;
  }

  private embedBackward(b: Batch, dx: Float32Array): void {
    const dim = this.spec.embeddingDim, stride = this.inputDim;
    this.spec.features.forEach((f, i) => {
      this.sparseGrads[i].reset();
      this.tables[i].backward(b.fields[i], b.size, f.pooling, dx, stride, i * dim, this.sparseGrads[i]);
    });
  }

  /** ½·l2_tower·Σ W² over tower weights plus ½·l2_embedding·Σ over the rows this batch touched. */
  private l2Penalty(): number {
    const s = this.spec;
    let penalty = 0;
    if (s.l2Tower > 0) {
      for (const p of this.denseParams()) if (p.decay) penalty += 0.5 * s.l2Tower * this.k.sumSquares(p.data.length, p.data);
    }
    if (s.l2Embedding > 0) {
      const dim = s.embeddingDim;
      this.tables.forEach((t, i) => {
        const g = this.sparseGrads[i];
        for (let j = 0; j < g.count; j++) {
          const r = g.rows[j] * dim;
          for (let d = 0; d < dim; d++) penalty += 0.5 * s.l2Embedding * t.data[r + d] * t.data[r + d];
        }
      });
    }
    return penalty;
  }
}

function sliceRows(b: Batch, start: number, end: number): Batch {
  // views, not copies: the forward only reads
  return {
    size: end - start,
    click: b.click.subarray(start, end),
    buy: b.buy.subarray(start, end),
    fields: b.fields.map((f) => ({ ids: f.ids, offsets: f.offsets.subarray(start, end + 1), weights: f.weights })),
  };
}
