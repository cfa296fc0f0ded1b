/**
 * `esmm data inspect`: what a data set holds, read through the same sources and row validation as
 * training — rows, label rates, per-feature cardinality and missing values, list lengths, numeric ranges,
 * and the invalid rows found (always counted, never fatal, so one run shows every problem).
 */
import { featureColumn, isDenseNumeric, type Config } from '../config.js';
import { EsmmError } from '../errors.js';
import { Encoder, nullTest } from './encoder.js';
import { fnv1a32 } from './hash.js';
import { expandPaths } from './paths.js';
import { openEncoded } from './source.js';
import { parseNumber } from './features.js';
import { scanLabeledRows, type RowCounts, type RowProblem } from './rows.js';

export interface FeatureSummary {
  name: string;
  column: string;
  type: string;
  /** Distinct values (list pieces counted one by one): exact up to EXACT_LIMIT, then a HyperLogLog estimate. */
  distinct: number;
  distinctExact: boolean;
  /** Rows whose value is missing (empty, a null value, an empty list). */
  missing: number;
  /** List features: mean ids per row, and the longest list. */
  meanLength?: number;
  maxLength?: number;
  /** Numeric features: range and mean of the values present. */
  min?: number;
  max?: number;
  mean?: number;
}

export interface InspectReport extends RowCounts {
  clickRate: number | null;
  buyRate: number | null;
  /** Conversions per click. */
  cvrOnClicks: number | null;
  features: FeatureSummary[];
}

const EXACT_LIMIT = 1 << 16;

export async function inspectData(paths: string[], cfg: Config, maxRows?: number): Promise<InspectReport> {
  for (const path of expandPaths(paths)) {
    const encoded = await openEncoded(path, cfg.input);
    if (encoded) {
      encoded.close();
      throw new EsmmError(`${path}: already encoded by \`esmm data convert\` (${encoded.rows} rows): inspect the files it was converted from`);
    }
  }
  const isNull = nullTest(cfg.input.null_values);
  const summaries = cfg.features.map((f) => new ColumnSummary(f.type, isDenseNumeric(f), f.separator, f.type === 'weighted_id_list' ? f.kv_separator : null));
  // Values are checked by encoding them, so a row is invalid here exactly when training would reject it;
  // the row is discarded at once (the builder never grows).
  const checker = Encoder.unfitted(cfg);
  const scratch = checker.newBatchBuilder(1), scratchCounters = checker.newCounters();
  const columns = cfg.features.map(featureColumn);
  const counts = await scanLabeledRows(paths, cfg, { onBadRow: 'skip', maxRows }, (_path, featureColumns) => (fields) => {
    // validate first so an invalid row leaves no trace in the summaries
    const bad = checker.encodeRow(scratch, fields, featureColumns, scratchCounters);
    scratch.discardRow();
    if (bad >= 0) return { column: columns[bad], reason: checker.lastError } satisfies RowProblem;
    for (let f = 0; f < summaries.length; f++) summaries[f].add(fields[featureColumns[f]], isNull);
    return null;
  });
  const rate = (n: number, d: number) => (d > 0 ? n / d : null);
  return {
    ...counts,
    clickRate: rate(counts.clicks, counts.rowsUsed),
    buyRate: rate(counts.buys, counts.rowsUsed),
    cvrOnClicks: rate(counts.buys, counts.clicks),
    features: cfg.features.map((f, i) => summaries[i].summary(f.name, featureColumn(f), f.type)),
  };
}

class ColumnSummary {
  private readonly distinct = new DistinctCounter();
  private missing = 0;
  private rows = 0;
  private pieces = 0;
  private maxLength = 0;
  private sum = 0;
  private count = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly isList: boolean;

  constructor(type: string, private readonly dense: boolean, private readonly separator: string, private readonly kv: string | null) {
    this.isList = type === 'id_list' || type === 'weighted_id_list';
  }

  add(raw: string, isNull: (v: string) => boolean): void {
    this.rows++;
    if (isNull(raw)) {
      this.missing++;
      return;
    }
    if (this.dense) {
      const x = parseNumber(raw);
      this.count++;
      this.sum += x;
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      this.distinct.add(raw);
      return;
    }
    if (!this.isList) {
      this.distinct.add(raw);
      return;
    }
    let length = 0;
    for (let piece of raw.split(this.separator)) {
      if (this.kv !== null) {
        const at = piece.lastIndexOf(this.kv);
        if (at >= 0) piece = piece.slice(0, at);
      }
      if (isNull(piece)) continue;
      this.distinct.add(piece);
      length++;
    }
    if (length === 0) this.missing++;
    this.pieces += length;
    if (length > this.maxLength) this.maxLength = length;
  }

  summary(name: string, column: string, type: string): FeatureSummary {
    const s: FeatureSummary = { name, column, type, distinct: this.distinct.estimate(), distinctExact: this.distinct.exact, missing: this.missing };
    if (this.isList) {
      s.meanLength = this.rows > 0 ? this.pieces / this.rows : 0;
      s.maxLength = this.maxLength;
    }
    if (this.dense && this.count > 0) {
      s.min = this.min;
      s.max = this.max;
      s.mean = this.sum / this.count;
    }
    return s;
  }
}

/**
 * Distinct values in bounded memory: an exact set up to EXACT_LIMIT values, then HyperLogLog with 2^14
 * registers (standard error about 0.8%) over a 64-bit hash made of two mixed 32-bit FNV-1a variants.
 */
export class DistinctCounter {
  private set: Set<string> | null = new Set();
  private readonly registers = new Uint8Array(1 << 14);

  get exact(): boolean {
    return this.set !== null;
  }

  add(value: string): void {
    if (this.set !== null) {
      this.set.add(value);
      if (this.set.size <= EXACT_LIMIT) return;
      for (const v of this.set) this.addHashed(v);
      this.set = null;
      return;
    }
    this.addHashed(value);
  }

  estimate(): number {
    if (this.set !== null) return this.set.size;
    const m = this.registers.length;
    let sum = 0, zeros = 0;
    for (let i = 0; i < m; i++) {
      sum += 2 ** -this.registers[i];
      if (this.registers[i] === 0) zeros++;
    }
    const raw = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
    // small-range correction (linear counting)
    return Math.round(raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw);
  }

  private addHashed(value: string): void {
    // FNV-1a mixes its low bits poorly on similar strings: murmur3's finalizer spreads them.
    const h1 = fmix32(fnv1a32(value));
    const h2 = fmix32(fnv1a32(`\u0001${value}`) ^ 0x9e3779b9);
    const index = h1 >>> 18; // top 14 bits pick the register
    // rank of the first set bit in the remaining 18 + 32 bits
    let rank = 1;
    const bits = ((h1 & 0x3ffff) * 2 ** 32) + h2;
    const width = 50;
    let top = 2 ** (width - 1);
    while (rank <= width && bits < top) { rank++; top /= 2; }
    if (rank > this.registers[index]) this.registers[index] = rank;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
