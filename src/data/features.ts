/**
 * The per-feature pieces of the encoder: mappers from a raw value to an embedding row (vocabulary, hash
 * buckets, integer ids, numeric buckets), the value counts a vocabulary is built from, and the
 * normalisation of dense numeric features.
 */
import type { FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import { hashBucketRow } from './hash.js';
import { StringTable } from './string-table.js';

/** What row() returns for a value that cannot be mapped at all (a non-number for numeric buckets). */
export const INVALID = -1;

export type MapperJSON =
  | { kind: 'vocab'; min_count: number; max_vocab: number | null; vocab: string[] }
  | { kind: 'hash'; buckets: number }
  | { kind: 'identity'; num_buckets: number }
  | { kind: 'buckets'; boundaries: number[] };

export interface IdMapper {
  readonly kind: MapperJSON['kind'];
  /** Rows in the table, row 0 included. */
  readonly tableSize: number;
  /** Row of one non-missing value: ≥ 1, 0 when it has none (OOV), INVALID when it is not a valid value. */
  row(value: string): number;
  /** Start a lookup early (see StringTable.prefetch); finish it with rowPrefetched(value). */
  prefetch(value: string): number;
  rowPrefetched(value: string): number;
  toJSON(): MapperJSON;
}

export class VocabMapper implements IdMapper {
  readonly kind = 'vocab';
  readonly tableSize: number;
  private readonly rows: StringTable;

  constructor(readonly vocab: string[], readonly minCount: number, readonly maxVocab: number | undefined) {
    this.tableSize = vocab.length + 1;
    this.rows = StringTable.from(vocab);
    if (this.rows.size !== vocab.length) throw new EsmmError('encoder: vocabulary has duplicate values');
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

  toJSON(): MapperJSON {
    return { kind: 'vocab', min_count: this.minCount, max_vocab: this.maxVocab ?? null, vocab: this.vocab };
  }
}

/** A mapper computing each row directly, with nothing to fetch ahead (no table to miss in the cache). */
abstract class DirectMapper implements IdMapper {
  abstract readonly kind: MapperJSON['kind'];
  abstract readonly tableSize: number;
  abstract row(value: string): number;
  abstract toJSON(): MapperJSON;

  prefetch(): number {
    return 0;
  }

  rowPrefetched(value: string): number {
    return this.row(value);
  }
}

export class HashMapper extends DirectMapper implements IdMapper {
  readonly kind = 'hash';
  readonly tableSize: number;

  constructor(readonly buckets: number) {
    super();
    checkCount(buckets, 'hash buckets');
    this.tableSize = buckets + 1;
  }

  row(value: string): number {
    return hashBucketRow(value, this.buckets);
  }

  toJSON(): MapperJSON {
    return { kind: 'hash', buckets: this.buckets };
  }
}

/** Values that are already integer ids in [0, numBuckets) (EasyRec's num_buckets): row = 1 + id. */
export class IdentityMapper extends DirectMapper implements IdMapper {
  readonly kind = 'identity';
  readonly tableSize: number;

  constructor(readonly numBuckets: number) {
    super();
    checkCount(numBuckets, 'num_buckets');
    this.tableSize = numBuckets + 1;
  }

  row(value: string): number {
    // Digits only (so "1e3", " 7", "0x10" are not ids); a decimal point with zeros after it is accepted.
    let id = 0;
    const n = value.length;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      id = id * 10 + c;
    }
    if (i === 0) return 0;
    if (i < n && !/^\.0*$/.test(value.slice(i))) return 0;
    return id < this.numBuckets ? id + 1 : 0;
  }

  toJSON(): MapperJSON {
    return { kind: 'identity', num_buckets: this.numBuckets };
  }
}

/** A number bucketised by ascending boundaries: bucket i holds [b[i-1], b[i]); row = 1 + bucket. */
export class BucketMapper extends DirectMapper implements IdMapper {
  readonly kind = 'buckets';
  readonly tableSize: number;
  private readonly bounds: Float64Array;

  constructor(readonly boundaries: number[]) {
    super();
    if (!Array.isArray(boundaries) || boundaries.length === 0 || !boundaries.every((b, i) => Number.isFinite(b) && (i === 0 || b > boundaries[i - 1]))) {
      throw new EsmmError('encoder: boundaries must be ascending finite numbers');
    }
    this.bounds = Float64Array.from(boundaries);
    this.tableSize = boundaries.length + 2;
  }

  row(value: string): number {
    const x = parseNumber(value);
    if (Number.isNaN(x)) return INVALID;
    // upper bound: the number of boundaries ≤ x
    let lo = 0, hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bounds[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  toJSON(): MapperJSON {
    return { kind: 'buckets', boundaries: this.boundaries };
  }
}

/** A decimal number (JS syntax: "1", "-2.5", "1e-3", "inf" is not one); NaN for anything else. */
export function parseNumber(s: string): number {
  const x = Number(s);
  return s.trim() === '' || !Number.isFinite(x) ? NaN : x;
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new EsmmError(`encoder: ${what} must be a positive integer, got ${JSON.stringify(n)}`);
}

/** Occurrences per distinct value, for building a vocabulary. */
export class ValueCounts {
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
   * same files in the same order always give the same vocabulary), the first maxVocab of them.
   */
  vocabulary(minCount: number, maxVocab = Infinity): string[] {
    const keys = this.table.keys, counts = this.counts, n = keys.length;
    let kept = 0, maxCount = 0;
    for (let i = 0; i < n; i++) {
      if (counts[i] < minCount) continue;
      kept++;
      if (counts[i] > maxCount) maxCount = counts[i];
    }
    let order: ArrayLike<number>;
    if ((maxCount + 1) * n <= Number.MAX_SAFE_INTEGER) {
      // One numeric key per value, sorted natively: far faster than a comparator over millions of values.
      const keyed = new Float64Array(kept);
      for (let i = 0, k = 0; i < n; i++) if (counts[i] >= minCount) keyed[k++] = (maxCount - counts[i]) * n + i;
      keyed.sort();
      order = keyed.map((key) => key % n);
    } else {
      const list: number[] = [];
      for (let i = 0; i < n; i++) if (counts[i] >= minCount) list.push(i);
      list.sort((a, b) => counts[b] - counts[a] || a - b);
      order = list;
    }
    const size = Math.min(order.length, maxVocab);
    return Array.from({ length: size }, (_, i) => keys[order[i]]);
  }
}

/** Running statistics of a numeric feature over the training rows (for its normalisation). */
export class NumericStats {
  count = 0;
  mean = 0;
  private m2 = 0;
  min = Infinity;
  max = -Infinity;

  constructor(private readonly spec: FeatureConfig) {}

  /** Add one raw value; values that are not numbers are left to the loading pass to report. */
  add(raw: string): void {
    const x = transform(this.spec.normalization, parseNumber(raw));
    if (Number.isNaN(x)) return;
    // Welford's update: stable for millions of values.
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  get std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / this.count) : 0;
  }
}

export interface DenseNumericJSON {
  normalization: FeatureConfig['normalization'];
  /** encoded = (transform(x) − offset) · scale */
  offset: number;
  scale: number;
  /** The encoded value of a missing value. */
  missing: number;
}

/** A dense numeric feature: parse, transform, shift and scale. */
export class DenseNumeric {
  private constructor(readonly normalization: FeatureConfig['normalization'], readonly offset: number, readonly scale: number, readonly missingValue: number) {}

  static fit(f: FeatureConfig, stats: NumericStats | null): DenseNumeric {
    let offset = 0, scale = 1;
    if (f.normalization === 'standard' && stats && stats.count > 0) {
      offset = stats.mean;
      scale = stats.std > 0 ? 1 / stats.std : 1;
    } else if (f.normalization === 'minmax' && stats && stats.count > 0) {
      offset = stats.min;
      scale = stats.max > stats.min ? 1 / (stats.max - stats.min) : 1;
    }
    const d = new DenseNumeric(f.normalization, offset, scale, 0);
    return f.default_value === undefined ? d : new DenseNumeric(f.normalization, offset, scale, d.encodeNumber(f.default_value));
  }

  static fromJSON(j: DenseNumericJSON, where: string): DenseNumeric {
    if (!j || ![j.offset, j.scale, j.missing].every(Number.isFinite)) throw new EsmmError(`${where}: numeric settings must be finite numbers`);
    return new DenseNumeric(j.normalization, j.offset, j.scale, j.missing);
  }

  /** The encoded value, or NaN when `raw` is not a number. */
  encode(raw: string): number {
    return this.encodeNumber(parseNumber(raw));
  }

  encodeNumber(x: number): number {
    return (transform(this.normalization, x) - this.offset) * this.scale;
  }

  toJSON(): DenseNumericJSON {
    return { normalization: this.normalization, offset: this.offset, scale: this.scale, missing: this.missingValue };
  }
}

function transform(normalization: FeatureConfig['normalization'], x: number): number {
  return normalization === 'log1p' ? Math.sign(x) * Math.log1p(Math.abs(x)) : x;
}
