/**
 * The join of a raw Ali-CCP skeleton file with its common-features file, in bounded memory and in
 * skeleton order.
 *
 * The common file is large (8–10 GB) but has few rows (~1M); the skeleton has ~40M small rows. So the
 * join indexes the common file by position instead of copying it, and reads each common row back when a
 * skeleton row needs it:
 *
 *   1. index   one pass over the common file writes, per row, the 96-bit hash of its key with its byte
 *              offset, length and line (28 bytes) to a scratch file; the row count n is then known.
 *   2. plan    when n entries fit the budget (a KeyTable, ≤ 80 bytes each, in half the budget), the
 *              table is built in memory and step 3 is skipped. Otherwise K partitions by key hash:
 *   3. resolve the index and the skeleton's keys (in skeleton order) are split into K scratch files; per
 *              partition, its index part is loaded into a table and its skeleton keys are looked up, giving
 *              a file of positions in that partition's skeleton order. A classic partitioned hash join, but
 *              over 12–28-byte records rather than rows.
 *   4. emit    a second pass over the skeleton: each row's key picks its partition, whose position file
 *              is read sequentially (same order), the common row is read back at that position (and its
 *              key checked), parsed once into shaped values and kept in an LRU cache (a quarter of the
 *              budget), and merged with the row's own features.
 *
 * Output is in skeleton order whatever the budget, so predictions line up with the input and training is
 * identical for any budget. Skeleton rows that share a common row are contiguous in practice, so nearly
 * every lookup hits the cache and the common file is read about twice (index + read-back). A skeleton in
 * random common-row order still works, at the cost of one read and parse of a common row per cache miss.
 *
 * Scratch files live in a directory of their own (createTempDir), removed on completion, error, early
 * close, exit and signals.
 */
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, EsmmError } from '../errors.js';
import { RecordReader, RecordWriter } from '../io/record-file.js';
import { createTempDir, type TempDir } from '../io/temp-dir.js';
import { clip, FIRST_FIELD, FieldCollector, type AliCcpLayout } from './ali-ccp-columns.js';
import { addFeatureList, badByteReason, COMMON_FIELDS, SKELETON_FIELDS, skeletonKey } from './ali-ccp-raw.js';
import { hashKey, KEY_HASH, KeyTable, MAX_BYTES_PER_ENTRY } from './key-table.js';
import { forEachLine, lineBlocks, type LineBlockOptions } from './line-blocks.js';
import type { SourceRecord } from './source.js';

export interface JoinOptions {
  /** Memory budget of the join in bytes (index tables, common-row cache, scratch buffers). */
  memoryBytes: number;
  /** Parent directory of the scratch directory. */
  tmpDir: string;
  /** Bytes per read of the input files. */
  blockBytes?: number;
  maxLineBytes?: number;
}

/** What the join did, for benchmarks and diagnostics. */
export interface JoinStats {
  commonRows: number;
  /** Common rows whose key an earlier row already had: the first one wins. */
  duplicateCommonKeys: number;
  /** 1 when the index fit the budget in one table. */
  partitions: number;
  /** Common rows read back and parsed (cache misses). */
  commonReads: number;
  /** Field ids found in the data that no column names (ignored). */
  unknownFields: Set<string>;
}

const INDEX_RECORD = 28; // h0 h1 h2 u32, offset f64, length u32, line u32
const KEY_RECORD = 12; // h0 h1 h2
const POSITION_RECORD = 20; // h1 u32 (a check), offset f64 (-1: no such key), length u32, line u32
const MAX_PARTITIONS = 1024;
const ENTRY_MARGIN = 1.25; // partitions are not all equal: room for the fuller ones
const COMMON_BLOCK_BYTES = 1 << 20;
// Records of one chunk then die young (with 256 KB reads the scavenger copied them and cost a third more).
const SKELETON_BLOCK_BYTES = 1 << 16;

