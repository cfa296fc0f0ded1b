/**
 * Writing encoded Parquet (see parquet-layout.ts) from a stream of Batches, atomically and in bounded
 * memory.
 *
 * DuckDB writes the file in one `COPY (SELECT * FROM <table function>) TO ...`, the table function filling
 * its output chunks from our typed arrays with plain memory copies. Its callbacks run synchronously on the
 * JS thread, so they cannot await the (asynchronous) batches: the batches are first spooled to a
 * temporary file of raw arrays next to the output (a sequential write, ~100 bytes a row), and the table
 * function reads that back one batch at a time. Memory holds one batch and DuckDB's row group buffers,
 * whatever the number of rows. (Appending to a DuckDB table and copying that out was measured 4× slower
 * and its memory grew with the rows.)
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { EsmmError } from '../errors.js';
import { installFile, tempSibling } from '../io/atomic.js';
import type { Batch, FieldBatch } from './batch.js';
import { Db, bindings as duckdb, duckdbError, sqlString, vectorAt } from './duckdb.js';
import { ENCODER_KEY, FORMAT_KEY, layoutColumns, layoutFor, type ColumnKind, type EncodedSchema } from './parquet-layout.js';

export interface WriteEncodedOptions {
  /** The encoder's toJSON(), stored in the file. */
  encoder: unknown;
  schema: EncodedSchema;
  chunks: AsyncIterable<Batch>;
  /** Called after the last chunk: facts to store with the layout (e.g. read statistics). */
  meta?: () => unknown;
}

export interface WriteEncodedResult {
  path: string;
  rows: number;
  bytes: number;
}

const VECTOR_ROWS = 2048;

/**
 * Writes the batches to `outPath` as encoded Parquet. A temporary sibling is renamed over `outPath` only
 * once complete and durable, so a crash or an error leaves any previous file as it was.
 */
export async function writeEncodedParquet(outPath: string, opts: WriteEncodedOptions): Promise<WriteEncodedResult> {
  const spool = new BatchSpool(tempSibling(outPath), opts.schema);
  const temp = tempSibling(outPath);
  let db: Db | null = null;
  try {
    for await (const batch of opts.chunks) spool.append(batch);
    spool.finish();
    const layout = layoutFor(opts.schema, spool.rows, opts.meta?.());
    db = await Db.connect();
    const source = registerSource(db, spool, layoutColumns(layout).map((c) => c.kind));
    const metadata = `KV_METADATA {${sqlString(FORMAT_KEY)}: ${sqlString(JSON.stringify(layout))}, ${sqlString(ENCODER_KEY)}: ${sqlString(JSON.stringify(opts.encoder))}}`;
    const columns = layoutColumns(layout).map((c, i) => `c${i} AS ${sqlIdentifier(c.name)}`).join(', ');
    try {
      await db.run(`COPY (SELECT ${columns} FROM ${source.name}()) TO ${sqlString(temp)} (FORMAT parquet, ${metadata})`);
    } catch (e) {
      throw source.error ?? e;
    }
    installFile(temp, outPath);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e instanceof EsmmError ? e : duckdbError(outPath, e, 'cannot write encoded Parquet');
  } finally {
    spool.remove();
    db?.close();
  }
  return { path: outPath, rows: spool.rows, bytes: statSync(outPath).size };
}

