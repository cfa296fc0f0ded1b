/**
 * Reading encoded Parquet (see parquet-layout.ts) straight into Batches: whole DuckDB vectors are copied
 * into the batch's typed arrays (no per-value JS objects), and what a model relies on is checked on the
 * way: no NULLs, every id inside its table, labels 0/1, list weights aligned with their ids, the row count
 * the layout promises.
 */
import { DuckDBTypeId, type DuckDBListType, type DuckDBType } from '@duckdb/node-api';
import { EsmmError } from '../errors.js';
import type { Batch, FieldBatch } from './batch.js';
import type { FieldShape } from './batch-builder.js';
import {
  Db, bindings as duckdb, checkParquetFile, chunkSize, duckdbError, firstNull, float32s, int32s, listChild, listEntries,
  parquetScan, sqlIdent, sqlString, validity, vectorAt, vectorBytes, type ChunkStream,
} from './duckdb.js';
import { ENCODER_KEY, FORMAT_KEY, layoutColumns, parseLayout, type ColumnKind, type EncodedLayout } from './parquet-layout.js';
import type { EncodedSource } from './source.js';

export interface EncodedParquetOptions {
  /** Rows per Batch (default 65536; the last one holds the rest). */
  batchRows?: number;
}

export interface EncodedParquetSource extends EncodedSource {
  readonly layout: EncodedLayout;
}

const DEFAULT_BATCH_ROWS = 1 << 16;

/** The file as batches, or null when it is a Parquet file without our marker (a user's raw Parquet). */
export async function openEncodedParquet(path: string, opts: EncodedParquetOptions = {}): Promise<EncodedParquetSource | null> {
  checkParquetFile(path);
  const db = await Db.connect();
  try {
    const opened = await openChecked(db, path, opts.batchRows ?? DEFAULT_BATCH_ROWS);
    if (opened === null) db.close();
    return opened;
  } catch (e) {
    db.close();
    throw duckdbError(path, e);
  }
}

async function openChecked(db: Db, path: string, batchRows: number): Promise<EncodedParquetSource | null> {
  const kv = await db.rows(
    `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${sqlString(path)}) WHERE decode(key) IN (${sqlString(FORMAT_KEY)}, ${sqlString(ENCODER_KEY)})`,
  );
  const formatText = kv.find((r) => r.key === FORMAT_KEY)?.value;
  if (typeof formatText !== 'string') return null;
  const layout = parseLayout(path, formatText);
  const encoderText = kv.find((r) => r.key === ENCODER_KEY)?.value;
  if (typeof encoderText !== 'string') throw new EsmmError(`${path}: encoded Parquet without its encoder (metadata key ${ENCODER_KEY})`);
  let encoder: unknown;
  try {
    encoder = JSON.parse(encoderText);
  } catch (e) {
    throw new EsmmError(`${path}: the encoder in the metadata is not valid JSON: ${(e as Error).message}`);
  }
  const [{ rows }] = await db.rows(`SELECT num_rows AS rows FROM parquet_file_metadata(${sqlString(path)})`);
  if (Number(rows) !== layout.rows) throw new EsmmError(`${path}: the file has ${Number(rows)} rows, its esmm layout says ${layout.rows} (altered or corrupt)`);
  const { names, types } = await db.describe(`SELECT * FROM ${parquetScan(path)}`);
  for (const { name, kind } of layoutColumns(layout)) {
    const at = names.indexOf(name);
    if (at < 0) throw new EsmmError(`${path}: encoded Parquet without its column "${name}"`);
    if (!TYPE_CHECKS[kind](types[at])) throw new EsmmError(`${path}: column "${name}" has type ${types[at].toString()}, the esmm layout says ${kind}`);
  }
  return new EncodedReader(db, path, layout, encoder, batchRows);
}

const TYPE_CHECKS: Record<ColumnKind, (t: DuckDBType) => boolean> = {
  INTEGER: (t) => t.typeId === DuckDBTypeId.INTEGER,
  'INTEGER[]': (t) => t.typeId === DuckDBTypeId.LIST && (t as DuckDBListType).valueType.typeId === DuckDBTypeId.INTEGER,
  'FLOAT[]': (t) => t.typeId === DuckDBTypeId.LIST && (t as DuckDBListType).valueType.typeId === DuckDBTypeId.FLOAT,
  FLOAT: (t) => t.typeId === DuckDBTypeId.FLOAT,
  TINYINT: (t) => t.typeId === DuckDBTypeId.TINYINT,
};

class EncodedReader implements EncodedParquetSource {
  readonly rows: number;
  private active = 0;
  private closing = false;

  constructor(private readonly db: Db, readonly path: string, readonly layout: EncodedLayout, readonly encoder: unknown, private readonly batchRows: number) {
    this.rows = layout.rows;
  }