/** A parsed common row: its field values (shaped), or why it is unusable. */
interface CommonRow {
  values: string[] | null;
  error: string | null;
  bytes: number;
}

/**
 * Finds the common row of a key: a handle for Plan's accessors (a table entry, or the partition whose
 * position file holds the answer), or -1 when there is none. Called exactly once per skeleton row that
 * has a key, in skeleton order (the partitioned plan reads its answers in that order).
 */
type Lookup = (key: string) => number;

export function newJoinStats(): JoinStats {
  return { commonRows: 0, duplicateCommonKeys: 0, partitions: 0, commonReads: 0, unknownFields: new Set() };
}

/**
 * The joined records of `skeletonPath` in chunks (one per disk read of the skeleton). `isClosed` is
 * polled between phases so that an early close stops the preparation.
 */
export async function* joinedRecords(
  skeletonPath: string,
  commonPath: string,
  layout: AliCcpLayout,
  opts: JoinOptions,
  stats: JoinStats,
  isClosed: () => boolean,
): AsyncGenerator<SourceRecord[]> {
  opts = { ...opts, blockBytes: opts.blockBytes ?? SKELETON_BLOCK_BYTES };
  const tmp = createTempDir(opts.tmpDir, 'esmm-ali-ccp-');
  const cleanups: (() => void)[] = [];
  try {
    const indexPath = join(tmp.path, 'common.idx');
    stats.commonRows = await indexCommon(commonPath, indexPath, opts);
    if (isClosed()) return;
    const plan = await planLookup(skeletonPath, indexPath, tmp, opts, stats, cleanups);
    if (isClosed()) return;
    yield* emit(skeletonPath, commonPath, layout, opts, stats, plan, isClosed);
  } finally {
    for (const c of cleanups) {
      try {
        c();
      } catch {
        // closing scratch files: nothing more to do
      }
    }
    tmp.remove();
  }
}

// ---- 1. index ---------------------------------------------------------------------------------------

async function indexCommon(commonPath: string, indexPath: string, opts: JoinOptions): Promise<number> {
  const out = new RecordWriter(indexPath, INDEX_RECORD, 1 << 20);
  try {
    for await (const block of lineBlocks(commonPath, { blockBytes: COMMON_BLOCK_BYTES, maxLineBytes: opts.maxLineBytes })) {
      if (block.overlong) continue; // cannot be read back whole: rows pointing at it report a missing common row
      const buf = block.buf;
      forEachLine(block, (start, end, line) => {
        const comma = buf.indexOf(44, start);
        if (comma === -1 || comma >= end || comma === start) return; // no key: nothing can point at it
        hashKey(buf.toString('latin1', start, comma));
        const b = out.buf, at = out.at;
        b.writeUInt32LE(KEY_HASH[0], at);
        b.writeUInt32LE(KEY_HASH[1], at + 4);
        b.writeUInt32LE(KEY_HASH[2], at + 8);
        b.writeDoubleLE(block.offset + start, at + 12);
        b.writeUInt32LE(end - start, at + 20);
        b.writeUInt32LE(line, at + 24);
        out.commit();
      });
    }
  } finally {
    out.close();
  }
  return out.count;
}

// ---- 2. plan and 3. resolve -------------------------------------------------------------------------

interface Plan {
  lookup: Lookup;
  /** Position of the entry `lookup` returned: offset, length, line. */
  offset: (e: number) => number;
  length: (e: number) => number;
  line: (e: number) => number;
}