function sqlIdentifier(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

// ---- the spool: batches as raw arrays in a temporary file -------------------------------------------

/**
 * Per batch: an Int32 header [rows, ids of field 0, ids of field 1, ...], then per field its offsets (list
 * fields only, from 0), ids and weights (weighted fields), then the dense values, click and buy as bytes
 * (padded to 4 bytes).
 */
class BatchSpool {
  rows = 0;
  private readonly fd: number;
  private written = 0;
  private readonly batchSizes: number[] = [];

  constructor(readonly path: string, readonly schema: EncodedSchema) {
    try {
      this.fd = openSync(path, 'wx+');
    } catch (e) {
      throw new EsmmError(`cannot create ${path}: ${(e as Error).message}`);
    }
  }

  append(b: Batch): void {
    checkBatch(this.schema, b);
    if (b.size === 0) return;
    const header = new Int32Array(1 + b.fields.length);
    header[0] = b.size;
    b.fields.forEach((f, k) => { header[k + 1] = f.offsets[b.size] - f.offsets[0]; });
    const start = this.written;
    this.write(header);
    b.fields.forEach((f, k) => {
      const lo = f.offsets[0], hi = f.offsets[b.size];
      if (this.schema.fields[k].shape !== 'single') this.write(lo === 0 ? f.offsets.subarray(0, b.size + 1) : f.offsets.subarray(0, b.size + 1).map((o) => o - lo));
      this.write(f.ids.subarray(lo, hi));
      if (f.weights) this.write(f.weights.subarray(lo, hi));
    });
    this.write(b.dense.subarray(0, b.size * b.denseWidth));
    const labels = new Uint8Array(align4(2 * b.size));
    for (let i = 0; i < b.size; i++) { labels[i] = b.click[i]; labels[b.size + i] = b.buy[i]; }
    this.write(labels);
    this.batchSizes.push(this.written - start);
    this.rows += b.size;
  }

  finish(): void {
    fsyncSync(this.fd); // not for durability: so that a full disk fails here, not halfway through the copy
  }

  /** The spooled batches again, one at a time (synchronous: for the table function). */
  *read(): Generator<Batch> {
    let at = 0;
    const nf = this.schema.fields.length, w = this.schema.dense.length;
    for (const bytes of this.batchSizes) {
      const buf = new Uint8Array(bytes);
      for (let done = 0; done < bytes;) {
        const n = readSync(this.fd, buf, done, bytes - done, at + done);
        if (n === 0) throw new EsmmError(`${this.path}: spool file shorter than written`);
        done += n;
      }
      at += bytes;
      const header = new Int32Array(buf.buffer, 0, 1 + nf);
      const size = header[0];
      let p = header.byteLength;
      const take = <T extends Int32Array | Float32Array>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T }, n: number): T => {
        const a = new Ctor(buf.buffer, p, n);
        p += 4 * n;
        return a;
      };
      const fields: FieldBatch[] = this.schema.fields.map((s, k) => {
        const count = header[k + 1];
        const offsets = s.shape === 'single' ? null : take(Int32Array, size + 1);
        const ids = take(Int32Array, count);
        const weights = s.shape === 'weighted' ? take(Float32Array, count) : null;
        return { ids, offsets: offsets ?? identity(size), weights };
      });
      const dense = take(Float32Array, size * w);
      const labels = buf.subarray(p, p + 2 * size);
      yield { size, click: Float32Array.from(labels.subarray(0, size)), buy: Float32Array.from(labels.subarray(size)), fields, dense, denseWidth: w };
    }
  }

  remove(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
    rmSync(this.path, { force: true });
  }

  private write(a: Int32Array | Float32Array | Uint8Array): void {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    try {
      for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      throw new EsmmError(`cannot write ${this.path}: ${(e as Error).message}`);
    }
    this.written += bytes.length;
  }
}

const align4 = (n: number) => (n + 3) & ~3;

function identity(size: number): Int32Array {
  const o = new Int32Array(size + 1);
  for (let i = 0; i <= size; i++) o[i] = i;
  return o;
}

/** That a batch has the schema's shape (a mismatch is a bug upstream, not bad data) and 0/1 labels. */
function checkBatch(s: EncodedSchema, b: Batch): void {
  if (b.fields.length !== s.fields.length || b.denseWidth !== s.dense.length) {
    throw new EsmmError(`encoded Parquet: a batch with ${b.fields.length} fields and ${b.denseWidth} dense columns, the schema has ${s.fields.length} and ${s.dense.length}`);
  }
  b.fields.forEach((f, k) => {
    const spec = s.fields[k];
    if ((f.weights !== null) !== (spec.shape === 'weighted')) throw new EsmmError(`encoded Parquet: field "${spec.name}": weights ${f.weights ? 'present' : 'missing'} in a ${spec.shape} field`);
    const limit = spec.tableSize;
    for (let i = 0; i < b.size; i++) {
      const lo = f.offsets[i], hi = f.offsets[i + 1];
      if (spec.shape === 'single' ? hi - lo !== 1 : hi < lo) throw new EsmmError(`encoded Parquet: field "${spec.name}": row ${i} has ${hi - lo} ids`);
      for (let j = lo; j < hi; j++) {
        if (!(f.ids[j] >= 0 && f.ids[j] < limit)) throw new EsmmError(`encoded Parquet: field "${spec.name}": id ${f.ids[j]} outside its table of ${limit} rows`);
      }
    }
  });
  for (let i = 0; i < b.size; i++) {
    const y = b.click[i], z = b.buy[i];
    if ((y !== 0 && y !== 1) || (z !== 0 && z !== 1)) throw new EsmmError(`encoded Parquet: row ${i} of a batch has labels ${y}, ${z} (must be 0 or 1)`);
  }
}

// ---- the table function: spooled batches into DuckDB chunks ------------------------------------------

function logicalType(kind: ColumnKind): duckdb.LogicalType {
  const T = (t: duckdb.Type) => duckdb.create_logical_type(t);
  switch (kind) {
    case 'INTEGER': return T(duckdb.Type.INTEGER);
    case 'INTEGER[]': return duckdb.create_list_type(T(duckdb.Type.INTEGER));
    case 'FLOAT[]': return duckdb.create_list_type(T(duckdb.Type.FLOAT));
    case 'FLOAT': return T(duckdb.Type.FLOAT);
    case 'TINYINT': return T(duckdb.Type.TINYINT);
  }
}