  async *chunks(): AsyncGenerator<Batch> {
    if (this.closing) return;
    this.active++;
    const layout = this.layout;
    const columns = layoutColumns(layout).map((c) => sqlIdent(c.name));
    let stream: ChunkStream | null = null;
    let done = 0;
    let batch = new BatchAssembler(layout, Math.min(this.batchRows, layout.rows), this.path);
    try {
      stream = await this.db.stream(`SELECT ${columns.join(', ')} FROM ${parquetScan(this.path)}`);
      for await (const chunk of stream.chunks()) {
        const n = chunkSize(chunk);
        for (let from = 0; from < n;) {
          if (done + batch.size >= layout.rows) throw new EsmmError(`${this.path}: more rows than the ${layout.rows} its esmm layout says (altered or corrupt)`);
          const take = Math.min(n - from, batch.capacity - batch.size);
          batch.add(chunk, from, from + take, done + batch.size);
          from += take;
          if (batch.size === batch.capacity) {
            done += batch.size;
            yield batch.finish();
            if (this.closing) return;
            batch = new BatchAssembler(layout, Math.min(this.batchRows, layout.rows - done), this.path);
          }
        }
      }
      if (done + batch.size !== layout.rows) throw new EsmmError(`${this.path}: ${done + batch.size} rows, its esmm layout says ${layout.rows} (truncated or corrupt)`);
      if (batch.size > 0) yield batch.finish();
    } catch (e) {
      throw duckdbError(this.path, e, e instanceof EsmmError ? undefined : `cannot read row ${done + batch.size + 1} or later`);
    } finally {
      await stream?.settle();
      if (--this.active === 0 && this.closing) this.db.close();
    }
  }

  close(): void {
    this.closing = true;
    if (this.active === 0) this.db.close();
  }
}

/** One Batch filled from consecutive ranges of DuckDB chunks, in the column order of layoutColumns. */
class BatchAssembler {
  size = 0;
  private readonly fields: FieldFill[];
  private readonly dense: Float32Array;
  private readonly click: Float32Array;
  private readonly buy: Float32Array;

  constructor(private readonly layout: EncodedLayout, readonly capacity: number, private readonly path: string) {
    this.fields = layout.fields.map((f) => new FieldFill(f.shape, f.table_size, f.column, capacity));
    this.dense = new Float32Array(capacity * layout.dense.length);
    this.click = new Float32Array(capacity);
    this.buy = new Float32Array(capacity);
  }

  /** Rows [from, to) of `chunk`; `firstRow` is the 0-based file row of `from` (for messages). */
  add(chunk: duckdb.DataChunk, from: number, to: number, firstRow: number): void {
    const n = chunkSize(chunk);
    const where = (i: number) => `${this.path}: row ${firstRow + i - from + 1}`;
    let v = 0;
    for (const f of this.fields) {
      const ids = vectorAt(chunk, v++);
      f.add(ids, f.shape === 'weighted' ? vectorAt(chunk, v++) : null, n, from, to, this.size, where);
    }
    const w = this.layout.dense.length;
    for (let d = 0; d < w; d++) {
      const vector = vectorAt(chunk, v++);
      noNulls(vector, n, from, to, where, this.layout.dense[d].column);
      const x = float32s(vector, n), dense = this.dense;
      for (let i = from, at = this.size * w + d; i < to; i++, at += w) dense[at] = x[i];
    }
    this.labels(vectorAt(chunk, v++), this.click, n, from, to, where, this.layout.click);
    this.labels(vectorAt(chunk, v++), this.buy, n, from, to, where, this.layout.buy);
    this.size += to - from;
  }

  private labels(vector: duckdb.Vector, out: Float32Array, n: number, from: number, to: number, where: (i: number) => string, column: string): void {
    noNulls(vector, n, from, to, where, column);
    const bytes = vectorBytes(vector, n);
    for (let i = from, at = this.size; i < to; i++, at++) {
      const y = bytes[i];
      if (y > 1) throw new EsmmError(`${where(i)} column "${column}": label ${y << 24 >> 24} is not 0 or 1`);
      out[at] = y;
    }
  }

  finish(): Batch {
    const w = this.layout.dense.length;
    const identity = new Int32Array(this.size + 1);
    for (let i = 0; i <= this.size; i++) identity[i] = i;
    return { size: this.size, click: this.click, buy: this.buy, fields: this.fields.map((f) => f.finish(identity)), dense: this.dense, denseWidth: w };
  }
}

/** One field's ids (and weights) in CSR form, filled chunk range by chunk range. */
class FieldFill {
  private ids: Int32Array;
  private weights: Float32Array | null;
  private readonly offsets: Int32Array;
  private length = 0;

  constructor(readonly shape: FieldShape, private readonly tableSize: number, private readonly column: string, capacity: number) {
    this.ids = new Int32Array(shape === 'single' ? capacity : Math.max(16, capacity * 2));
    this.weights = shape === 'weighted' ? new Float32Array(this.ids.length) : null;
    this.offsets = new Int32Array(shape === 'single' ? 0 : capacity + 1);
  }

