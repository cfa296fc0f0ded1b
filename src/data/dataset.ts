/**
 * Whole data sets in memory (the `cache` option, small evaluation sets and tests): the encoded chunks of
 * readEncodedChunks concatenated into one Batch.
 */
import type { Config } from '../config.js';
import type { Batch } from './batch.js';
import type { Encoder } from './encoder.js';
import { readAll, readEncodedChunks, type ReadOptions, type ReadStats } from './pipeline.js';

export type { FeatureReadStats, ReadStats } from './pipeline.js';
export type LoadOptions = Pick<ReadOptions, 'onBadRow' | 'maxRows'>;

/**
 * Rows to score, one Batch row per input record in input order: label columns are not needed (labels
 * are 0) and a malformed record is always an error, since skipping it would misalign the output.
 */
export async function loadUnlabeled(paths: string[], cfg: Config, enc: Encoder): Promise<{ data: Batch; stats: ReadStats }> {
  return readAll(readEncodedChunks(paths, cfg, enc, { onBadRow: 'error', labels: 'ignore' }), enc);
}

/**
 * Read `paths` (in order) into one Batch. Labels must be 0/1 ("0.0"/"1.0" too); rows with click = 0 and
 * buy = 1 are dropped and counted. A malformed row throws a DataError (file, line, column, reason) unless
 * onBadRow is 'skip', when it is counted instead. A feature or label column missing from a file is an
 * EsmmError naming both.
 */
export async function loadDataset(paths: string[], cfg: Config, enc: Encoder, opts: LoadOptions = {}): Promise<{ data: Batch; stats: ReadStats }> {
  return readAll(readEncodedChunks(paths, cfg, enc, { onBadRow: opts.onBadRow ?? cfg.train.on_bad_row, maxRows: opts.maxRows }), enc);
}
