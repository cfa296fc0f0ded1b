/**
 * Maps raw feature values (strings, as every reader delivers them) to what the model takes: embedding rows
 * for embedded features and normalised numbers for dense numeric ones. Row 0 of every table is the
 * reserved out-of-vocabulary / missing row, so unseen ids at eval, predict and serve time never fail.
 *
 * How a value becomes a row (see features.ts for each mapper):
 * - vocabulary: values seen at least `min_count` times in the training files (at most `max_vocab`) get
 *   rows 1..V by descending count, ties by first appearance, so a fit of the same files is deterministic;
 * - `hash_buckets`: row = 1 + fnv1a32(utf8(value)) % buckets (see hash.ts); no fitting needed;
 * - `num_buckets`: the value is an integer id in [0, num_buckets): row = 1 + id; anything else is OOV;
 * - numeric with `boundaries`: row = 1 + the number of boundaries ≤ the value.
 *
 * Shapes: `id` takes one value per row (missing → row 0); `id_list` splits at the separator and drops
 * empty and null pieces, so a missing value is an empty bag; `weighted_id_list` pieces are `id:weight`
 * (a piece without a weight weighs 1). A value listed in `input.null_values` is missing.
 */
import { featureColumn, isDenseNumeric, type Config, type FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import type { Batch } from './batch.js';
import { BatchBuilder, type FieldShape } from './batch-builder.js';
import {
  BucketMapper, DenseNumeric, HashMapper, IdentityMapper, VocabMapper,
  INVALID, type IdMapper, type DenseNumericJSON, type MapperJSON,
} from './features.js';
import { fitPass, savedEncoder } from './encoder-fit.js';
import type { BadRowPolicy, RowCounts } from './rows.js';

/** One feature as stored in a model manifest. */
export interface EncodedFeatureJSON {
  name: string;
  column: string;
  type: FeatureConfig['type'];
  separator: string;
  kv_separator: string;
  /** Embedded features: how values map to rows. */
  table?: MapperJSON;
  /** Dense numeric features: the normalisation fitted on the training files. */
  numeric?: DenseNumericJSON;
}

export interface EncoderJSON {
  format: 'esmm-encoder';
  version: 2;
  /** The hash of hash_buckets features: FNV-1a 32-bit over UTF-8. */
  hash: 'fnv1a32-utf8';
  null_values: string[];
  features: EncodedFeatureJSON[];
}

/** Per-feature counters filled while encoding rows (indexed by config feature). */
export interface FeatureCounters {
  /** Non-empty values with no row of their own (mapped to row 0). */
  oov: Float64Array;
  /** Missing values (empty or a null value) of single-valued features. */
  missing: Float64Array;
}

/** A raw value for serving: a string as it would appear in the CSV, a number, a list, or missing. */
export type RawValue = string | number | Array<string | number> | null | undefined;

/** An invalid value given to encodeRecords: which record and column it was in (for a caller naming the field). */
export class RecordValueError extends EsmmError {
  constructor(readonly record: number, readonly column: string, message: string) {
    super(message);
    this.name = 'RecordValueError';
  }
}

/** One config feature: where it reads, how it splits, and where its output goes. */
interface Codec {
  readonly spec: FeatureConfig;
  readonly column: string;
  readonly shape: FieldShape;
  readonly separator: string;
  readonly kvSeparator: string;
  /** Embedded features: the mapper and the field index in the batch; dense: the column in batch.dense. */
  readonly mapper: IdMapper | null;
  readonly dense: DenseNumeric | null;
  readonly slot: number;
  /**
   * The last long list value and its encoding. Rows often repeat the previous row's list (Ali-CCP's user
   * history comes from a common row shared by consecutive samples): then the ids are copied, not re-parsed.
   */
  memo: { raw: string; ids: Int32Array; weights: Float32Array | null; oov: number } | null;
}

/** Lists shorter than this are cheaper to split again than to remember. */
const MEMO_MIN_CHARS = 64;

export interface FitOptions {
  /** Defaults to the config's train.on_bad_row. */
  onBadRow?: BadRowPolicy;
  /** Count only the first this many used rows. */
  maxRows?: number;
}

/** Sink for prefetched words, so the loads that warm the cache are not optimised away. */
let prefetchSink = 0;

export class Encoder {
  /** Row counts of the fitting pass (null when built from JSON or when no feature needed a pass). */
  fitStats: RowCounts | null = null;
  /** Why the last encodeRow returned a feature index (the value was invalid). */
  lastError = '';
  private readonly nulls: NullTest;
  private readonly embedded: Codec[];
  private readonly denseWidth: number;

  private constructor(private readonly codecs: Codec[], readonly nullValues: string[]) {
    this.nulls = nullTest(nullValues);
    this.embedded = codecs.filter((c) => c.mapper !== null);
    this.denseWidth = codecs.length - this.embedded.length;
  }

  /**
   * Fit on the training files: one pass over them (with the same row validation and bad-row policy as
   * loading) counts vocabulary values and numeric statistics. Features that need neither (hashed,
   * identity, bucketised, unnormalised numbers) need no pass; if none does, no file is read.
   */
  static async fit(cfg: Config, trainPaths: string[], opts: FitOptions = {}): Promise<Encoder> {
    // Files written by `esmm data convert` carry the encoder their rows were encoded with.
    const saved = await savedEncoder(trainPaths, cfg.input);
    if (saved) return Encoder.fromJSON(saved, cfg);
    const needsPass = cfg.features.map((f) => isVocabulary(f) || (isDenseNumeric(f) && (f.normalization === 'standard' || f.normalization === 'minmax')));
    const fitted = needsPass.some(Boolean) ? await fitPass(cfg, needsPass, trainPaths, opts, nullTest(cfg.input.null_values)) : null;
    const codecs = codecsFor(cfg,
      (f, i) => {
        const counts = fitted?.counts.get(i);
        return mapperFor(f, counts ? counts.vocabulary(f.min_count, f.max_vocab) : null);
      },
      (f, i) => DenseNumeric.fit(f, fitted?.numeric.get(i) ?? null));
    const encoder = new Encoder(codecs, cfg.input.null_values);
    encoder.fitStats = fitted?.stats ?? null;
    return encoder;
  }

  /**
   * An encoder that reads no file: every vocabulary empty (all ids out of vocabulary), no numeric
   * statistics. For checking values exactly as encoding does (data inspect), not for training.
   */
  static unfitted(cfg: Config): Encoder {
    return new Encoder(codecsFor(cfg, (f) => mapperFor(f, null), (f) => DenseNumeric.fit(f, null)), cfg.input.null_values);
  }

  /** Rebuild from toJSON() output; the config's features must match the saved ones. */
  static fromJSON(json: unknown, cfg: Config): Encoder {
    const j = json as Partial<EncoderJSON> | null;
    if (!j || j.format !== 'esmm-encoder' || j.version !== 2 || !Array.isArray(j.features) || !Array.isArray(j.null_values)) {
      throw new EsmmError('encoder: not an esmm-encoder version 2 object');
    }
    if (j.hash !== 'fnv1a32-utf8') throw new EsmmError(`encoder: unknown hash ${JSON.stringify(j.hash)}`);
    if (j.features.length !== cfg.features.length) {
      throw new EsmmError(`encoder: saved with ${j.features.length} features, the config has ${cfg.features.length}`);
    }
    const saved = j.features;
    const where = (i: number) => `encoder: feature ${i} ("${cfg.features[i].name}")`;
    const check = (i: number, what: string, savedValue: unknown, configValue: unknown) => {
      if (savedValue !== configValue) {
        throw new EsmmError(`${where(i)}: ${what} is ${JSON.stringify(savedValue)} in the saved encoder, ${JSON.stringify(configValue)} in the config`);
      }
    };
    cfg.features.forEach((f, i) => {
      check(i, 'name', saved[i].name, f.name);
      check(i, 'column', saved[i].column, featureColumn(f));
      check(i, 'type', saved[i].type, f.type);
      check(i, 'separator', saved[i].separator, f.separator);
      check(i, 'kv_separator', saved[i].kv_separator, f.kv_separator);
    });
    const codecs = codecsFor(cfg,
      (f, i) => {
        if (!saved[i].table) throw new EsmmError(`${where(i)}: no table saved`);
        const mapper = mapperFromJSON(saved[i].table!, where(i));
        const expected = mapperFor(f, null);
        check(i, 'table kind', mapper.kind, expected.kind);
        if (mapper.kind !== 'vocab') check(i, 'table', JSON.stringify(mapper.toJSON()), JSON.stringify(expected.toJSON()));
        return mapper;
      },
      (f, i) => {
        if (!saved[i].numeric) throw new EsmmError(`${where(i)}: no numeric settings saved`);
        const dense = DenseNumeric.fromJSON(saved[i].numeric!, where(i));
        check(i, 'normalization', dense.normalization, f.normalization);
        return dense;
      });
    return new Encoder(codecs, j.null_values.map(String));
  }

  toJSON(): EncoderJSON {
    return {
      format: 'esmm-encoder', version: 2, hash: 'fnv1a32-utf8', null_values: this.nullValues,
      features: this.codecs.map((c) => ({
        name: c.spec.name, column: c.column, type: c.spec.type, separator: c.separator, kv_separator: c.kvSeparator,
        ...(c.mapper ? { table: c.mapper.toJSON() } : { numeric: c.dense!.toJSON() }),
      })),
    };
  }

  get numFeatures(): number {
    return this.codecs.length;
  }

  featureNames(): string[] {
    return this.codecs.map((c) => c.spec.name);
  }

  /** The column each feature reads, in config order. */
  columns(): string[] {
    return this.codecs.map((c) => c.column);
  }

  /** Rows per feature table (the reserved row 0 included), one entry per config feature; 0 for dense numerics. */
  tableSizes(): number[] {
    return this.codecs.map((c) => c.mapper?.tableSize ?? 0);
  }

  /** The batch field of an embedded feature (Batch.fields index), or -1 for a dense numeric or unknown one. */
  fieldIndex(name: string): number {
    const c = this.codecs.find((x) => x.spec.name === name);
    return c && c.mapper ? c.slot : -1;
  }

  /** The vocabulary of a feature (row i + 1 ↔ vocab[i]), or null when it has none. */
  vocabulary(featureIndex: number): readonly string[] | null {
    const m = this.codec(featureIndex).mapper;
    return m instanceof VocabMapper ? m.vocab : null;
  }

  /** Row of one value (for a list feature: one element, not a joined list). Missing → 0. */
  encodeValue(featureIndex: number, raw: string): number {
    const c = this.codec(featureIndex);
    if (!c.mapper) throw new EsmmError(`encoder: feature "${c.spec.name}" is numeric, it has no rows`);
    return this.nulls(raw) ? 0 : Math.max(0, c.mapper.row(raw));
  }

  /**
   * Hot path of reading: push one row's values (`fields`, with each feature's column index in
   * `featureColumns`) into `builder`. Returns -1 when the row is good; otherwise the index of the feature
   * whose value is invalid (the reason in lastError), and the caller discards the row.
   */
  encodeRow(builder: BatchBuilder, fields: string[], featureColumns: Int32Array, counters: FeatureCounters): number {
    const codecs = this.codecs;
    // Start every single-value lookup before finishing any, so their cache misses overlap.
    let touched = 0;
    for (let f = 0; f < codecs.length; f++) {
      const c = codecs[f];
      if (c.shape === 'single' && c.mapper !== null) touched |= c.mapper.prefetch(fields[featureColumns[f]]);
    }
    prefetchSink = touched;
    for (let f = 0; f < codecs.length; f++) {
      if (!this.encodeInto(codecs[f], fields[featureColumns[f]], builder, counters, f, true)) return f;
    }
    return -1;
  }

  /**
   * Encode rows given as objects keyed by column name (serving). A list feature takes an array or a
   * separator-joined string; a numeric feature a number or a numeric string; null/undefined/'' and the
   * null values are missing. Labels are 0. An invalid value is a RecordValueError naming the record and feature.
   */
  encodeRecords(records: ArrayLike<Record<string, RawValue>>): Batch {
    const builder = this.newBatchBuilder(records.length);
    const counters = this.newCounters();
    for (let r = 0; r < records.length; r++) {
      const record = records[r];
      for (let f = 0; f < this.codecs.length; f++) {
        const c = this.codecs[f];
        const value = record[c.column];
        let raw: string;
        if (value === null || value === undefined) raw = '';
        else if (Array.isArray(value)) {
          if (c.shape === 'single') throw new RecordValueError(r, c.column, `record ${r}: feature "${c.spec.name}" (column "${c.column}") takes one value, got a list`);
          raw = value.map(String).join(c.separator);
        } else raw = typeof value === 'string' ? value : String(value);
        if (!this.encodeInto(c, raw, builder, counters, f, false)) {
          throw new RecordValueError(r, c.column, `record ${r}: feature "${c.spec.name}" (column "${c.column}"): ${this.lastError}`);
        }
      }
      builder.endRow(0, 0);
    }
    return builder.finish();
  }

  /** An empty builder for batches of this encoder's features. */
  newBatchBuilder(initialRows?: number): BatchBuilder {
    return new BatchBuilder(this.embedded.map((c) => c.shape), this.denseWidth, initialRows);
  }

  /** Fresh zeroed counters for encodeRow. */
  newCounters(): FeatureCounters {
    return { oov: new Float64Array(this.codecs.length), missing: new Float64Array(this.codecs.length) };
  }

  /** Whether another encoder maps every value exactly as this one (same JSON). */
  sameAs(json: unknown): boolean {
    return JSON.stringify(json) === JSON.stringify(this.toJSON());
  }

  /** One value into its field or dense column; false (reason in lastError) when it is invalid. */
  private encodeInto(c: Codec, raw: string, builder: BatchBuilder, counters: FeatureCounters, f: number, prefetched: boolean): boolean {
    const missing = this.nulls(raw);
    if (c.dense !== null) {
      const v = missing ? c.dense.missingValue : c.dense.encode(raw);
      if (Number.isNaN(v)) {
        this.lastError = `not a number: ${JSON.stringify(raw)}`;
        return false;
      }
      if (missing) counters.missing[f]++;
      builder.setDense(c.slot, v);
      return true;
    }
    const mapper = c.mapper!;
    const field = builder.fields[c.slot];
    if (c.shape === 'single') {
      if (missing) {
        counters.missing[f]++;
        field.push(0);
        return true;
      }
      const row = prefetched ? mapper.rowPrefetched(raw) : mapper.row(raw);
      if (row === INVALID) return this.invalid(mapper, raw);
      if (row === 0) counters.oov[f]++;
      field.push(row);
      return true;
    }
    if (missing) return true;
    const memo = c.memo;
    if (memo !== null && memo.raw === raw) {
      for (let p = 0; p < memo.ids.length; p++) {
        if (memo.weights !== null) field.pushWeighted(memo.ids[p], memo.weights[p]);
        else field.push(memo.ids[p]);
      }
      counters.oov[f] += memo.oov;
      return true;
    }
    const start = field.length, oovBefore = counters.oov[f];
    const pieces = raw.includes(c.separator) ? raw.split(c.separator) : [raw];
    for (let p = 0; p < pieces.length; p++) {
      let id = pieces[p];
      let weight = 1;
      if (c.shape === 'weighted') {
        const at = id.lastIndexOf(c.kvSeparator);
        if (at >= 0) {
          const w = id.slice(at + c.kvSeparator.length);
          weight = w === '' ? NaN : Number(w);
          if (!Number.isFinite(weight)) {
            this.lastError = `weight of ${JSON.stringify(pieces[p])} is not a number`;
            return false;
          }
          id = id.slice(0, at);
        }
      }
      if (this.nulls(id)) continue;
      const row = mapper.row(id);
      if (row === INVALID) return this.invalid(mapper, id);
      if (row === 0) counters.oov[f]++;
      if (c.shape === 'weighted') field.pushWeighted(row, weight);
      else field.push(row);
    }
    if (raw.length >= MEMO_MIN_CHARS) {
      c.memo = {
        raw, ids: field.ids.slice(start, field.length), weights: field.weights ? field.weights.slice(start, field.length) : null,
        oov: counters.oov[f] - oovBefore,
      };
    }
    return true;
  }

  private invalid(mapper: IdMapper, raw: string): false {
    this.lastError = mapper.kind === 'buckets' ? `not a number: ${JSON.stringify(raw)}` : `invalid value ${JSON.stringify(raw)}`;
    return false;
  }

  private codec(featureIndex: number): Codec {
    const c = this.codecs[featureIndex];
    if (c === undefined) throw new EsmmError(`encoder: no feature ${featureIndex} (it has ${this.codecs.length})`);
    return c;
  }
}

/**
 * Codecs for the config's features in order: each embedded feature at the next batch field, each dense
 * numeric one at the next dense column.
 */
function codecsFor(cfg: Config, tableOf: (f: FeatureConfig, i: number) => IdMapper, numericOf: (f: FeatureConfig, i: number) => DenseNumeric): Codec[] {
  let field = 0, column = 0;
  return cfg.features.map((f, i) => (isDenseNumeric(f) ? makeCodec(f, null, numericOf(f, i), column++) : makeCodec(f, tableOf(f, i), null, field++)));
}

function makeCodec(spec: FeatureConfig, mapper: IdMapper | null, dense: DenseNumeric | null, slot: number): Codec {
  const shape: FieldShape = spec.type === 'id_list' ? 'list' : spec.type === 'weighted_id_list' ? 'weighted' : 'single';
  return { spec, column: featureColumn(spec), shape, separator: spec.separator, kvSeparator: spec.kv_separator, mapper, dense, slot, memo: null };
}

/** Whether a feature's rows come from a vocabulary fitted on the training files. */
function isVocabulary(f: FeatureConfig): boolean {
  return f.type !== 'numeric' && f.hash_buckets === undefined && f.num_buckets === undefined;
}

/** The mapper of an embedded feature; `vocab` is used only by vocabulary features. */
function mapperFor(f: FeatureConfig, vocab: string[] | null): IdMapper {
  if (f.type === 'numeric') return new BucketMapper(f.boundaries!);
  if (f.hash_buckets !== undefined) return new HashMapper(f.hash_buckets);
  if (f.num_buckets !== undefined) return new IdentityMapper(f.num_buckets);
  return new VocabMapper(vocab ?? [], f.min_count, f.max_vocab);
}

function mapperFromJSON(j: MapperJSON, where: string): IdMapper {
  switch (j?.kind) {
    case 'vocab': {
      if (!Array.isArray(j.vocab) || !j.vocab.every((v) => typeof v === 'string')) throw new EsmmError(`${where}: vocab must be an array of strings`);
      return new VocabMapper(j.vocab, j.min_count, j.max_vocab ?? undefined);
    }
    case 'hash': return new HashMapper(j.buckets);
    case 'identity': return new IdentityMapper(j.num_buckets);
    case 'buckets': return new BucketMapper(j.boundaries);
    default: throw new EsmmError(`${where}: unknown table ${JSON.stringify(j)}`);
  }
}

export type NullTest = (raw: string) => boolean;

/**
 * A fast "is this value missing" test: '' always, then the configured null values. Called for every value
 * read, so the common cases compare strings directly (a length mismatch fails at once) instead of hashing.
 */
export function nullTest(values: string[]): NullTest {
  const others = [...new Set(values.filter((v) => v !== ''))];
  if (others.length === 0) return (raw) => raw === '';
  if (others.length === 1) {
    const [a] = others;
    return (raw) => raw === '' || raw === a;
  }
  if (others.length === 2) {
    const [a, b] = others;
    return (raw) => raw === '' || raw === a || raw === b;
  }
  const set = new Set(others);
  return (raw) => raw === '' || set.has(raw);
}