  add(idVector: duckdb.Vector, weightVector: duckdb.Vector | null, n: number, from: number, to: number, row: number, where: (i: number) => string): void {
    noNulls(idVector, n, from, to, where, this.column);
    if (this.shape === 'single') {
      const ids = int32s(idVector, n);
      this.checkIds(ids, from, to, where, (i) => i);
      this.ids.set(ids.subarray(from, to), this.length);
      this.length += to - from;
      return;
    }
    const entries = listEntries(idVector, n);
    const { child, size } = listChild(idVector);
    const childIds = size > 0 ? int32s(child, size) : new Int32Array(0);
    if (firstNull(validity(child, size), 0, size) >= 0) throw new EsmmError(`${where(from)} column "${this.column}": NULL id in an encoded list`);
    let weights: Float32Array | null = null, weightEntries: Uint32Array | null = null;
    if (weightVector !== null) {
      noNulls(weightVector, n, from, to, where, `${this.column}:weight`);
      weightEntries = listEntries(weightVector, n);
      const w = listChild(weightVector);
      weights = w.size > 0 ? float32s(w.child, w.size) : new Float32Array(0);
    }
    // Rows of a chunk usually sit back to back in the child vector: then one copy serves them all.
    const start = entries[4 * from];
    let end = start, contiguous = true, total = 0;
    for (let i = from; i < to; i++) {
      const off = entries[4 * i], len = entries[4 * i + 2];
      if (entries[4 * i + 1] !== 0 || entries[4 * i + 3] !== 0 || off + len > size) throw new EsmmError(`${where(i)} column "${this.column}": corrupt list entry`);
      if (weightEntries !== null && weightEntries[4 * i + 2] !== len) throw new EsmmError(`${where(i)} column "${this.column}": ${len} ids but ${weightEntries[4 * i + 2]} weights`);
      if (off !== end) contiguous = false;
      end = off + len;
      total += len;
    }
    this.reserve(this.length + total);
    const offsets = this.offsets;
    if (contiguous && (weightEntries === null || weightEntries[4 * from] === start && sameStarts(entries, weightEntries, from, to))) {
      this.checkIds(childIds, start, end, where, (j) => rowOfChild(entries, from, to, j));
      this.ids.set(childIds.subarray(start, end), this.length);
      if (weights) this.weights!.set(weights.subarray(start, end), this.length);
      for (let i = from, at = row; i < to; i++, at++) offsets[at + 1] = offsets[at] + entries[4 * i + 2];
      this.length += total;
      return;
    }
    for (let i = from, at = row; i < to; i++, at++) {
      const off = entries[4 * i], len = entries[4 * i + 2];
      this.checkIds(childIds, off, off + len, where, () => i);
      this.ids.set(childIds.subarray(off, off + len), this.length);
      if (weights) {
        const wo = weightEntries![4 * i];
        this.weights!.set(weights.subarray(wo, wo + len), this.length);
      }
      this.length += len;
      offsets[at + 1] = this.length;
    }
  }

  /** The field; `identity` (0, 1, 2, ...) is copied for the offsets of a single-id field (a copy each: fields may be transferred separately). */
  finish(identity: Int32Array): FieldBatch {
    if (this.shape === 'single') return { ids: this.ids, offsets: identity.slice(), weights: null };
    return { ids: this.ids.slice(0, this.length), offsets: this.offsets, weights: this.weights ? this.weights.slice(0, this.length) : null };
  }

  /** Every id in ids[from, to) inside [0, tableSize); `rowOf` names the chunk row of a bad one. */
  private checkIds(ids: Int32Array, from: number, to: number, where: (i: number) => string, rowOf: (j: number) => number): void {
    const limit = this.tableSize;
    for (let j = from; j < to; j++) {
      const id = ids[j];
      if (id < 0 || id >= limit) throw new EsmmError(`${where(rowOf(j))} column "${this.column}": id ${id} outside its table of ${limit} rows`);
    }
  }

  private reserve(n: number): void {
    if (n <= this.ids.length) return;
    const size = Math.max(n, this.ids.length * 2);
    const ids = new Int32Array(size);
    ids.set(this.ids.subarray(0, this.length));
    this.ids = ids;
    if (this.weights) {
      const weights = new Float32Array(size);
      weights.set(this.weights.subarray(0, this.length));
      this.weights = weights;
    }
  }
}

function sameStarts(a: Uint32Array, b: Uint32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[4 * i] !== b[4 * i]) return false;
  return true;
}

/** The chunk row whose list holds child element j (for error messages only). */
function rowOfChild(entries: Uint32Array, from: number, to: number, j: number): number {
  for (let i = from; i < to; i++) if (j < entries[4 * i] + entries[4 * i + 2]) return i;
  return to - 1;
}

function noNulls(vector: duckdb.Vector, n: number, from: number, to: number, where: (i: number) => string, column: string): void {
  const at = firstNull(validity(vector, n), from, to);
  if (at >= 0) throw new EsmmError(`${where(at)} column "${column}": NULL in an encoded file`);
}