async function planLookup(
  skeletonPath: string,
  indexPath: string,
  tmp: TempDir,
  opts: JoinOptions,
  stats: JoinStats,
  cleanups: (() => void)[],
): Promise<Plan> {
  const n = stats.commonRows;
  const tableBudget = opts.memoryBytes / 2;
  const k = Math.max(1, Math.ceil((n * MAX_BYTES_PER_ENTRY * ENTRY_MARGIN) / tableBudget));
  if (k > MAX_PARTITIONS) {
    const needMb = Math.ceil((n * MAX_BYTES_PER_ENTRY * ENTRY_MARGIN * 2) / MAX_PARTITIONS / (1 << 20));
    throw new EsmmError(`${skeletonPath}: a join memory budget of ${fmtMb(opts.memoryBytes)} is too small for ${n} common rows (give at least ${needMb} MB)`);
  }
  stats.partitions = k;
  if (k === 1) {
    const table = loadTable(indexPath, n, stats, 1 << 20);
    rmSync(indexPath, { force: true });
    return {
      lookup: (key) => {
        hashKey(key);
        return table.find(KEY_HASH[0], KEY_HASH[1], KEY_HASH[2]);
      },
      offset: (e) => table.offsets[e],
      length: (e) => table.lengths[e],
      line: (e) => table.lines[e],
    };
  }
  const bufBytes = Math.min(1 << 20, Math.max(4096, Math.floor(opts.memoryBytes / 8 / k)));
  const part = (name: string, p: number) => join(tmp.path, `${name}-${p}`);
  const counts = splitIndex(indexPath, k, bufBytes, part);
  rmSync(indexPath, { force: true });
  await splitSkeletonKeys(skeletonPath, k, bufBytes, part, opts);
  for (let p = 0; p < k; p++) {
    resolvePartition(part('index', p), counts[p], part('keys', p), part('positions', p), bufBytes, stats);
    rmSync(part('index', p), { force: true });
    rmSync(part('keys', p), { force: true });
  }
  const readers: RecordReader[] = [];
  cleanups.push(() => readers.forEach((r) => r.close()));
  for (let p = 0; p < k; p++) readers.push(new RecordReader(part('positions', p), POSITION_RECORD, bufBytes));
  // The current record of each reader is the answer: `lookup` returns its partition, the accessors read it.
  return {
    lookup: (key) => {
      hashKey(key);
      const p = KEY_HASH[0] % k;
      const r = readers[p];
      if (!r.next() || r.buf.readUInt32LE(r.at) !== KEY_HASH[1]) {
        throw new EsmmError(`${skeletonPath}: the file changed while it was being read (join out of step)`);
      }
      return r.buf.readDoubleLE(r.at + 4) < 0 ? -1 : p;
    },
    offset: (p) => readers[p].buf.readDoubleLE(readers[p].at + 4),
    length: (p) => readers[p].buf.readUInt32LE(readers[p].at + 12),
    line: (p) => readers[p].buf.readUInt32LE(readers[p].at + 16),
  };
}

function loadTable(indexPath: string, n: number, stats: JoinStats, bufBytes: number): KeyTable {
  const table = new KeyTable(n);
  const r = new RecordReader(indexPath, INDEX_RECORD, bufBytes);
  try {
    while (r.next()) {
      const b = r.buf, at = r.at;
      const fresh = table.insert(b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readUInt32LE(at + 8), b.readDoubleLE(at + 12), b.readUInt32LE(at + 20), b.readUInt32LE(at + 24));
      if (!fresh) stats.duplicateCommonKeys++;
    }
  } finally {
    r.close();
  }
  return table;
}

function splitIndex(indexPath: string, k: number, bufBytes: number, part: (name: string, p: number) => string): number[] {
  const writers: RecordWriter[] = [];
  const r = new RecordReader(indexPath, INDEX_RECORD, 1 << 20);
  try {
    for (let p = 0; p < k; p++) writers.push(new RecordWriter(part('index', p), INDEX_RECORD, bufBytes));
    while (r.next()) {
      const w = writers[r.buf.readUInt32LE(r.at) % k];
      r.buf.copy(w.buf, w.at, r.at, r.at + INDEX_RECORD);
      w.commit();
    }
  } finally {
    r.close();
    for (const w of writers) w.close();
  }
  return writers.map((w) => w.count);
}

