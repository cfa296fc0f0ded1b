/**
 * Builds a Batch row by row into typed arrays that grow geometrically, so reading millions of rows makes
 * no per-row JS objects. Per row: push the ids of every field, then endRow(click, buy).
 */
import type { Batch, FieldBatch } from './batch.js';

const GROWTH = 2;

/** One field in CSR form under construction. */
export class FieldBuilder {
  ids: Int32Array;
  /** Row starts; only kept for list fields (a single-id field's offsets are 0, 1, 2, ...). */
  offsets: Int32Array;
  /** Ids pushed so far (over all rows). */
  length = 0;
  rows = 0;

  /** `single`: exactly one id per row, so no per-row offsets are written. */
  constructor(readonly single: boolean, initialRows: number) {
    this.ids = new Int32Array(initialRows);
    this.offsets = new Int32Array(single ? 0 : initialRows + 1);
  }

  push(id: number): void {
    if (this.length === this.ids.length) this.ids = grow(this.ids, this.length + 1);
    this.ids[this.length++] = id;
  }

  /** Close a row of a list field. */
  endRow(): void {
    if (this.rows + 2 > this.offsets.length) this.offsets = grow(this.offsets, this.rows + 2);
    this.offsets[++this.rows] = this.length;
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
    return { ids: this.ids.slice(0, this.length), offsets, weights: null };
  }
}

export class BatchBuilder {
  readonly fields: FieldBuilder[];
  size = 0;
  private click: Float32Array;
  private buy: Float32Array;
  private readonly listFields: FieldBuilder[];

  /** `single[f]`: field f takes exactly one id per row (an `id` feature); otherwise it is a list. */
  constructor(single: boolean[], initialRows = 1024) {
    const rows = Math.max(1, initialRows);
    this.fields = single.map((s) => new FieldBuilder(s, rows));
    this.listFields = this.fields.filter((f) => !f.single);
    this.click = new Float32Array(rows);
    this.buy = new Float32Array(rows);
  }

  /** Close the current row: every field must have had its ids pushed. */
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

  /** The rows so far as a Batch with exactly sized arrays. */
  finish(): Batch {
    return {
      size: this.size,
      click: this.click.slice(0, this.size),
      buy: this.buy.slice(0, this.size),
      fields: this.fields.map((f) => f.finish(this.size)),
    };
  }
}

function grow<T extends Int32Array | Float32Array>(a: T, minLength: number): T {
  const next = new (a.constructor as { new (n: number): T })(Math.max(minLength, Math.ceil(a.length * GROWTH)));
  next.set(a);
  return next;
}