/** Registers a table function `name()` with columns c0, c1, ... that yields the spool's rows in order. */
function registerSource(db: Db, spool: BatchSpool, kinds: ColumnKind[]): { name: string; error: Error | null } {
  const name = `esmm_spool_${randomBytes(6).toString('hex')}`;
  const state = { name, error: null as Error | null };
  const fn = duckdb.create_table_function();
  duckdb.table_function_set_name(fn, name);
  duckdb.table_function_set_bind(fn, (info) => {
    kinds.forEach((k, i) => duckdb.bind_add_result_column(info, `c${i}`, logicalType(k)));
    duckdb.bind_set_cardinality(info, spool.rows, true);
  });
  let batches: Generator<Batch> | null = null;
  let current: Batch | null = null, row = 0;
  const fill = new ChunkFill(spool.schema);
  duckdb.table_function_set_init(fn, (info) => {
    duckdb.init_set_max_threads(info, 1);
    batches = spool.read();
    current = null;
    row = 0;
  });
  duckdb.table_function_set_function(fn, (info, output) => {
    try {
      while (current === null || row === current.size) {
        const next = batches!.next();
        if (next.done) {
          duckdb.data_chunk_set_size(output, 0);
          return;
        }
        current = next.value;
        row = 0;
      }
      const end = Math.min(current.size, row + VECTOR_ROWS);
      fill.fill(output, current, row, end);
      row = end;
    } catch (e) {
      state.error = e as Error;
      duckdb.function_set_error(info, (e as Error).message);
    }
  });
  duckdb.register_table_function(db.raw, fn);
  return state;
}

/** Copies batch rows [start, end) (≤ 2048) into a DuckDB output chunk. */
class ChunkFill {
  private readonly floats = new Float32Array(VECTOR_ROWS);
  private readonly bytes = new Int8Array(VECTOR_ROWS);
  private readonly entries = new Uint32Array(VECTOR_ROWS * 4);

  constructor(private readonly schema: EncodedSchema) {}

  fill(chunk: duckdb.DataChunk, b: Batch, start: number, end: number): void {
    const n = end - start;
    duckdb.data_chunk_set_size(chunk, n);
    let v = 0;
    for (let k = 0; k < b.fields.length; k++) {
      const f = b.fields[k], lo = f.offsets[start], hi = f.offsets[end];
      if (this.schema.fields[k].shape === 'single') {
        copyInto(vectorAt(chunk, v++), f.ids, lo, n);
        continue;
      }
      this.list(vectorAt(chunk, v++), f.offsets, start, end, f.ids, lo, hi - lo);
      if (f.weights) this.list(vectorAt(chunk, v++), f.offsets, start, end, f.weights, lo, hi - lo);
    }
    const w = b.denseWidth;
    for (let d = 0; d < w; d++) {
      const x = this.floats;
      for (let i = 0; i < n; i++) x[i] = b.dense[(start + i) * w + d];
      copyInto(vectorAt(chunk, v++), x, 0, n);
    }
    for (const labels of [b.click, b.buy]) {
      const y = this.bytes;
      for (let i = 0; i < n; i++) y[i] = labels[start + i];
      copyInto(vectorAt(chunk, v++), y, 0, n);
    }
  }

  /** A list vector for rows [start, end): entries relative to `lo`, the child the `count` values from values[lo]. */
  private list(vector: duckdb.Vector, offsets: Int32Array, start: number, end: number, values: Int32Array | Float32Array, lo: number, count: number): void {
    const e = this.entries;
    for (let i = start, k = 0; i < end; i++, k += 4) {
      e[k] = offsets[i] - lo;
      e[k + 1] = 0;
      e[k + 2] = offsets[i + 1] - offsets[i];
      e[k + 3] = 0;
    }
    duckdb.list_vector_reserve(vector, count);
    duckdb.list_vector_set_size(vector, count);
    if (count > 0) copyInto(duckdb.list_vector_get_child(vector), values, lo, count);
    duckdb.copy_data_to_vector(vector, 0, e.buffer, 0, (end - start) * 16);
  }
}

/** Copies `count` elements of `values` from index `from` to the start of `vector`'s data. */
function copyInto(vector: duckdb.Vector, values: Int32Array | Float32Array | Int8Array, from: number, count: number): void {
  const size = values.BYTES_PER_ELEMENT;
  duckdb.copy_data_to_vector(vector, 0, values.buffer as ArrayBuffer, values.byteOffset + from * size, count * size);
}
