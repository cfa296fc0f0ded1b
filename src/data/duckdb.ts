/**
 * DuckDB plumbing shared by the Parquet reader and writer: one in-process database with bounded memory,
 * connections, streaming results fetched one chunk ahead, and column vectors read as typed arrays.
 *
 * The hot paths use @duckdb/node-bindings (the C API as it is) rather than @duckdb/node-api's per-value
 * accessors: `vector_get_data` hands a whole vector over as bytes (a copy of ≤ 2048 values), which costs
 * the same whatever the number of values, while a per-value call costs ~100 ns. node-api is used for
 * small metadata queries, where convenience wins.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import duckdb from '@duckdb/node-bindings';
import { DuckDBConnection, DuckDBResult, type DuckDBType } from '@duckdb/node-api';
import { EsmmError } from '../errors.js';

/** Memory DuckDB may use before it spills to disk (streaming reads need far less). */
const MEMORY_LIMIT = process.env.ESMM_DUCKDB_MEMORY_LIMIT ?? '1GB';
/** DuckDB's worker threads (writing Parquet uses them; a streaming read mostly runs on one). */
const THREADS = process.env.ESMM_DUCKDB_THREADS ?? String(Math.max(1, Math.min(4, availableParallelism())));

let database: Promise<duckdb.Database> | null = null;

function openDatabase(): Promise<duckdb.Database> {
  if (database === null) {
    const config = duckdb.create_config();
    const settings: Record<string, string> = {
      memory_limit: MEMORY_LIMIT,
      threads: THREADS,
      // Spill files of this process only (DuckDB's default is ./.tmp in the working directory).
      temp_directory: join(tmpdir(), `esmm-duckdb-${process.pid}`),
      preserve_insertion_order: 'true',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    for (const [name, value] of Object.entries(settings)) duckdb.set_config(config, name, value);
    database = duckdb.open(':memory:', config);
  }
  return database;
}

/** One connection: raw handles for the hot paths, node-api for metadata queries. */
export class Db {
  private closed = false;
  private readonly api: DuckDBConnection;

  private constructor(readonly raw: duckdb.Connection) {
    this.api = new DuckDBConnection(raw);
  }

  static async connect(): Promise<Db> {
    return new Db(await duckdb.connect(await openDatabase()));
  }

  async run(sql: string): Promise<void> {
    await this.api.run(sql);
  }

  /** All rows of a (small) query as plain JS objects. */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.api.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Names and types of a query's columns, without running it. */
  async describe(sql: string): Promise<{ names: string[]; types: DuckDBType[] }> {
    const prepared = await this.api.prepare(sql);
    try {
      const n = prepared.columnCount;
      return { names: Array.from({ length: n }, (_, i) => prepared.columnName(i)), types: Array.from({ length: n }, (_, i) => prepared.columnType(i)) };
    } finally {
      prepared.destroySync();
    }
  }

  /** A streaming result: rows are produced as chunks are fetched, so memory stays bounded. */
  async stream(sql: string): Promise<ChunkStream> {
    const prepared = await duckdb.prepare(this.raw, sql);
    try {
      return new ChunkStream(await duckdb.execute_prepared_streaming(prepared));
    } finally {
      duckdb.destroy_prepare_sync(prepared);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    duckdb.disconnect_sync(this.raw);
  }
}

/** The chunks of a streaming result. The next chunk is always being fetched (on a libuv thread) while the caller works on the current one. */
export class ChunkStream {
  readonly columnNames: string[];
  readonly columnTypes: DuckDBType[];
  private pending: Promise<duckdb.DataChunk | null> | null = null;

  constructor(private readonly result: duckdb.Result) {
    const r = new DuckDBResult(result);
    this.columnNames = r.columnNames();
    this.columnTypes = r.columnTypes();
  }

  /**
   * Chunks with at least one row, in order. Breaking out of the loop waits for the fetch in flight (a
   * connection must not be closed under a running fetch).
   */
  async *chunks(): AsyncGenerator<duckdb.DataChunk> {
    try {
      this.pending = duckdb.fetch_chunk(this.result);
      for (;;) {
        const chunk = await this.pending;
        this.pending = null;
        if (chunk === null || duckdb.data_chunk_get_size(chunk) === 0) return;
        this.pending = duckdb.fetch_chunk(this.result);
        yield chunk;
      }
    } finally {
      await this.settle();
    }
  }

  /** Waits for a fetch in flight, ignoring its outcome. */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p !== null) await p.catch(() => null);
  }
}

// ---- vectors ----------------------------------------------------------------------------------------

