/**
 * Maps raw feature values (strings) to embedding rows, one table per feature. Row 0 of every table is the
 * reserved out-of-vocabulary / missing row.
 *
 * - vocabulary features: values seen at least `min_count` times in the training files get rows 1..V,
 *   by descending count, ties by first appearance, so a fit of the same files is deterministic.
 * - `hash_buckets` features: row = 1 + fnv1a32(utf8(value)) % buckets (see hash.ts); no fitting needed.
 *
 * `id` features take one value per row: an empty value is missing (row 0). `id_list` features split the
 * value at the separator and drop empty pieces, so an empty value is an empty bag (no ids).
 */
import { featureColumn, type Config, type FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import type { Batch } from './batch.js';
import { BatchBuilder } from './batch-builder.js';
import { hashBucketRow } from './hash.js';
import { StringTable } from './string-table.js';
import { scanLabeledRows, type BadRowPolicy, type RowCounts } from './rows.js';

/** One feature's table, as stored in a model manifest. `vocab[i]` is the value of row i + 1. */
export type EncodedFeatureJSON =
  | { name: string; column: string; type: FeatureConfig['type']; separator: string; min_count: number; vocab: string[] }
  | { name: string; column: string; type: FeatureConfig['type']; separator: string; hash_buckets: number };

export interface EncoderJSON {
  format: 'esmm-encoder';
  version: 1;
  /** The hash of hash_buckets features: FNV-1a 32-bit over UTF-8. */
  hash: 'fnv1a32-utf8';
  features: EncodedFeatureJSON[];
}

/** Per-feature counters filled while encoding rows. */
export interface FeatureCounters {
  /** Non-empty values with no row of their own (mapped to row 0). */
  oov: Float64Array;
  /** Empty values of `id` features (mapped to row 0). */
  missing: Float64Array;
}

/** A raw value for serving: a string as it would appear in the CSV, a number, a list, or missing. */
export type RawValue = string | number | string[] | null | undefined;

interface FeatureCodec {
  readonly spec: FeatureConfig;
  readonly column: string;
  readonly isList: boolean;
  readonly separator: string;
  /** Rows in the table, row 0 included. */
  readonly tableSize: number;
  /** Row of one non-empty value; 0 when it has none. */
  row(value: string): number;
  /** Start a lookup early (see StringTable.prefetch); finish it with rowPrefetched(value). */
  prefetch(value: string): number;
  rowPrefetched(value: string): number;
  toJSON(): EncodedFeatureJSON;
}

class VocabCodec implements FeatureCodec {
  readonly column: string;
  readonly isList: boolean;
  readonly separator: string;
  readonly tableSize: number;
  private readonly rows: StringTable;

  constructor(readonly spec: FeatureConfig, readonly vocab: string[]) {
    this.column = featureColumn(spec);
    this.isList = spec.type === 'id_list';
    this.separator = spec.separator;
    this.tableSize = vocab.length + 1;
    this.rows = StringTable.from(vocab);
    if (this.rows.size !== vocab.length) throw new EsmmError(`encoder: feature "${spec.name}": vocabulary has duplicate values`);
  }

  row(value: string): number {
    return this.rows.indexOf(value) + 1;
  }

  prefetch(value: string): number {
    return this.rows.prefetch(value);
  }

  rowPrefetched(value: string): number {
    return this.rows.indexOfPrefetched(value) + 1;
  }

  toJSON(): EncodedFeatureJSON {
    const s = this.spec;
    return { name: s.name, column: this.column, type: s.type, separator: s.separator, min_count: s.min_count, vocab: this.vocab };
  }
}

class HashCodec implements FeatureCodec {
  readonly column: string;
  readonly isList: boolean;
  readonly separator: string;
  readonly tableSize: number;

  constructor(readonly spec: FeatureConfig, readonly buckets: number) {
    this.column = featureColumn(spec);
    this.isList = spec.type === 'id_list';
    this.separator = spec.separator;
    this.tableSize = buckets + 1;
  }

  row(value: string): number {
    return hashBucketRow(value, this.buckets);
  }

  prefetch(): number {
    return 0;
  }

  rowPrefetched(value: string): number {
    return hashBucketRow(value, this.buckets);
  }

  toJSON(): EncodedFeatureJSON {
    const s = this.spec;
    return { name: s.name, column: this.column, type: s.type, separator: s.separator, hash_buckets: this.buckets };
  }
}

export interface FitOptions {
  /** Defaults to the config's train.on_bad_row. */
  onBadRow?: BadRowPolicy;
  /** Count only the first this many used rows. */
  maxRows?: number;
}

export class Encoder {
  /** Row counts of the fitting pass (null when built from JSON or when no feature needed a pass). */
  fitStats: RowCounts | null = null;

  private constructor(private readonly codecs: FeatureCodec[]) {}

  /**
   * Build the vocabularies from the training files (one pass over them, with the same row validation and
   * bad-row policy as loadDataset). Hashed features need no pass; if every feature is hashed, no file is read.
   */
  static async fit(cfg: Config, trainPaths: string[], opts: FitOptions = {}): Promise<Encoder> {
    const vocabFeatures = cfg.features.flatMap((f, i) => (f.hash_buckets === undefined ? [i] : []));
    const counted = vocabFeatures.length > 0 ? await countValues(cfg, vocabFeatures, trainPaths, opts) : null;
    const codecs = cfg.features.map((f, i): FeatureCodec =>
      f.hash_buckets !== undefined ? new HashCodec(f, f.hash_buckets) : new VocabCodec(f, counted!.counts.get(i)!.vocabulary(f.min_count)),
    );
    const encoder = new Encoder(codecs);
    encoder.fitStats = counted?.stats ?? null;
    return encoder;
  }

  /** Rebuild from toJSON() output; the config's features must match the saved ones. */
  static fromJSON(json: unknown, cfg: Config): Encoder {
    const j = json as Partial<EncoderJSON> | null;
    if (!j || j.format !== 'esmm-encoder' || j.version !== 1 || !Array.isArray(j.features)) {
      throw new EsmmError('encoder: not an esmm-encoder version 1 object');
    }
    if (j.hash !== 'fnv1a32-utf8') throw new EsmmError(`encoder: unknown hash ${JSON.stringify(j.hash)}`);
    if (j.features.length !== cfg.features.length) {
      throw new EsmmError(`encoder: saved with ${j.features.length} features, the config has ${cfg.features.length}`);
    }
    const codecs = cfg.features.map((f, i): FeatureCodec => {
      const saved = j.features![i];
      const mismatch = (what: string, savedValue: unknown, configValue: unknown) =>
        new EsmmError(`encoder: feature ${i} ("${f.name}"): ${what} is ${JSON.stringify(savedValue)} in the saved encoder, ${JSON.stringify(configValue)} in the config`);
      if (saved.name !== f.name) throw mismatch('name', saved.name, f.name);
      if (saved.column !== featureColumn(f)) throw mismatch('column', saved.column, featureColumn(f));
      if (saved.type !== f.type) throw mismatch('type', saved.type, f.type);
      if (saved.separator !== f.separator) throw mismatch('separator', saved.separator, f.separator);
      if ('hash_buckets' in saved) {
        if (saved.hash_buckets !== f.hash_buckets) throw mismatch('hash_buckets', saved.hash_buckets, f.hash_buckets);
        return new HashCodec(f, saved.hash_buckets);
      }
      if (f.hash_buckets !== undefined) throw mismatch('hash_buckets', undefined, f.hash_buckets);
      if (!Array.isArray(saved.vocab) || !saved.vocab.every((v) => typeof v === 'string')) {
        throw new EsmmError(`encoder: feature ${i} ("${f.name}"): vocab must be an array of strings`);
      }
      return new VocabCodec(f, saved.vocab);
    });
    return new Encoder(codecs);
  }

  toJSON(): EncoderJSON {
    return { format: 'esmm-encoder', version: 1, hash: 'fnv1a32-utf8', features: this.codecs.map((c) => c.toJSON()) };
  }

  get numFeatures(): number {
    return this.codecs.length;
  }

  featureNames(): string[] {
    return this.codecs.map((c) => c.spec.name);
  }

  /** Rows per feature table, the reserved row 0 included. */
  tableSizes(): number[] {
    return this.codecs.map((c) => c.tableSize);
  }

  /** The vocabulary of a feature (row i + 1 ↔ vocab[i]), or null for a hashed feature. */
  vocabulary(featureIndex: number): readonly string[] | null {
    const c = this.codec(featureIndex);
    return c instanceof VocabCodec ? c.vocab : null;
  }

  /** Row of one value (for a list feature: one element, not a joined list). Empty → 0 (missing). */
  encodeValue(featureIndex: number, raw: string): number {
    return raw === '' ? 0 : this.codec(featureIndex).row(raw);
  }

  /**
   * Hot path of dataset loading: push the ids of one CSV row (`fields`, with each feature's column index
   * in `featureColumns`) into `builder`; the caller then ends the row.
   */
  encodeRow(builder: BatchBuilder, fields: string[], featureColumns: Int32Array, counters: FeatureCounters): void {
    const codecs = this.codecs;
    const out = builder.fields;
    // Start every single-value lookup before finishing any, so their cache misses overlap.
    let touched = 0;
    for (let f = 0; f < codecs.length; f++) {
      const codec = codecs[f];
      if (codec.isList) continue;
      const raw = fields[featureColumns[f]];
      if (raw !== '') touched |= codec.prefetch(raw);
    }
    prefetchSink = touched;
    for (let f = 0; f < codecs.length; f++) {
      const codec = codecs[f];
      const raw = fields[featureColumns[f]];
      const field = out[f];
      if (!codec.isList) {
        if (raw === '') {
          counters.missing[f]++;
          field.push(0);
        } else {
          const row = codec.rowPrefetched(raw);
          if (row === 0) counters.oov[f]++;
          field.push(row);
        }
      } else if (raw !== '') {
        if (!raw.includes(codec.separator)) {
          const row = codec.row(raw);
          if (row === 0) counters.oov[f]++;
          field.push(row);
        } else {
          for (const piece of raw.split(codec.separator)) {
            if (piece === '') continue;
            const row = codec.row(piece);
            if (row === 0) counters.oov[f]++;
            field.push(row);
          }
        }
      }
    }
  }

  /**
   * Encode rows given as objects keyed by column name (serving). A list feature takes an array or a
   * separator-joined string; numbers become their String(); null/undefined/'' are missing. Labels are 0.
   */
  encodeRecords(records: ArrayLike<Record<string, RawValue>>): Batch {
    const builder = this.newBatchBuilder(records.length);
    const codecs = this.codecs;
    for (let r = 0; r < records.length; r++) {
      const record = records[r];
      for (let f = 0; f < codecs.length; f++) {
        const codec = codecs[f];
        const field = builder.fields[f];
        const raw = record[codec.column];
        if (raw === null || raw === undefined || raw === '') {
          if (!codec.isList) field.push(0);
          continue;
        }
        if (Array.isArray(raw)) {
          if (!codec.isList) throw new EsmmError(`record ${r}: feature "${codec.spec.name}" (column "${codec.column}") takes one value, got a list`);
          for (const v of raw) {
            const s = String(v);
            if (s !== '') field.push(codec.row(s));
          }
          continue;
        }
        const s = typeof raw === 'string' ? raw : String(raw);
        if (codec.isList) {
          for (const piece of s.split(codec.separator)) if (piece !== '') field.push(codec.row(piece));
        } else {
          field.push(codec.row(s));
        }
      }
      builder.endRow(0, 0);
    }
    return builder.finish();
  }

  /** An empty builder for batches of this encoder's features. */
  newBatchBuilder(initialRows?: number): BatchBuilder {
    return new BatchBuilder(this.codecs.map((c) => (c.isList ? 'list' : 'single')), 0, initialRows);
  }

  /** Fresh zeroed counters for encodeRow. */
  newCounters(): FeatureCounters {
    return { oov: new Float64Array(this.codecs.length), missing: new Float64Array(this.codecs.length) };
  }

  private codec(featureIndex: number): FeatureCodec {
    const c = this.codecs[featureIndex];
    if (c === undefined) throw new EsmmError(`encoder: no feature ${featureIndex} (it has ${this.codecs.length})`);
    return c;
  }
}

/** Sink for prefetched words, so the loads that warm the cache are not optimised away. */
let prefetchSink = 0;

/** One pass over the training files counting the values of the given (vocabulary) features. */
async function countValues(cfg: Config, featureIndexes: number[], trainPaths: string[], opts: FitOptions) {
  const counts = new Map(featureIndexes.map((i) => [i, new ValueCounts()]));
  const tables = featureIndexes.map((i) => counts.get(i)!);
  const lists = featureIndexes.map((i) => cfg.features[i].type === 'id_list');
  const separators = featureIndexes.map((i) => cfg.features[i].separator);
  const scan = { onBadRow: opts.onBadRow ?? cfg.train.on_bad_row, maxRows: opts.maxRows };
  const stats = await scanLabeledRows(trainPaths, cfg, scan, (_path, featureColumns) => {
    const columns = featureIndexes.map((i) => featureColumns[i]);
    return (fields) => {
      // Start the single-value lookups first so their cache misses overlap (see StringTable.prefetch).
      let touched = 0;
      for (let k = 0; k < columns.length; k++) {
        const raw = fields[columns[k]];
        if (!lists[k] && raw !== '') touched |= tables[k].prefetch(raw);
      }
      prefetchSink = touched;
      for (let k = 0; k < columns.length; k++) {
        const raw = fields[columns[k]];
        if (raw === '') continue;
        if (!lists[k]) tables[k].countPrefetched(raw);
        else if (!raw.includes(separators[k])) tables[k].count(raw);
        else for (const piece of raw.split(separators[k])) if (piece !== '') tables[k].count(piece);
      }
    };
  });
  return { counts, stats };
}

/** Occurrences per distinct value, for building a vocabulary. */
class ValueCounts {
  private readonly table = new StringTable();
  private counts = new Float64Array(1024);

  count(value: string): void {
    this.increment(this.table.add(value));
  }

  prefetch(value: string): number {
    return this.table.prefetch(value);
  }

  countPrefetched(value: string): void {
    this.increment(this.table.addPrefetched(value));
  }

  private increment(i: number): void {
    if (i === this.counts.length) {
      const grown = new Float64Array(i * 2);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[i]++;
  }

  /**
   * Values seen at least minCount times, by descending count, ties in order of first appearance (so the
   * same files in the same order always give the same vocabulary).
   */
  vocabulary(minCount: number): string[] {
    const keys = this.table.keys, counts = this.counts, n = keys.length;
    let kept = 0, maxCount = 0;
    for (let i = 0; i < n; i++) {
      if (counts[i] < minCount) continue;
      kept++;
      if (counts[i] > maxCount) maxCount = counts[i];
    }
    if ((maxCount + 1) * n <= Number.MAX_SAFE_INTEGER) {
      // One numeric key per value, sorted natively: far faster than a comparator over millions of values.
      const order = new Float64Array(kept);
      for (let i = 0, k = 0; i < n; i++) if (counts[i] >= minCount) order[k++] = (maxCount - counts[i]) * n + i;
      order.sort();
      return Array.from(order, (key) => keys[key % n]);
    }
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (counts[i] >= minCount) order.push(i);
    order.sort((a, b) => counts[b] - counts[a] || a - b);
    return order.map((i) => keys[i]);
  }
}
