/**
 * A user's Parquet file as a RecordSource: every value as the string a CSV file would hold, so the one
 * encoder serves Parquet too. NULL → '' (missing); booleans → '1' / '0'; integers and doubles in their
 * shortest decimal form; FLOAT, DECIMAL, dates and other types as DuckDB casts them to VARCHAR (FLOAT 0.1 →
 * "0.1"); a LIST → its elements joined by the separator of the list feature reading the column (NULL
 * elements dropped); a LIST of 2-field STRUCTs or a MAP, read by a weighted_id_list feature → `id:weight`
 * pieces. Only the columns the config reads are fetched (Parquet is columnar: the others cost nothing).
 *
 * The file is streamed in DuckDB chunks of ~2048 rows; record.line is the 1-based row number in the file.
 *
 * Strings are the cost to watch. DuckDB hands a VARCHAR vector over as 16-byte string_t's: a length, then
 * the bytes themselves when they fit in 12, else a pointer that takes a native call (~1 µs) to follow. So
 * short strings are cut out of one Latin-1 decoding of the whole vector (see varcharRead), and columns
 * whose first rows have longer values are also fetched cut into short pieces (see piecesOf).
 */
import { DuckDBTypeId, type DuckDBListType, type DuckDBStructType, type DuckDBType } from '@duckdb/node-api';
import { featureColumn, type Config, type FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import {
  Db, bindings as duckdb, checkParquetFile, chunkSize, duckdbError, firstNull, listChild, listEntries, outOfLineBytes,
  parquetScan, sqlIdent, sqlString, validity, vectorAt, vectorBytes, type ChunkStream,
} from './duckdb.js';
import type { RecordSource, SourceRecord } from './source.js';

export interface ParquetSourceOptions {
  /** 'config' (default): the columns the config reads (features and labels); 'all': every column. */
  columns?: 'config' | 'all';
}

/** Reads one column of a chunk into `out[row][col]`; `at` is the index of its first vector in the chunk. */
type ColumnRead = (chunk: duckdb.DataChunk, at: number, n: number, out: string[][], col: number) => void;

interface ColumnPlan {
  /** The select expression over the file's columns. */
  sql: string;
  /**
   * Null: read natively by `read`. Otherwise a VARCHAR result, whose long values may come cut into pieces
   * at this separator (the list feature's, so the pieces are the list's elements) or, for '', every 12
   * characters.
   */
  split: string | null;
  read: ColumnRead | null;
}

const native = (sql: string, read: ColumnRead): ColumnPlan => ({ sql, split: null, read });
const varchar = (sql: string, split = ''): ColumnPlan => ({ sql, split, read: null });

/** Rows sampled at open to see which VARCHAR columns hold values over 12 bytes. */
const SAMPLE_ROWS = 4096;

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
  readonly unit = 'row';
  private active = 0;
  private closing = false;

  private constructor(
    private readonly db: Db, readonly path: string, readonly columns: string[], private readonly sql: string,
    private readonly reads: ColumnRead[], private readonly vectors: number[],
  ) {}

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
    if (plans.length === 0) return new RawParquetSource(db, path, columns, `SELECT 1 FROM ${parquetScan(path)}`, [], []);
    // Inner query: one value expression per column; outer: the long strings of the VARCHAR columns that
    // have some (judging by the first rows) also cut into inlined pieces.
    const inner = plans.map((plan, k) => `${plan.sql} AS v${k}`).join(', ');
    const long = await longColumns(db, path, inner, plans);
    const outer = plans.map((plan, k) => (long[k] ? `v${k}, ${piecesOf(`v${k}`, plan.split!)}` : `v${k}`)).join(', ');
    const reads = plans.map((plan, k) => plan.read ?? varcharRead(long[k] ? plan.split : null));
    const sql = `SELECT ${outer} FROM (SELECT ${inner} FROM ${parquetScan(path)})`;
    return new RawParquetSource(db, path, columns, sql, reads, long.map((l) => (l ? 2 : 1)));
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
          this.reads[c](chunk, at, n, fields, c);
          at += this.vectors[c];
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

/** The element kinds read natively (no conversion in DuckDB). */
type Scalar = 'int' | 'bigint' | 'ubigint' | 'double' | 'bool' | 'varchar';

function scalarKind(t: DuckDBType): Scalar | null {
  if (NATIVE_INTS[t.typeId]) return 'int';
  switch (t.typeId) {
    case DuckDBTypeId.BIGINT: return 'bigint';
    case DuckDBTypeId.UBIGINT: return 'ubigint';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.BOOLEAN: return 'bool';
    case DuckDBTypeId.VARCHAR: return 'varchar';
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
  const listSep = agreed(path, name, listReaders.map((f) => f.separator), 'separator');
  const sep = listSep ?? '|';
  const kv = agreed(path, name, listReaders.filter((f) => f.type === 'weighted_id_list').map((f) => f.kv_separator), 'kv_separator') ?? ':';
  if (type.typeId === DuckDBTypeId.VARCHAR) return varchar(col, listSep ?? '');
  const scalar = scalarKind(type);
  if (scalar !== null) return native(col, scalarRead(type, scalar));
  if (type.typeId === DuckDBTypeId.MAP) return varchar(weightedPieces(`map_entries(${col})`, 'key', 'value', sep, kv), sep);
  if (type.typeId === DuckDBTypeId.LIST) {
    const element = (type as DuckDBListType).valueType;
    const kind = scalarKind(element);
    if (kind !== null) return native(col, listRead(element, kind, sep));
    if (element.typeId === DuckDBTypeId.STRUCT && (element as DuckDBStructType).entryCount === 2) {
      const s = element as DuckDBStructType;
      const w = s.entryNames.findIndex((e) => /^(weight|w|value)$/i.test(e));
      const [idAt, weightAt] = w === 0 ? [2, 1] : [1, 2];
      return varchar(weightedPieces(col, idAt, weightAt, sep, kv), sep);
    }
    if (element.typeId === DuckDBTypeId.LIST || element.typeId === DuckDBTypeId.STRUCT || element.typeId === DuckDBTypeId.MAP) {
      if (readers.length > 0) throw new EsmmError(`${path}: column "${name}" has type ${type.toString()}, which no feature type reads (lists of scalars, of (id, weight) structs, or maps)`);
    }
    return varchar(`array_to_string(${col}, ${sqlString(sep)})`, sep);
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
 * The pieces of a value over 12 bytes, as a list (NULL for shorter values, which cost nothing more):
 * split at `sep`, so the pieces are the list's elements and usually short, or with no separator every 12
 * characters (3 when the string is not ASCII), so each piece fits in 12 bytes. string_split costs DuckDB
 * about a third of the character cutting.
 */
function piecesOf(v: string, sep: string): string {
  if (sep !== '') return `CASE WHEN strlen(${v}) > 12 THEN string_split(${v}, ${sqlString(sep)}) END`;
  const step = `CASE WHEN strlen(${v}) = length(${v}) THEN 12 ELSE 3 END`;
  return `CASE WHEN strlen(${v}) > 12 THEN list_transform(range(0, length(${v}), ${step}), i -> substr(${v}, i + 1, ${step})) END`;
}

/** For each plan, whether it is a VARCHAR column with a value over 12 bytes in the first SAMPLE_ROWS rows. */
async function longColumns(db: Db, path: string, inner: string, plans: ColumnPlan[]): Promise<boolean[]> {
  const probes = plans.flatMap((plan, k) => (plan.split !== null ? [`max(strlen(v${k})) > 12 AS l${k}`] : []));
  if (probes.length === 0) return plans.map(() => false);
  const [row] = await db.rows(`SELECT ${probes.join(', ')} FROM (SELECT ${inner} FROM ${parquetScan(path)} LIMIT ${SAMPLE_ROWS})`);
  return plans.map((_, k) => row?.[`l${k}`] === true);
}

// ---- readers -----------------------------------------------------------------------------------------

function scalarRead(type: DuckDBType, kind: Scalar): ColumnRead {
  const toStrings = scalarStrings(type, kind);
  return (chunk, at, n, out, col) => {
    const vector = vectorAt(chunk, at);
    const values = toStrings(vector, n);
    const bits = validity(vector, n);
    for (let i = 0; i < n; i++) out[i][col] = values[i];
    if (bits !== null) for (let i = firstNull(bits, 0, n); i >= 0; i = firstNull(bits, i + 1, n)) out[i][col] = '';
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
    case 'varchar':
      return (vector, n) => {
        const strings = new StringVector(vectorBytes(vector, n * 16), n);
        const s: string[] = new Array(n);
        for (let i = 0; i < n; i++) s[i] = strings.get(i);
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

/** A list of native scalars (or strings), elements joined by `sep`; NULL elements dropped, a NULL list is ''. */
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
 * A VARCHAR column: the value vector at `at`, and when `split` is not null the pieces of its long values
 * at `at + 1` (see piecesOf), joined back with `split`.
 */
function varcharRead(split: string | null): ColumnRead {
  return (chunk, at, n, out, col) => {
    const vector = vectorAt(chunk, at);
    const strings = new StringVector(vectorBytes(vector, n * 16), n);
    const bits = validity(vector, n);
    let pieces: Pieces | null = null;
    for (let i = 0; i < n; i++) {
      if (bits !== null && (bits[i >>> 5] & (1 << (i & 31))) === 0) out[i][col] = '';
      else if (split === null || strings.length(i) <= 12) out[i][col] = strings.get(i);
      else out[i][col] = (pieces ??= new Pieces(vectorAt(chunk, at + 1), n, split)).join(i, strings);
    }
  };
}

/**
 * The strings of a string_t vector (a copy of its 16-byte slots). The whole array is decoded as Latin-1
 * in one native call, and each inlined ASCII value is a substring of that: no per-value native call.
 */
class StringVector {
  private readonly words: Uint32Array;
  private text: string | null = null;

  constructor(readonly data: Uint8Array, n: number) {
    this.words = new Uint32Array(data.buffer, data.byteOffset, n * 4);
  }

  length(i: number): number {
    return this.words[4 * i];
  }

  get(i: number): string {
    const length = this.words[4 * i];
    if (length > 12) return Buffer.from(outOfLineBytes(this.data, 16 * i, length)).toString('utf8');
    if (!this.isAscii(i, length)) return Buffer.from(this.data.buffer, this.data.byteOffset + 16 * i + 4, length).toString('utf8');
    this.text ??= Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength).toString('latin1');
    return this.text.substring(16 * i + 4, 16 * i + 4 + length);
  }

  /** Whether the `length` inlined bytes of slot i are ASCII (masking what follows them). */
  private isAscii(i: number, length: number): boolean {
    const w = this.words, k = 4 * i;
    const high = (w[k + 1] & byteMask(length)) | (w[k + 2] & byteMask(length - 4)) | (w[k + 3] & byteMask(length - 8));
    return (high & 0x80808080) === 0;
  }
}

/** A mask of the low `bytes` bytes of a word (bytes ≤ 0: none, ≥ 4: all). */
function byteMask(bytes: number): number {
  return bytes >= 4 ? 0xffffffff : bytes <= 0 ? 0 : (1 << (8 * bytes)) - 1;
}

/** The pieces of one chunk's long values (a list vector of strings), joined back with `sep`. */
class Pieces {
  private readonly entries: Uint32Array;
  private readonly strings: StringVector;
  private readonly sepBytes: number;

  constructor(vector: duckdb.Vector, n: number, private readonly sep: string) {
    this.sepBytes = Buffer.byteLength(sep);
    this.entries = listEntries(vector, n);
    const { child, size } = listChild(vector);
    this.strings = new StringVector(vectorBytes(child, size * 16), size);
  }

  /** Row i's value; `values` is the value vector, read directly if the pieces do not add up to it. */
  join(i: number, values: StringVector): string {
    const start = this.entries[4 * i], end = start + this.entries[4 * i + 2];
    let s = '', bytes = 0;
    for (let p = start; p < end; p++) {
      s = p === start ? this.strings.get(p) : s + this.sep + this.strings.get(p);
      bytes += this.strings.length(p);
    }
    const expected = values.length(i) - (end - start - 1) * this.sepBytes;
    return bytes === expected ? s : values.get(i);
  }
}
