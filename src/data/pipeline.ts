/**
 * Reading data for training, evaluation and prediction: files of any format → encoded chunks (Batches of
 * a few thousand rows, in file order) → either one in-memory data set (cache) or shuffled training
 * batches drawn from a bounded shuffle buffer. Memory is bounded by the chunk and buffer sizes, never by
 * the data size, unless the data set is cached on purpose.
 */
import { featureColumn, type Config } from '../config.js';
import { EsmmError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { gatherBatch, gatherParts, type Batch } from './batch.js';
import type { Encoder } from './encoder.js';
import { expandPaths } from './paths.js';
import { emptyCounts, scanFile, type BadRowPolicy, type RowCounts } from './rows.js';
import { openEncoded, type EncodedSource } from './source.js';

export interface FeatureReadStats {
  name: string;
  /** Non-empty values with no row of their own (not in the vocabulary), mapped to row 0. */
  oov: number;
  /** Missing values of single-valued features (row 0, or the numeric default). */
  missing: number;
}

export interface ReadStats extends RowCounts {
  features: FeatureReadStats[];
}

export interface ReadOptions {
  /** Defaults to the config's train.on_bad_row. */
  onBadRow?: BadRowPolicy;
  /** Stop after this many used rows. */
  maxRows?: number;
  /** See ScanOptions.labels: 'ignore' reads rows for scoring (labels 0, every row kept in order). */
  labels?: 'required' | 'ignore';
  /** Rows per chunk: a chunk ends at the first disk read that reaches this many (default 8192). */
  chunkRows?: number;
}

export interface ChunkStream {
  chunks: AsyncGenerator<Batch>;
  /** Filled as the chunks are read; complete when the generator is done. */
  stats: ReadStats;
}

const DEFAULT_CHUNK_ROWS = 8192;

/** Encoded chunks of `paths` (globs expanded, in order), any format, with the read statistics. */
export function readEncodedChunks(paths: string[], cfg: Config, enc: Encoder, opts: ReadOptions = {}): ChunkStream {
  const names = enc.featureNames();
  if (names.length !== cfg.features.length || names.some((n, i) => n !== cfg.features[i].name)) {
    throw new EsmmError(`encoder features (${names.join(', ')}) do not match the config's (${cfg.features.map((f) => f.name).join(', ')})`);
  }
  const files = expandPaths(paths);
  const counters = enc.newCounters();
  const stats: ReadStats = { ...emptyCounts(files), features: [] };
  const finishStats = () => {
    stats.features = names.map((name, f) => ({ name, oov: counters.oov[f], missing: counters.missing[f] }));
  };
  const scan = { onBadRow: opts.onBadRow ?? cfg.train.on_bad_row, maxRows: opts.maxRows, labels: opts.labels };
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const maxRows = opts.maxRows ?? Infinity;
  const columns = cfg.features.map(featureColumn);

  async function* generate(): AsyncGenerator<Batch> {
    // finally: the per-feature counts are complete also when the reader stops early (max_steps, maxRows)
    try {
      for (const path of files) {
        if (stats.rowsUsed >= maxRows) break;
        const encoded = await openEncoded(path, cfg.input);
        if (encoded) {
          yield* encodedChunks(encoded, enc, stats, maxRows, opts.labels === 'ignore');
          continue;
        }
        let builder = enc.newBatchBuilder(chunkRows);
        for await (const _ of scanFile(path, cfg, scan, stats, (_p, featureColumns) => (fields, click, buy) => {
          const bad = enc.encodeRow(builder, fields, featureColumns, counters);
          if (bad >= 0) {
            builder.discardRow();
            return { column: columns[bad], reason: enc.lastError };
          }
          builder.endRow(click, buy);
          return null;
        })) {
          if (builder.size >= chunkRows) {
            yield builder.finish();
            builder = enc.newBatchBuilder(chunkRows);
          }
        }
        if (builder.size > 0) yield builder.finish();
      }
    } finally {
      finishStats();
    }
  }
  finishStats();
  return { chunks: generate(), stats };
}

/** The batches of a file written by `esmm data convert`, checked against the encoder in use. */
async function* encodedChunks(src: EncodedSource, enc: Encoder, stats: ReadStats, maxRows: number, ignoreLabels: boolean): AsyncGenerator<Batch> {
  try {
    if (!enc.sameAs(src.encoder)) {
      throw new EsmmError(`${src.path}: encoded with a different encoder than this model's (convert all splits with one \`esmm data convert\`, and train from its files)`);
    }
    for await (const chunk of src.chunks()) {
      let b = chunk;
      if (stats.rowsUsed + b.size > maxRows) b = gatherBatch(b, Int32Array.from({ length: maxRows - stats.rowsUsed }, (_, i) => i));
      if (ignoreLabels) b = { ...b, click: new Float32Array(b.size), buy: new Float32Array(b.size) };
      stats.rowsRead += b.size;
      stats.rowsUsed += b.size;
      for (let i = 0; i < b.size; i++) { stats.clicks += b.click[i]; stats.buys += b.buy[i]; }
      yield b;
      if (stats.rowsUsed >= maxRows) return;
    }
  } finally {
    src.close();
  }
}

/** Everything in one Batch (the cache, and small evaluation sets). */
export async function readAll(stream: ChunkStream, enc: Encoder): Promise<{ data: Batch; stats: ReadStats }> {
  const parts: Batch[] = [];
  for await (const chunk of stream.chunks) parts.push(chunk);
  return { data: concatBatches(parts, enc), stats: stream.stats };
}

/** Rows of several batches, in order, as one batch. */
export function concatBatches(parts: Batch[], enc: Encoder): Batch {
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return enc.newBatchBuilder(1).finish();
  const size = parts.reduce((n, b) => n + b.size, 0);
  const w = parts[0].denseWidth;
  const click = new Float32Array(size), buy = new Float32Array(size), dense = new Float32Array(size * w);
  let row = 0;
  for (const b of parts) {
    click.set(b.click, row);
    buy.set(b.buy, row);
    dense.set(b.dense, row * w);
    row += b.size;
  }
  const fields = parts[0].fields.map((_, f) => {
    const ids = new Int32Array(parts.reduce((n, b) => n + (b.fields[f].offsets[b.size] - b.fields[f].offsets[0]), 0));
    const weights = parts[0].fields[f].weights ? new Float32Array(ids.length) : null;
    const offsets = new Int32Array(size + 1);
    let r = 0, at = 0;
    for (const b of parts) {
      const src = b.fields[f], lo = src.offsets[0], hi = src.offsets[b.size];
      ids.set(src.ids.subarray(lo, hi), at);
      if (weights) weights.set(src.weights!.subarray(lo, hi), at);
      for (let i = 1; i <= b.size; i++) offsets[r + i] = at + src.offsets[i] - lo;
      r += b.size;
      at += hi - lo;
    }
    return { ids, offsets, weights };
  });
  return { size, click, buy, fields, dense, denseWidth: w };
}

/**
 * Training batches of `batchSize` rows drawn from a shuffle buffer of `bufferRows` rows: the buffer is
 * filled from the chunks, shuffled, and all but half of it is handed out as batches; the other half stays
 * to mix with the next rows. A data set that fits in the buffer is shuffled whole, as by an in-memory
 * permutation. `rng` null keeps file order.
 */
export async function* shuffledBatches(chunks: AsyncIterable<Batch>, batchSize: number, bufferRows: number, rng: Rng | null): AsyncGenerator<Batch> {
  let parts: Batch[] = [];
  let buffered = 0;
  // The buffered parts are shuffled in place of a concatenation (which would hold every row twice).
  const drain = function* (keep: number): Generator<Batch> {
    const size = buffered;
    const partOf = new Int32Array(size), rowOf = new Int32Array(size);
    for (let p = 0, g = 0; p < parts.length; p++) for (let r = 0; r < parts[p].size; r++, g++) { partOf[g] = p; rowOf[g] = r; }
    const order = Int32Array.from({ length: size }, (_, i) => i);
    if (rng) rng.shuffle(order);
    const part = Int32Array.from(order, (g) => partOf[g]), row = Int32Array.from(order, (g) => rowOf[g]);
    const emit = Math.max(0, size - keep);
    const handOut = keep > 0 ? Math.floor(emit / batchSize) * batchSize : size;
    for (let start = 0; start < handOut; start += batchSize) {
      const end = Math.min(handOut, start + batchSize);
      yield gatherParts(parts, part.subarray(start, end), row.subarray(start, end));
    }
    parts = handOut < size ? [gatherParts(parts, part.subarray(handOut), row.subarray(handOut))] : [];
    buffered = size - handOut;
  };
  for await (const chunk of chunks) {
    parts.push(chunk);
    buffered += chunk.size;
    if (buffered >= bufferRows + batchSize) yield* drain(Math.floor(bufferRows / 2));
  }
  if (buffered > 0) yield* drain(0);
}