/** The keys of the skeleton rows, in order, split by partition. Lines are chosen exactly as in emit(). */
async function splitSkeletonKeys(skeletonPath: string, k: number, bufBytes: number, part: (name: string, p: number) => string, opts: JoinOptions): Promise<void> {
  const writers: RecordWriter[] = [];
  try {
    for (let p = 0; p < k; p++) writers.push(new RecordWriter(part('keys', p), KEY_RECORD, bufBytes));
    for await (const block of lineBlocks(skeletonPath, opts)) {
      if (block.overlong) continue;
      const buf = block.buf;
      forEachLine(block, (start, end) => {
        if (start === end) return;
        const key = skeletonKey(buf.toString('latin1', start, end));
        if (key === null) return;
        hashKey(key);
        const w = writers[KEY_HASH[0] % k];
        w.buf.writeUInt32LE(KEY_HASH[0], w.at);
        w.buf.writeUInt32LE(KEY_HASH[1], w.at + 4);
        w.buf.writeUInt32LE(KEY_HASH[2], w.at + 8);
        w.commit();
      });
    }
  } finally {
    for (const w of writers) w.close();
  }
}

function resolvePartition(indexPath: string, n: number, keysPath: string, positionsPath: string, bufBytes: number, stats: JoinStats): void {
  const table = loadTable(indexPath, n, stats, bufBytes);
  const keys = new RecordReader(keysPath, KEY_RECORD, bufBytes);
  const out = new RecordWriter(positionsPath, POSITION_RECORD, bufBytes);
  try {
    while (keys.next()) {
      const b = keys.buf, at = keys.at;
      const h1 = b.readUInt32LE(at + 4);
      const e = table.find(b.readUInt32LE(at), h1, b.readUInt32LE(at + 8));
      out.buf.writeUInt32LE(h1, out.at);
      out.buf.writeDoubleLE(e < 0 ? -1 : table.offsets[e], out.at + 4);
      out.buf.writeUInt32LE(e < 0 ? 0 : table.lengths[e], out.at + 12);
      out.buf.writeUInt32LE(e < 0 ? 0 : table.lines[e], out.at + 16);
      out.commit();
    }
  } finally {
    keys.close();
    out.close();
  }
}

// ---- 4. emit ----------------------------------------------------------------------------------------

async function* emit(
  skeletonPath: string,
  commonPath: string,
  layout: AliCcpLayout,
  opts: JoinOptions,
  stats: JoinStats,
  plan: Plan,
  isClosed: () => boolean,
): AsyncGenerator<SourceRecord[]> {
  const own = new FieldCollector(layout);
  const common = new CommonRows(commonPath, layout, opts.memoryBytes / 4, stats);
  const ownValues = new Array<string>(own.fieldCount);
  const bad = (line: number, column: string | null, reason: string): SourceRecord => ({
    line,
    fields: null,
    error: new DataError(skeletonPath, line, column, reason),
  });
  try {
    for await (const block of lineBlocks(skeletonPath, opts)) {
      if (isClosed()) return;
      const out: SourceRecord[] = [];
      if (block.overlong) {
        out.push(bad(block.line, null, 'line too long'));
      } else {
        const buf = block.buf;
        forEachLine(block, (start, end, line) => {
          if (start === end) return;
          const text = buf.toString('latin1', start, end);
          const key = skeletonKey(text);
          const entry = key === null ? -1 : plan.lookup(key); // always, to stay in step with the position files
          const byteProblem = badByteReason(text);
          if (byteProblem !== null) return void out.push(bad(line, null, byteProblem));
          const parts = text.split(',');
          if (parts.length !== SKELETON_FIELDS) {
            return void out.push(bad(line, null, `expected ${SKELETON_FIELDS} comma-separated values (sample_id,click,buy,common_feature_index,feature_num,feature_list), found ${parts.length}`));
          }
          if (key === null) return void out.push(bad(line, 'common_feature_index', 'empty'));
          const problem = addFeatureList(parts[5], parts[4], own);
          if (problem !== null) return void out.push(bad(line, 'feature_list', problem));
          own.take(ownValues, 0);
          if (entry < 0) return void out.push(bad(line, 'common_feature_index', `no row ${JSON.stringify(clip(key))} in ${commonPath}`));
          const row = common.get(plan.offset(entry), plan.length(entry), plan.line(entry), key);
          if (row.values === null) return void out.push(bad(line, 'common_feature_index', `${commonPath}:${plan.line(entry)}: ${row.error}`));
          const fields = new Array<string>(FIRST_FIELD + ownValues.length);
          fields[0] = parts[1];
          fields[1] = parts[2];
          fields[2] = parts[0];
          own.merge(ownValues, row.values, fields, FIRST_FIELD);
          out.push({ line, fields, error: null });
        });
      }
      if (out.length > 0) yield out;
    }
  } finally {
    common.close();
    for (const f of own.unknownFields) stats.unknownFields.add(f);
  }
}

