/**
 * `esmm data convert`: fit the encoder on the training files once, encode the training and evaluation
 * files with it, and write them as encoded Parquet (DIR/train.parquet, DIR/eval.parquet) with the encoder
 * (DIR/encoder.json, also stored inside each file). Training and evaluation then read batches straight
 * from those files: no parsing, no vocabulary lookups, and every split encoded by the same encoder.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Encoder } from './encoder.js';
import { encodedSchema, writeEncodedParquet } from './parquet.js';
import { readEncodedChunks, type ReadStats } from './pipeline.js';
import type { BadRowPolicy, RowCounts } from './rows.js';

export interface ConvertOptions {
  config: Config;
  trainPaths: string[];
  /** Evaluation files (optional): encoded with the training files' encoder, unseen values → row 0. */
  evalPaths?: string[];
  outDir: string;
  /** Defaults to the config's train.on_bad_row. */
  onBadRow?: BadRowPolicy;
}

export interface ConvertedSplit {
  path: string;
  /** Rows written (read, minus dropped and skipped ones). */
  rows: number;
  bytes: number;
  stats: ReadStats;
}

export interface ConvertResult {
  outDir: string;
  encoderPath: string;
  /** Counts of the fitting pass (null when no feature needed one). */
  fitStats: RowCounts | null;
  train: ConvertedSplit;
  eval: ConvertedSplit | null;
}

/** Chunks as large as the encoded reader's batches: fewer, larger row groups to hand to DuckDB. */
const CHUNK_ROWS = 1 << 16;

export async function convertToParquet(opts: ConvertOptions): Promise<ConvertResult> {
  const { config, outDir } = opts;
  const onBadRow = opts.onBadRow ?? config.train.on_bad_row;
  const encoder = await Encoder.fit(config, opts.trainPaths, { onBadRow });
  const encoderJson = encoder.toJSON();
  const encoderPath = join(outDir, 'encoder.json');
  writeFileAtomic(encoderPath, `${JSON.stringify(encoderJson)}\n`);
  const schema = encodedSchema(config, encoder);
  const split = async (paths: string[], name: string): Promise<ConvertedSplit> => {
    const { chunks, stats } = readEncodedChunks(paths, config, encoder, { onBadRow, labels: 'required', chunkRows: CHUNK_ROWS });
    const written = await writeEncodedParquet(join(outDir, name), { encoder: encoderJson, schema, chunks, meta: () => readFacts(stats) });
    return { path: written.path, rows: written.rows, bytes: written.bytes, stats };
  };
  const train = await split(opts.trainPaths, 'train.parquet');
  const evalSplit = opts.evalPaths && opts.evalPaths.length > 0 ? await split(opts.evalPaths, 'eval.parquet') : null;
  return { outDir, encoderPath, fitStats: encoder.fitStats, train, eval: evalSplit };
}

/** What the file records about how it was made (its source files and what was dropped on the way). */
function readFacts(s: ReadStats) {
  return {
    source_files: s.files, rows_read: s.rowsRead, rows_used: s.rowsUsed, dropped_click0_buy1: s.droppedClick0Buy1,
    skipped_bad_rows: s.skippedBadRows, clicks: s.clicks, buys: s.buys,
  };
}