export const vectorAt = (chunk: duckdb.DataChunk, column: number): duckdb.Vector => duckdb.data_chunk_get_vector(chunk, column);
export const chunkSize = (chunk: duckdb.DataChunk): number => duckdb.data_chunk_get_size(chunk);

/** The vector's data as bytes (a copy): `bytes` bytes of it. */
export function vectorBytes(vector: duckdb.Vector, bytes: number): Uint8Array {
  const data = duckdb.vector_get_data(vector, bytes);
  return data.byteOffset % 8 === 0 ? data : data.slice();
}

export function int32s(vector: duckdb.Vector, n: number): Int32Array {
  const d = vectorBytes(vector, n * 4);
  return new Int32Array(d.buffer, d.byteOffset, n);
}

export function float32s(vector: duckdb.Vector, n: number): Float32Array {
  const d = vectorBytes(vector, n * 4);
  return new Float32Array(d.buffer, d.byteOffset, n);
}

/** A list vector's entries: 4 words per row, the low words of (offset, length) at 4i and 4i + 2. */
export function listEntries(vector: duckdb.Vector, n: number): Uint32Array {
  const d = vectorBytes(vector, n * 16);
  return new Uint32Array(d.buffer, d.byteOffset, n * 4);
}

export function listChild(vector: duckdb.Vector): { child: duckdb.Vector; size: number } {
  return { child: duckdb.list_vector_get_child(vector), size: duckdb.list_vector_get_size(vector) };
}

/** The validity bits of the first n rows, or null when all are valid. Row i is valid when bit i%32 of word i>>5 is set. */
export function validity(vector: duckdb.Vector, n: number): Uint32Array | null {
  const bytes = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8);
  if (!bytes) return null;
  const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Uint32Array(copy.buffer, copy.byteOffset, Math.ceil(n / 64) * 2);
}

/** The first invalid (NULL) row in [from, to), or -1. */
export function firstNull(bits: Uint32Array | null, from: number, to: number): number {
  if (bits === null) return -1;
  for (let i = from; i < to; i++) if ((bits[i >>> 5] & (1 << (i & 31))) === 0) return i;
  return -1;
}

/**
 * Reads the bytes of a string_t whose data is not inlined (longer than 12 bytes): `data` holds the
 * vector's string_t array and `at` the byte offset of one. A native call: slow (~1 µs), for rare values.
 */
export function outOfLineBytes(data: Uint8Array, at: number, length: number): Uint8Array {
  return duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + at + 8, length);
}

export { duckdb as bindings };

// ---- files and SQL ----------------------------------------------------------------------------------

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/** `read_parquet(...)` of one file (the path as a literal; globs are expanded before we get here). */
export function parquetScan(path: string): string {
  return `read_parquet(${sqlString(path)}, binary_as_string = true)`;
}

const MAGIC = 0x31524150; // "PAR1" little-endian

/**
 * Checks that `path` can be a Parquet file before DuckDB sees it, so that the common mistakes get a
 * message of their own: missing, a directory, empty, not Parquet, truncated (no footer).
 */
export function checkParquetFile(path: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new EsmmError(`${path}: is a directory, not a Parquet file`);
    size = st.size;
  } catch (e) {
    if (e instanceof EsmmError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new EsmmError(err.code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read: ${err.message}`);
  }
  if (size === 0) throw new EsmmError(`${path}: empty file (0 bytes), not a Parquet file`);
  const head = Buffer.alloc(4), tail = Buffer.alloc(8);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new EsmmError(`${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    readSync(fd, head, 0, 4, 0);
    if (size >= 12) readSync(fd, tail, 0, 8, size - 8);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32LE(0) !== MAGIC) throw new EsmmError(`${path}: not a Parquet file (it does not start with "PAR1")`);
  if (size < 12 || tail.readUInt32LE(4) !== MAGIC) {
    throw new EsmmError(`${path}: truncated or incomplete Parquet file (${size} bytes, no footer: it does not end with "PAR1")`);
  }
  const footer = tail.readUInt32LE(0);
  if (footer === 0 || footer > size - 12) throw new EsmmError(`${path}: corrupt or truncated Parquet file (footer length ${footer} does not fit in ${size} bytes)`);
}

/** A DuckDB error as a one-line EsmmError naming the file (and `where` in it, when given). */
export function duckdbError(path: string, e: unknown, where?: string): EsmmError {
  if (e instanceof EsmmError) return e;
  const first = String((e as Error)?.message ?? e).split('\n')[0].trim().replace(/[\x00-\x1f\x7f]/g, '?');
  return new EsmmError(`${path}: ${where ? `${where}: ` : ''}${first}`);
}
