/**
 * The bottom of a network, from a batch to the towers' input: embedding tables pooled into the inputs
 * of the feature groups (numbers copied in from Batch.dense), each group's DNN, and the concatenation of
 * the group outputs. ESMM shares one bottom between its towers; every other kind gives each tower its own.
 *
 * Layout: a group with a DNN has an input buffer of its own (B × its width), which the DNN reads; the
 * inputs of a group without one are written straight at their columns of the tower input. So the default
 * single group without a DNN costs no copy at all, and only DNN outputs are copied into the tower input
 * (Dense layers write contiguous rows). The backward mirrors this: a DNN group gathers its slice of the
 * tower-input gradient, the others' features read theirs in place.
 */
import type { Batch } from '../data/batch.js';
import type { DenseInit, DenseParam } from '../engine/dense.js';
import { EmbeddingTable, SparseGrad } from '../engine/embedding.js';
import type { Kernels } from '../engine/kernels.js';
import { Mlp } from '../engine/mlp.js';
import type { ParamAllocator } from '../engine/params.js';
import type { Rng } from '../util/rng.js';
import { featureDim, specGroups, type GroupInput, type ModelSpec } from './spec.js';

/** An embedding table with the sparse gradient of the current batch. */
export interface EmbeddingParam {
  name: string;
  table: EmbeddingTable;
  grad: SparseGrad;
}

/** A feature group at run time. */
interface Group {
  name: string;
  /** Width of the concatenation of its inputs. */
  inDim: number;
  /** Its DNN, or null when its inputs pass through to the tower input. */
  mlp: Mlp | null;
  /** Where its inputs are written (x) and their gradient read (dx): its own buffers, or the tower input's. */
  x: Float32Array;
  dx: Float32Array;
  /** Row stride of x and dx. */
  stride: number;
  /** Column of its output in the tower input. */
  col: number;
  /** With a DNN: the gradient w.r.t. its output, gathered from the tower-input gradient. */
  dy: Float32Array | null;
}

/** Where one input (a pooled embedding or a dense column) lives: its group's x/dx at column `col`. */
interface Slot {
  group: Group;
  col: number;
}

export class Bottom {
  readonly tables: EmbeddingTable[];
  readonly grads: SparseGrad[];
  /** Width of the tower input. */
  readonly outDim: number;
  /** The tower input (B × outDim) and its gradient, which the towers write before backward(). */
  readonly out: Float32Array;
  readonly dOut: Float32Array;
  private readonly groups: Group[];
  private readonly embeddingSlots: Slot[];
  private readonly denseSlots: Slot[];

  /** `prefix` names its tensors: '' (shared, esmm) or 'ctr.' / 'cvr.'. */
  constructor(k: Kernels, private readonly spec: ModelSpec, readonly prefix: string, maxBatch: number, params: ParamAllocator) {
    this.tables = spec.features.map((f) => new EmbeddingTable(k, f.rows, featureDim(spec, f), params));
    this.grads = spec.features.map((f) => new SparseGrad(k, f.rows, featureDim(spec, f)));
    const groupSpecs = specGroups(spec);
    const width = (inp: GroupInput) => (inp.source === 'embedding' ? featureDim(spec, spec.features[inp.index]) : 1);
    const inDims = groupSpecs.map((g) => g.inputs.reduce((s, inp) => s + width(inp), 0));
    const outDims = groupSpecs.map((g, gi) => (g.hidden.length > 0 ? g.hidden[g.hidden.length - 1] : inDims[gi]));
    this.outDim = outDims.reduce((a, b) => a + b, 0);
    this.out = k.allocF32(maxBatch * this.outDim);
    this.dOut = k.allocF32(maxBatch * this.outDim);

    this.groups = [];
    this.embeddingSlots = new Array<Slot>(spec.features.length);
    this.denseSlots = new Array<Slot>((spec.dense ?? []).length);
    let col = 0;
    groupSpecs.forEach((g, gi) => {
      const inDim = inDims[gi];
      const own = g.hidden.length > 0;
      const group: Group = {
        name: g.name,
        inDim,
        mlp: own ? new Mlp(k, inDim, g.hidden, spec.activation, spec.dropout, maxBatch, undefined, params) : null,
        x: own ? k.allocF32(maxBatch * inDim) : this.out,
        dx: own ? k.allocF32(maxBatch * inDim) : this.dOut,
        stride: own ? inDim : this.outDim,
        col,
        dy: own ? k.allocF32(maxBatch * outDims[gi]) : null,
      };
      let at = own ? 0 : col;
      for (const inp of g.inputs) {
        (inp.source === 'embedding' ? this.embeddingSlots : this.denseSlots)[inp.index] = { group, col: at };
        at += width(inp);
      }
      this.groups.push(group);
      col += outDims[gi];
    });
  }

