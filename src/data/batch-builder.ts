/**
 * Builds a Batch row by row into typed arrays that grow geometrically, so reading millions of rows makes
 * no per-row JS objects. Per row: push the ids of every field and set the dense values, then
 * endRow(click, buy).
 */
import type { Batch, FieldBatch } from './batch.js';

const GROWTH = 2;

/** How a field takes its ids: exactly one per row, a list, or a list with a weight per id. */
export type FieldShape = 'single' | 'list' | 'weighted';

/** One field in CSR form under construction. */
export class FieldBuilder {
  ids: Int32Array;
  /** Row starts; only kept for list fields (a single-id field's offsets are 0, 1, 2, ...). */
  offsets: Int32Array;
  /** One weight per id (weighted fields only). */
  weights: Float32Array | null;
  /** Ids pushed so far (over all rows). */
  length = 0;
  rows = 0;
  readonly single: boolean;

  constructor(readonly shape: FieldShape, initialRows: number) {
    this.single = shape === 'single';
    this.ids = new Int32Array(initialRows);
    this.offsets = new Int32Array(this.single ? 0 : initialRows + 1);
    this.weights = shape === 'weighted' ? new Float32Array(initialRows) : null;
  }

  push(id: number): void {
    if (this.length === this.ids.length) this.ids = grow(this.ids, this.length + 1);
    this.ids[this.length++] = id;
  }

  pushWeighted(id: number, weight: number): void {
    if (this.length === this.ids.length) {
      this.ids = grow(this.ids, this.length + 1);
      this.weights = grow(this.weights!, this.length + 1);
    }
    this.weights![this.length] = weight;
    this.ids[this.length++] = id;
  }

  /** Close a row of a list field. */
  endRow(): void {
    if (this.rows + 2 > this.offsets.length) this.offsets = grow(this.offsets, this.rows + 2);
    this.offsets[++this.rows] = this.length;
  }

  /** Drop the ids pushed since `rows` rows were completed (a row that turned out bad). */
  discardRow(rows: number): void {
    this.length = this.single ? rows : this.offsets[rows];
  }

  finish(rows: number): FieldBatch {
    let offsets: Int32Array;
    if (this.single) {
      if (this.length !== rows) throw new Error(`internal: single-id field has ${this.length} ids for ${rows} rows`);
      offsets = new Int32Array(rows + 1);
      for (let i = 0; i <= rows; i++) offsets[i] = i;
    } else {
      offsets = this.offsets.slice(0, rows + 1);
    }
    return { ids: this.ids.slice(0, this.length), offsets, weights: this.weights ? this.weights.slice(0, this.length) : null };
  }
}

export class BatchBuilder {
  readonly fields: FieldBuilder[];
  size = 0;
  /** Dense values, row-major; set the current row's with setDense. */
  dense: Float32Array;
  private click: Float32Array;
  private buy: Float32Array;
  private readonly listFields: FieldBuilder[];

  /** `shapes[f]`: how field f takes its ids; `denseWidth`: numeric columns per row. */
  constructor(shapes: FieldShape[], readonly denseWidth = 0, initialRows = 1024) {
    const rows = Math.max(1, initialRows);
    this.fields = shapes.map((s) => new FieldBuilder(s, rows));
    this.listFields = this.fields.filter((f) => !f.single);
    this.click = new Float32Array(rows);
    this.buy = new Float32Array(rows);
    this.dense = new Float32Array(rows * denseWidth);
  }

  /** Set dense column `col` of the current (unfinished) row. */
  setDense(col: number, value: number): void {
    const at = this.size * this.denseWidth + col;
    if (at >= this.dense.length) this.dense = grow(this.dense, (this.size + 1) * this.denseWidth);
    this.dense[at] = value;
  }

  /** Close the current row: every field must have had its ids pushed and every dense column set. */
  endRow(click: number, buy: number): void {
    if (this.size === this.click.length) {
      this.click = grow(this.click, this.size + 1);
      this.buy = grow(this.buy, this.size + 1);
    }
    this.click[this.size] = click;
    this.buy[this.size] = buy;
    this.size++;
    const lists = this.listFields;
    for (let f = 0; f < lists.length; f++) lists[f].endRow();
  }

  /** Forget what was pushed for the current row (it turned out malformed). */
  discardRow(): void {
    for (const f of this.fields) f.discardRow(this.size);
  }

  /** The rows so far as a Batch with exactly sized arrays. */
  finish(): Batch {
    const w = this.denseWidth;
    return {
      size: this.size,
      click: this.click.slice(0, this.size),
      buy: this.buy.slice(0, this.size),
      fields: this.fields.map((f) => f.finish(this.size)),
      dense: this.dense.slice(0, this.size * w),
      denseWidth: w,
    };
  }
}

function grow<T extends Int32Array | Float32Array>(a: T, minLength: number): T {
  const next = new (a.constructor as { new (n: number): T })(Math.max(minLength, Math.ceil(a.length * GROWTH)));
  next.set(a);
  return next;
}
