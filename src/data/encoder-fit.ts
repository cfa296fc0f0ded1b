/**
 * The part of Encoder.fit that reads the training files: the fitting pass, and the encoder saved in a
 * file written by `esmm data convert`. Kept apart from encoder.ts so that encoding alone (serving, the
 * browser build) needs no file reader.
 */
import { isDenseNumeric, type Config, type InputConfig } from '../config.js';
import type { FitOptions, NullTest } from './encoder.js';
import { NumericStats, ValueCounts } from './features.js';
import { expandPaths } from './paths.js';
import { scanLabeledRows } from './rows.js';
import { openEncoded } from './source.js';

/** Sink for prefetched words, so the loads that warm the cache are not optimised away. */
let prefetchSink = 0;

/** The encoder JSON a file of `esmm data convert` carries (from the first training file), or null. */
export async function savedEncoder(trainPaths: string[], input: InputConfig): Promise<unknown> {
  const files = expandPaths(trainPaths);
  const encoded = files.length > 0 ? await openEncoded(files[0], input) : null;
  if (!encoded) return null;
  encoded.close();
  return encoded.encoder;
}

/** The fitting pass: value counts of vocabulary features, statistics of normalised numeric features. */
export async function fitPass(cfg: Config, needsPass: boolean[], trainPaths: string[], opts: FitOptions, isNull: NullTest) {
  const counts = new Map<number, ValueCounts>();
  const numeric = new Map<number, NumericStats>();
  type Counter = (raw: string) => void;
  const counters: Counter[] = [];
  const prefetchers: Array<((raw: string) => number) | null> = [];
  const indexes: number[] = [];
  cfg.features.forEach((f, i) => {
    if (!needsPass[i]) return;
    indexes.push(i);
    if (isDenseNumeric(f)) {
      const stats = new NumericStats(f);
      numeric.set(i, stats);
      counters.push((raw) => { if (!isNull(raw)) stats.add(raw); });
      prefetchers.push(null);
      return;
    }
    const table = new ValueCounts();
    counts.set(i, table);
    if (f.type === 'id') {
      counters.push((raw) => { if (!isNull(raw)) table.countPrefetched(raw); });
      prefetchers.push((raw) => table.prefetch(raw));
      return;
    }
    const sep = f.separator, kv = f.type === 'weighted_id_list' ? f.kv_separator : null;
    counters.push((raw) => {
      if (isNull(raw)) return;
      const pieces = raw.includes(sep) ? raw.split(sep) : [raw];
      for (let piece of pieces) {
        if (kv !== null) {
          const at = piece.lastIndexOf(kv);
          if (at >= 0) piece = piece.slice(0, at);
        }
        if (!isNull(piece)) table.count(piece);
      }
    });
    prefetchers.push(null);
  });
  const scan = { onBadRow: opts.onBadRow ?? cfg.train.on_bad_row, maxRows: opts.maxRows };
  const stats = await scanLabeledRows(trainPaths, cfg, scan, (_path, featureColumns) => {
    const columns = indexes.map((i) => featureColumns[i]);
    return (fields) => {
      // Start the single-value lookups first so their cache misses overlap (see StringTable.prefetch).
      let touched = 0;
      for (let k = 0; k < columns.length; k++) {
        const pre = prefetchers[k];
        if (pre !== null) touched |= pre(fields[columns[k]]);
      }
      prefetchSink = touched;
      for (let k = 0; k < columns.length; k++) counters[k](fields[columns[k]]);
      return null;
    };
  });
  return { counts, numeric, stats };
}

