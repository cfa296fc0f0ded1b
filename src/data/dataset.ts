/**
 * Read labeled CSV files whole into one Batch (CSR over all rows), with the statistics a run report needs.
 */
import type { Config } from '../config.js';
import { EsmmError } from '../errors.js';
import type { Batch } from './batch.js';
import type { Encoder } from './encoder.js';
import { scanLabeledRows, type BadRowPolicy, type RowCounts, type ScanOptions } from './rows.js';

export interface FeatureReadStats {
  name: string;
  /** Non-empty values with no row of their own (not in the vocabulary), mapped to row 0. */
  oov: number;
  /** Empty values of single-id features, mapped to row 0. */
  missing: number;
}

export interface ReadStats extends RowCounts {
  features: FeatureReadStats[];
}

export interface LoadOptions {
  /** Defaults to the config's train.on_bad_row. */
  onBadRow?: BadRowPolicy;
  /** Stop after this many used rows. */
  maxRows?: number;
}

/**
 * Rows to score, one Batch row per input record in input order: label columns are not needed (labels
 * are 0) and a malformed record is always an error, since skipping it would misalign the output.
 */
export function loadUnlabeled(paths: string[], cfg: Config, enc: Encoder): Promise<{ data: Batch; stats: ReadStats }> {
  return loadRows(paths, cfg, enc, { onBadRow: 'error', labels: 'ignore' });
}

/**
 * Read `paths` (in order) into one Batch. Labels must be 0/1 ("0.0"/"1.0" too); rows with click = 0 and
 * buy = 1 are dropped and counted. A malformed row throws a DataError (file, line, column, reason) unless
 * onBadRow is 'skip', when it is counted instead. A feature or label column missing from a file's header
 * is an EsmmError naming both.
 */
export function loadDataset(paths: string[], cfg: Config, enc: Encoder, opts: LoadOptions = {}): Promise<{ data: Batch; stats: ReadStats }> {
  return loadRows(paths, cfg, enc, { onBadRow: opts.onBadRow ?? cfg.train.on_bad_row, maxRows: opts.maxRows, labels: 'required' });
}

async function loadRows(paths: string[], cfg: Config, enc: Encoder, opts: ScanOptions): Promise<{ data: Batch; stats: ReadStats }> {
  const names = enc.featureNames();
  if (names.length !== cfg.features.length || names.some((n, i) => n !== cfg.features[i].name)) {
    throw new EsmmError(`encoder features (${names.join(', ')}) do not match the config's (${cfg.features.map((f) => f.name).join(', ')})`);
  }
  const builder = enc.newBatchBuilder(Math.min(opts.maxRows ?? 1 << 16, 1 << 16));
  const counters = enc.newCounters();
  const counts = await scanLabeledRows(paths, cfg, opts, (_path, featureColumns) =>
    (fields, click, buy) => {
      enc.encodeRow(builder, fields, featureColumns, counters);
      builder.endRow(click, buy);
    },
  );
  const features = names.map((name, f) => ({ name, oov: counters.oov[f], missing: counters.missing[f] }));
  return { data: builder.finish(), stats: { ...counts, features } };
}