  /** Embedding rows ~ N(0, std²), then the group DNNs. */
  init(rng: Rng, embeddingStd: number, denseInit: DenseInit): void {
    for (const t of this.tables) t.init(rng, embeddingStd);
    for (const g of this.groups) g.mlp?.init(rng, denseInit);
  }

  /** The tower input (B × outDim) of a batch; `dropoutRng` only while training. */
  forward(b: Batch, dropoutRng: Rng | null): Float32Array {
    const n = b.size;
    this.spec.features.forEach((f, i) => {
      const { group, col } = this.embeddingSlots[i];
      this.tables[i].forward(b.fields[i], n, f.pooling, group.x, group.stride, col);
    });
    this.denseSlots.forEach(({ group, col }, j) => copyColumns(n, 1, b.dense, b.denseWidth, j, group.x, group.stride, col));
    for (const g of this.groups) {
      if (!g.mlp) continue;
      const y = g.mlp.forward(g.x.subarray(0, n * g.inDim), n, dropoutRng);
      copyColumns(n, g.mlp.outDim, y, g.mlp.outDim, 0, this.out, this.outDim, g.col);
    }
    return this.out.subarray(0, n * this.outDim);
  }

  /** From dOut (filled by the towers): the group DNNs' gradients, then the embeddings' sparse ones. Numbers get none. */
  backward(b: Batch): void {
    const n = b.size;
    for (const g of this.groups) {
      if (!g.mlp) continue;
      const dy = g.dy!.subarray(0, n * g.mlp.outDim);
      copyColumns(n, g.mlp.outDim, this.dOut, this.outDim, g.col, dy, g.mlp.outDim, 0);
      g.mlp.backward(n, dy, g.dx.subarray(0, n * g.inDim), false);
    }
    this.spec.features.forEach((f, i) => {
      const { group, col } = this.embeddingSlots[i];
      this.grads[i].reset();
      this.tables[i].backward(b.fields[i], n, f.pooling, group.dx, group.stride, col, this.grads[i]);
    });
  }

  embeddingParams(): EmbeddingParam[] {
    return this.spec.features.map((f, i) => ({ name: `${this.prefix}embedding.${f.name}`, table: this.tables[i], grad: this.grads[i] }));
  }

  /** The group DNNs' tensors: `<prefix>group.<group>.dense.<i>.…`. */
  denseParams(): DenseParam[] {
    return this.groups.flatMap((g) => g.mlp?.params(`${this.prefix}group.${g.name}`) ?? []);
  }

  /** Σ‖row‖² over the rows the last backward touched. */
  touchedSquares(): number {
    let sum = 0;
    this.tables.forEach((t, i) => { sum += t.rowSquares(this.grads[i].rows, this.grads[i].count); });
    return sum;
  }
}

/** Copies a block of `width` columns of n rows from src (row stride, first column) to dst (row stride, first column). */
function copyColumns(
  n: number, width: number, src: Float32Array, srcStride: number, srcCol: number, dst: Float32Array, dstStride: number, dstCol: number,
): void {
  for (let i = 0; i < n; i++) {
    const s = i * srcStride + srcCol, d = i * dstStride + dstCol;
    for (let c = 0; c < width; c++) dst[d + c] = src[s + c];
  }
}