/** Common rows read back by position, parsed once, kept in an LRU cache of about `cacheBytes`. */
class CommonRows {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 16);
  private readonly cache = new Map<number, CommonRow>();
  private cachedBytes = 0;
  private lastOffset = -1;
  private last: CommonRow | null = null;
  private readonly collector: FieldCollector;

  constructor(private readonly path: string, layout: AliCcpLayout, private readonly cacheBytes: number, private readonly stats: JoinStats) {
    this.collector = new FieldCollector(layout);
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new EsmmError(`${path}: cannot open: ${(e as Error).message}`);
    }
  }

  get(offset: number, length: number, line: number, key: string): CommonRow {
    if (offset === this.lastOffset) return this.last!;
    let row = this.cache.get(offset);
    if (row !== undefined) {
      this.cache.delete(offset); // re-insert: most recently used last
      this.cache.set(offset, row);
    } else {
      row = this.read(offset, length, line, key);
      this.cache.set(offset, row);
      this.cachedBytes += row.bytes;
      for (const [k, old] of this.cache) {
        if (this.cachedBytes <= this.cacheBytes || this.cache.size <= 1) break;
        this.cache.delete(k);
        this.cachedBytes -= old.bytes;
      }
    }
    this.lastOffset = offset;
    this.last = row;
    return row;
  }

  close(): void {
    closeSync(this.fd);
    for (const f of this.collector.unknownFields) this.stats.unknownFields.add(f);
  }

  private read(offset: number, length: number, line: number, key: string): CommonRow {
    this.stats.commonReads++;
    if (this.buf.length < length) this.buf = Buffer.allocUnsafe(length);
    let n = 0;
    while (n < length) {
      const got = readSync(this.fd, this.buf, n, length - n, offset + n);
      if (got === 0) break;
      n += got;
    }
    const text = this.buf.toString('latin1', 0, n);
    if (n < length || !text.startsWith(`${key},`)) {
      throw new EsmmError(`${this.path}: the file changed while it was being read (line ${line} is not where it was indexed)`);
    }
    const failed = (error: string): CommonRow => ({ values: null, error, bytes: 64 + error.length });
    const byteProblem = badByteReason(text);
    if (byteProblem !== null) return failed(byteProblem);
    const parts = text.split(',');
    if (parts.length !== COMMON_FIELDS) {
      return failed(`expected ${COMMON_FIELDS} comma-separated values (common_feature_index,feature_num,feature_list), found ${parts.length}`);
    }
    const problem = addFeatureList(parts[2], parts[1], this.collector);
    if (problem !== null) return failed(`feature_list: ${problem}`);
    const values = new Array<string>(this.collector.fieldCount);
    this.collector.take(values, 0);
    let bytes = 64 + 8 * values.length;
    for (const v of values) bytes += v.length + (v.length > 0 ? 16 : 0);
    return { values, error: null, bytes };
  }
}

function fmtMb(bytes: number): string {
  return bytes >= 1 << 20 ? `${Math.round(bytes / (1 << 20))} MB` : `${bytes} bytes`;
}
