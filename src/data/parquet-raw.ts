/**
 * A user's Parquet file as a RecordSource: every value as the string a CSV file would hold, so the one
 * encoder serves Parquet too. NULL → '' (missing); booleans → '1' / '0'; integers and doubles in their
 * shortest decimal form; FLOAT, DECIMAL, dates and other types as DuckDB casts them to VARCHAR (FLOAT 0.1 →
 * "0.1"); a LIST → its elements joined by the separator of the list feature reading the column (NULL
 * elements dropped); a LIST of 2-field STRUCTs or a MAP, read by a weighted_id_list feature → `id:weight`
 * pieces. Only the columns the config reads are fetched (Parquet is columnar: the others cost nothing).
 *
 * The file is streamed in DuckDB chunks of ~2048 rows; record.line is the 1-based row number in the file.
 */
import { featureColumn, type Config, type FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import {
  Db, bindings as duckdb, checkParquetFile, chunkSize, duckdbError, firstNull, listChild, listEntries, outOfLineBytes,
  parquetScan, sqlIdent, sqlString, validity, vectorAt, vectorBytes, type ChunkStream,
} from './duckdb.js';
import type { RecordSource, SourceRecord } from './source.js';
import { DuckDBTypeId, type DuckDBListType, type DuckDBStructType, type DuckDBType } from '@duckdb/node-api';

export interface ParquetSourceOptions {
  /** 'config' (default): the columns the config reads (features and labels); 'all': every column. */
  columns?: 'config' | 'all';
}

/** Reads one column of a chunk into `out[row][col]`; `at` is the index of its first vector in the chunk. */
type ColumnRead = (chunk: duckdb.DataChunk, at: number, n: number, out: string[][], col: number) => void;

interface ColumnPlan {
  /** The select expression over the file's columns. */
  sql: string;
  /** VARCHAR results also come with a second vector: the pieces of their long values (see piecesOf). */
  varchar: boolean;
  read: ColumnRead;
}

const native = (sql: string, read: ColumnRead): ColumnPlan => ({ sql, varchar: false, read });
const varchar = (sql: string): ColumnPlan => ({ sql, varchar: true, read: varcharRead });

export async function openParquetSource(path: string, cfg: Config, opts: ParquetSourceOptions = {}): Promise<RecordSource> {
  checkParquetFile(path);
  const db = await Db.connect();
  try {
    return await RawParquetSource.open(db, path, cfg, opts.columns ?? 'config');
  } catch (e) {
    db.close();
    throw duckdbError(path, e);
  }
}

class RawParquetSource implements RecordSource {
  private active = 0;
  private closing = false;

  private constructor(private readonly db: Db, readonly path: string, readonly columns: string[], private readonly sql: string, private readonly plans: ColumnPlan[]) {}

  static async open(db: Db, path: string, cfg: Config, which: 'config' | 'all'): Promise<RawParquetSource> {
    const { names, types } = await db.describe(`SELECT * FROM ${parquetScan(path)}`);
    const present = new Set(names);
    for (const f of cfg.features) {
      const column = featureColumn(f);
      if (!present.has(column)) {
        const shown = names.slice(0, 40).map((h) => JSON.stringify(h)).join(', ') + (names.length > 40 ? ', ...' : '');
        throw new EsmmError(`${path}: feature "${f.name}": column "${column}" is not in the file (columns: ${shown})`);
      }
    }
    const wanted = new Set(which === 'all' ? names : [...cfg.features.map(featureColumn), cfg.input.click, cfg.input.buy]);
    const columns: string[] = [];
    const plans: ColumnPlan[] = [];
    names.forEach((name, i) => {
      if (!wanted.has(name) || columns.includes(name)) return;
      columns.push(name);
      plans.push(planColumn(path, name, types[i], cfg.features.filter((f) => featureColumn(f) === name)));
    });
    // Inner query: one value expression per vector; outer: long strings also split into inlined pieces.
    const inner: string[] = [], outer: string[] = [];
    plans.forEach((plan, k) => {
      inner.push(`${plan.sql} AS v${k}`);
      outer.push(plan.varchar ? `v${k}, ${piecesOf(`v${k}`)}` : `v${k}`);
    });
    const sql = plans.length === 0 ? `SELECT 1 FROM ${parquetScan(path)}` : `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${parquetScan(path)})`;
    return new RawParquetSource(db, path, columns, sql, plans);
  }

  async *chunks(): AsyncGenerator<SourceRecord[]> {
    if (this.closing) return;
    this.active++;
    let row = 0;
    let stream: ChunkStream | null = null;
    try {
      stream = await this.db.stream(this.sql);
      const ncols = this.columns.length;
      for await (const chunk of stream.chunks()) {
        const n = chunkSize(chunk);
        const fields: string[][] = new Array(n);
        for (let i = 0; i < n; i++) fields[i] = new Array(ncols);
        for (let c = 0, at = 0; c < ncols; c++) {
          const plan = this.plans[c];
          plan.read(chunk, at, n, fields, c);
          at += plan.varchar ? 2 : 1;
        }
        const records: SourceRecord[] = new Array(n);
        for (let i = 0; i < n; i++) records[i] = { line: row + i + 1, fields: fields[i], error: null };
        row += n;
        yield records;
        if (this.closing) return;
      }
    } catch (e) {
      if (e instanceof EsmmError) throw e;
      throw duckdbError(this.path, e, `cannot read row ${row + 1} or later${await this.rowGroupNote(row)}`);
    } finally {
      await stream?.settle();
      if (--this.active === 0 && this.closing) this.db.close();
    }
  }

  close(): void {
    this.closing = true;
    if (this.active === 0) this.db.close();
  }

  /** " (row group G)" for the row group that holds 0-based row `row`, when the footer can tell. */
  private async rowGroupNote(row: number): Promise<string> {
    try {
      const groups = await this.db.rows(
        `SELECT row_group_id AS g, max(row_group_num_rows) AS n FROM parquet_metadata(${sqlString(this.path)}) GROUP BY 1 ORDER BY 1`,
      );
      let start = 0;
      for (const { g, n } of groups) {
        start += Number(n);
        if (row < start) return ` (row group ${Number(g)})`;
      }
    } catch { /* the footer itself may be what is broken */ }
    return '';
  }
}

// ---- planning: a select expression and a reader per column -----------------------------------------

const NATIVE_INTS: Partial<Record<DuckDBTypeId, { new (b: ArrayBuffer, o: number, n: number): ArrayLike<number>; BYTES_PER_ELEMENT: number }>> = {
  [DuckDBTypeId.TINYINT]: Int8Array,
  [DuckDBTypeId.SMALLINT]: Int16Array,
  [DuckDBTypeId.INTEGER]: Int32Array,
  [DuckDBTypeId.UTINYINT]: Uint8Array,
  [DuckDBTypeId.USMALLINT]: Uint16Array,
  [DuckDBTypeId.UINTEGER]: Uint32Array,
};

/** The element kinds read natively (no string conversion in DuckDB). */
type Scalar = 'int' | 'bigint' | 'ubigint' | 'double' | 'bool';

function scalarKind(t: DuckDBType): Scalar | null {
  if (NATIVE_INTS[t.typeId]) return 'int';
  switch (t.typeId) {
    case DuckDBTypeId.BIGINT: return 'bigint';
    case DuckDBTypeId.UBIGINT: return 'ubigint';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.BOOLEAN: return 'bool';
    default: return null;
  }
}

function planColumn(path: string, name: string, type: DuckDBType, readers: FeatureConfig[]): ColumnPlan {
  const col = sqlIdent(name);
  const isList = type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.MAP;
  const listReaders = readers.filter((f) => f.type === 'id_list' || f.type === 'weighted_id_list');
  if (isList) {
    const single = readers.find((f) => f.type === 'id' || f.type === 'numeric');
    if (single) {
      throw new EsmmError(`${path}: feature "${single.name}" (type ${single.type}) takes one value, but column "${name}" holds lists (${type.toString()}): give the feature type id_list or weighted_id_list`);
    }
  }
  const sep = agreed(path, name, listReaders.map((f) => f.separator), 'separator') ?? '|';
  const kv = agreed(path, name, listReaders.filter((f) => f.type === 'weighted_id_list').map((f) => f.kv_separator), 'kv_separator') ?? ':';
  const scalar = scalarKind(type);
  if (scalar !== null) return native(col, scalarRead(type, scalar));
  if (type.typeId === DuckDBTypeId.VARCHAR) return varchar(col);
  if (type.typeId === DuckDBTypeId.MAP) return varchar(weightedPieces(`map_entries(${col})`, 'key', 'value', sep, kv));
  if (type.typeId === DuckDBTypeId.LIST) {
    const element = (type as DuckDBListType).valueType;
    const kind = scalarKind(element);
    if (kind !== null) return native(col, listRead(element, kind, sep));
    if (element.typeId === DuckDBTypeId.STRUCT && (element as DuckDBStructType).entryCount === 2) {
      const s = element as DuckDBStructType;
      const w = s.entryNames.findIndex((e) => /^(weight|w|value)$/i.test(e));
      const [idAt, weightAt] = w === 0 ? [2, 1] : [1, 2];
      return varchar(weightedPieces(col, idAt, weightAt, sep, kv));
    }
    if (element.typeId === DuckDBTypeId.LIST || element.typeId === DuckDBTypeId.STRUCT || element.typeId === DuckDBTypeId.MAP) {
      if (readers.length > 0) throw new EsmmError(`${path}: column "${name}" has type ${type.toString()}, which no feature type reads (lists of scalars, of (id, weight) structs, or maps)`);
    }
    return varchar(`array_to_string(${col}, ${sqlString(sep)})`);
  }
  return varchar(`CAST(${col} AS VARCHAR)`);
}

/** The one value of an option that every list feature reading a column must agree on. */
function agreed(path: string, column: string, values: string[], what: string): string | null {
  const distinct = [...new Set(values)];
  if (distinct.length > 1) throw new EsmmError(`${path}: column "${column}" is read by list features with different ${what}s (${distinct.map((s) => JSON.stringify(s)).join(', ')})`);
  return distinct[0] ?? null;
}

/** `id<kv>weight` pieces joined by `sep`, from a list of 2-field structs (fields by name or 1-based position). */
function weightedPieces(list: string, id: string | number, weight: string | number, sep: string, kv: string): string {
  const field = (f: string | number) => (typeof f === 'number' ? `struct_extract_at(e, ${f})` : `e.${f}`);
  const idOf = `CAST(${field(id)} AS VARCHAR)`;
  return `array_to_string(list_transform(list_filter(${list}, e -> ${field(id)} IS NOT NULL), `
    + `e -> CASE WHEN ${field(weight)} IS NULL THEN ${idOf} ELSE concat(${idOf}, ${sqlString(kv)}, ${field(weight)}) END), ${sqlString(sep)})`;
}

/**
 * A string longer than 12 bytes lives out of line, and fetching it costs a native call each (~1 µs); so
 * such values also come as a list of inlined pieces (12 characters, or 3 when the string is not ASCII, so
 * each piece fits in 12 bytes). Short values cost no extra work.
 */
function piecesOf(v: string): string {
  const step = `CASE WHEN strlen(${v}) = length(${v}) THEN 12 ELSE 3 END`;
  return `CASE WHEN strlen(${v}) > 12 THEN list_transform(range(0, length(${v}), ${step}), i -> substr(${v}, i + 1, ${step})) END`;
}

// ---- readers -----------------------------------------------------------------------------------------

function scalarRead(type: DuckDBType, kind: Scalar): ColumnRead {
  const toStrings = scalarStrings(type, kind);
  return (chunk, at, n, out, col) => {
    const vector = vectorAt(chunk, at);
    const values = toStrings(vector, n);
    const bits = validity(vector, n);
    for (let i = 0; i < n; i++) out[i][col] = values[i];
    if (bits !== null) for (let i = firstNull(bits, 0, n); i >= 0 && i < n; i = firstNull(bits, i + 1, n)) out[i][col] = '';
  };
}

/** The values of a vector of n scalars as strings (NULL slots hold garbage; the caller masks them). */
function scalarStrings(type: DuckDBType, kind: Scalar): (vector: duckdb.Vector, n: number) => string[] {
  switch (kind) {
    case 'int': {
      const Ctor = NATIVE_INTS[type.typeId]!;
      return (vector, n) => {
        const d = vectorBytes(vector, n * Ctor.BYTES_PER_ELEMENT);
        const a = new Ctor(d.buffer as ArrayBuffer, d.byteOffset, n);
        const s: string[] = new Array(n);
        for (let i = 0; i < n; i++) s[i] = String(a[i]);
        return s;
      };
    }
    case 'bigint':
    case 'ubigint': {
      const signed = kind === 'bigint';
      return (vector, n) => {
        const d = vectorBytes(vector, n * 8);
        const w = new Uint32Array(d.buffer, d.byteOffset, n * 2);
        const s: string[] = new Array(n);
        for (let i = 0; i < n; i++) s[i] = int64String(w[2 * i], w[2 * i + 1], signed);
        return s;
      };
    }
    case 'double':
      return (vector, n) => {
        const d = vectorBytes(vector, n * 8);
        const a = new Float64Array(d.buffer, d.byteOffset, n);
        const s: string[] = new Array(n);
        for (let i = 0; i < n; i++) s[i] = String(a[i]);
        return s;
      };
    case 'bool':
      return (vector, n) => {
        const d = vectorBytes(vector, n);
        const s: string[] = new Array(n);
        for (let i = 0; i < n; i++) s[i] = d[i] !== 0 ? '1' : '0';
        return s;
      };
  }
}

/** A 64-bit integer from its two 32-bit halves: a plain number when exact, else via BigInt. */
function int64String(lo: number, hi: number, signed: boolean): string {
  if (hi === 0) return String(lo);
  if (signed && hi === 0xffffffff && lo >= 0x80000000) return String(lo - 0x100000000);
  const high = signed ? hi | 0 : hi;
  if (high >= -0x200000 && high < 0x200000) return String(high * 0x100000000 + lo);
  const big = (BigInt(hi) << 32n) | BigInt(lo);
  return (signed ? BigInt.asIntN(64, big) : big).toString();
}

/** A list of native scalars, elements joined by `sep`; NULL elements dropped, a NULL list is ''. */
function listRead(element: DuckDBType, kind: Scalar, sep: string): ColumnRead {
  const toStrings = scalarStrings(element, kind);
  return (chunk, at, n, out, col) => {
    const vector = vectorAt(chunk, at);
    const entries = listEntries(vector, n);
    const bits = validity(vector, n);
    const { child, size } = listChild(vector);
    const values = size > 0 ? toStrings(child, size) : [];
    const childBits = size > 0 ? validity(child, size) : null;
    for (let i = 0; i < n; i++) {
      const start = entries[4 * i], length = entries[4 * i + 2];
      if (length === 0 || (bits !== null && (bits[i >>> 5] & (1 << (i & 31))) === 0)) {
        out[i][col] = '';
        continue;
      }
      let s = '';
      let first = true;
      for (let j = start; j < start + length; j++) {
        if (childBits !== null && (childBits[j >>> 5] & (1 << (j & 31))) === 0) continue;
        s = first ? values[j] : s + sep + values[j];
        first = false;
      }
      out[i][col] = s;
    }
  };
}

/**
 * VARCHAR: the value vector at `at` (DuckDB string_t's: a 4-byte length, then up to 12 inlined bytes) and
 * at `at + 1` the pieces of values over 12 bytes. The whole string_t array is decoded as Latin-1 in one
 * native call, and each ASCII value is a substring of it: no per-value native call, no byte copying.
 */
const varcharRead: ColumnRead = (chunk, at, n, out, col) => {
  const vector = vectorAt(chunk, at);
  const data = vectorBytes(vector, n * 16);
  const words = new Uint32Array(data.buffer, data.byteOffset, n * 4);
  const bits = validity(vector, n);
  const text = latin1(data);
  let pieces: Pieces | null = null;
  for (let i = 0; i < n; i++) {
    if (bits !== null && (bits[i >>> 5] & (1 << (i & 31))) === 0) {
      out[i][col] = '';
      continue;
    }
    const length = words[4 * i];
    if (length > 12) {
      pieces ??= new Pieces(vectorAt(chunk, at + 1), n);
      out[i][col] = pieces.join(i, data, length);
    } else if (isAscii(words, 4 * i, length)) {
      out[i][col] = text.substring(16 * i + 4, 16 * i + 4 + length);
    } else {
      out[i][col] = Buffer.from(data.buffer, data.byteOffset + 16 * i + 4, length).toString('utf8');
    }
  }
};

/** Whether the `length` inlined bytes of the string_t at words[w] are ASCII. */
function isAscii(words: Uint32Array, w: number, length: number): boolean {
  const high = (words[w + 1] & byteMask(length)) | (words[w + 2] & byteMask(length - 4)) | (words[w + 3] & byteMask(length - 8));
  return (high & 0x80808080) === 0;
}

/** A mask of the low `bytes` bytes of a word (bytes ≤ 0: none, ≥ 4: all). */
function byteMask(bytes: number): number {
  return bytes >= 4 ? 0xffffffff : bytes <= 0 ? 0 : (1 << (8 * bytes)) - 1;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The pieces (≤ 12 bytes each, so all inlined) of one chunk's long strings. */
class Pieces {
  private readonly entries: Uint32Array;
  private readonly data: Uint8Array;
  private readonly words: Uint32Array;
  private readonly text: string;

  constructor(vector: duckdb.Vector, n: number) {
    this.entries = listEntries(vector, n);
    const { child, size } = listChild(vector);
    this.data = vectorBytes(child, size * 16);
    this.words = new Uint32Array(this.data.buffer, this.data.byteOffset, size * 4);
    this.text = latin1(this.data);
  }

  /** The string of row i (`length` bytes): its pieces joined, as substrings when ASCII, else decoded as UTF-8. */
  join(i: number, strings: Uint8Array, length: number): string {
    const start = this.entries[4 * i], end = start + this.entries[4 * i + 2];
    const words = this.words;
    let s = '';
    let total = 0;
    for (let p = start; p < end; p++) {
      const len = words[4 * p];
      if (len > 12 || !isAscii(words, 4 * p, len)) return this.joinBytes(start, end, strings, i, length);
      s += this.text.substring(16 * p + 4, 16 * p + 4 + len);
      total += len;
    }
    return total === length ? s : new TextDecoder().decode(outOfLineBytes(strings, 16 * i, length));
  }

  private joinBytes(start: number, end: number, strings: Uint8Array, i: number, length: number): string {
    const buf = scratch(length);
    let at = 0;
    for (let p = start; p < end; p++) {
      const len = this.words[4 * p];
      if (len > 12 || at + len > length) return new TextDecoder().decode(outOfLineBytes(strings, 16 * i, length)); // not expected
      buf.set(this.data.subarray(16 * p + 4, 16 * p + 4 + len), at);
      at += len;
    }
    return buf.toString('utf8', 0, at);
  }
}

let scratchBuffer = Buffer.alloc(1024);
function scratch(n: number): Buffer {
  if (scratchBuffer.length < n) scratchBuffer = Buffer.alloc(Math.max(n, scratchBuffer.length * 2));
  return scratchBuffer;
}
