/**
 * The columns both Ali-CCP readers produce, and how the features of one row become their values.
 *
 * Columns: the click label, the buy label (named by input.click / input.buy, default `click`, `buy`),
 * `sample_id`, then one column per field id: the fixed Ali-CCP field list, then any other field a config
 * feature reads (feature.column ?? feature.name), in config order.
 *
 * A row of either format is a bag of (field, feat id, value) triples. Each field column's value is shaped
 * for the feature that reads it, so the shared encoder needs nothing format-specific:
 *   id_list (and columns no feature reads)  feat ids joined by the feature's separator
 *   weighted_id_list                        `feat<kv_separator>value` pieces joined by the separator
 *   id                                      the first feat id (a field is occasionally repeated, e.g. 853)
 *   numeric                                 the sum of the values (token format: the number of feats)
 * A field the row lacks gives the empty value (missing id, empty list). Fields of a row that no column
 * names are ignored: they are simply not read (their ids are collected in `unknownFields` for diagnostics).
 */
import { featureColumn, type Config, type FeatureConfig } from '../config.js';
import { EsmmError } from '../errors.js';

/** The Ali-CCP field ids, in the order of their columns (after click, buy, sample_id). */
export const ALI_CCP_FIELDS: readonly string[] = [
  '101', '109_14', '110_14', '121', '122', '124', '125', '126', '127', '127_14', '128', '129', '150_14',
  '205', '206', '207', '210', '216', '301', '508', '509', '702', '853',
];
/** Fields that normally hold several feats per row. */
export const ALI_CCP_MULTI_VALUED: readonly string[] = ['109_14', '110_14', '127_14', '150_14', '210'];

export const SAMPLE_ID = 'sample_id';
/** Index of the first field column: click, buy and sample_id come first. */
export const FIRST_FIELD = 3;

const LIST = 0, WEIGHTED = 1, FIRST = 2, SUM = 3;
type ShapeKind = typeof LIST | typeof WEIGHTED | typeof FIRST | typeof SUM;

interface Shape {
  kind: ShapeKind;
  separator: string;
  kv: string;
  /** The feature that chose this shape, for messages. */
  feature: string | null;
}

export interface AliCcpLayout {
  /** All column names: click, buy, sample_id, fields. */
  readonly columns: string[];
  /** Field id → index among the field columns (column index − FIRST_FIELD). */
  readonly fieldIndex: Map<string, number>;
  readonly shapes: Shape[];
}

/** The columns and per-column shapes for a config. `source` names the file in errors. */
export function aliCcpLayout(cfg: Config, source: string): AliCcpLayout {
  const head = [cfg.input.click, cfg.input.buy, SAMPLE_ID];
  if (new Set(head).size !== head.length) {
    throw new EsmmError(`${source}: input.click, input.buy and "${SAMPLE_ID}" must be different column names`);
  }
  for (const name of head) {
    if (ALI_CCP_FIELDS.includes(name)) throw new EsmmError(`${source}: label column "${name}" is an Ali-CCP field id; name the labels otherwise`);
  }
  const fields = [...ALI_CCP_FIELDS];
  const shapes: Shape[] = fields.map(() => ({ kind: LIST, separator: '|', kv: ':', feature: null }));
  const fieldIndex = new Map(fields.map((f, i) => [f, i]));
  for (const f of cfg.features) {
    const column = featureColumn(f);
    if (head.includes(column)) continue; // labels and sample_id are plain values
    let at = fieldIndex.get(column);
    if (at === undefined) {
      at = fields.length;
      fields.push(column);
      fieldIndex.set(column, at);
      shapes.push({ kind: LIST, separator: '|', kv: ':', feature: null });
    }
    const shape = shapeOf(f);
    const prev = shapes[at];
    if (prev.feature !== null && !sameShape(prev, shape)) {
      throw new EsmmError(
        `${source}: features "${prev.feature}" and "${f.name}" read field ${column} in different ways (type, separator or kv_separator); ` +
          `Ali-CCP values are shaped per field, so they must agree`,
      );
    }
    if (prev.feature === null) shapes[at] = shape;
  }
  return { columns: [...head, ...fields], fieldIndex, shapes };
}

function shapeOf(f: FeatureConfig): Shape {
  const kind = f.type === 'id' ? FIRST : f.type === 'weighted_id_list' ? WEIGHTED : f.type === 'numeric' ? SUM : LIST;
  return { kind, separator: f.separator, kv: f.kv_separator, feature: f.name };
}

function sameShape(a: Shape, b: Shape): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === LIST) return a.separator === b.separator;
  if (a.kind === WEIGHTED) return a.separator === b.separator && a.kv === b.kv;
  return true;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Gathers the features of one row and shapes them into field values. Reused row after row: add() the
 * triples, take() the values (which resets it).
 */
export class FieldCollector {
  /** Field ids seen that no column names (ignored). */
  readonly unknownFields = new Set<string>();
  /** Pieces gathered per field column (null: none yet); joined once in take(), so values are flat strings. */
  private readonly pieces: (string[] | null)[];
  private readonly sums: Float64Array;
  private readonly touched: number[] = [];
  private readonly kinds: Uint8Array;
  private readonly separators: string[];
  private readonly kvs: string[];

  constructor(private readonly layout: AliCcpLayout) {
    const n = layout.shapes.length;
    this.pieces = new Array<string[] | null>(n).fill(null);
    this.sums = new Float64Array(n);
    this.kinds = Uint8Array.from(layout.shapes, (s) => s.kind);
    this.separators = layout.shapes.map((s) => s.separator);
    this.kvs = layout.shapes.map((s) => s.kv);
  }

  get fieldCount(): number {
    return this.pieces.length;
  }

  /**
   * Adds one feature. `value` is its weight as written in the file ('1' in the token format). Returns
   * why it is unusable, or null.
   */
  add(field: string, feat: string, value: string): string | null {
    const at = this.layout.fieldIndex.get(field);
    if (at === undefined) {
      if (this.unknownFields.size < 1000) this.unknownFields.add(field);
      return null;
    }
    const kind = this.kinds[at];
    if (kind === SUM) {
      if (!NUMBER.test(value)) return `field ${field}: value ${JSON.stringify(value)} is not a number`;
    } else if (kind !== FIRST) {
      const sep = this.separators[at];
      if (feat.includes(sep)) return `field ${field}: feat id ${JSON.stringify(feat)} contains the separator ${JSON.stringify(sep)}`;
      if (kind === WEIGHTED && feat.includes(this.kvs[at])) {
        return `field ${field}: feat id ${JSON.stringify(feat)} contains the kv_separator ${JSON.stringify(this.kvs[at])}`;
      }
    }
    let list = this.pieces[at];
    if (list === null) {
      list = this.pieces[at] = [];
      this.touched.push(at);
    }
    if (kind === SUM) {
      this.sums[at] += Number(value);
    } else if (kind === WEIGHTED) {
      list.push(feat + this.kvs[at] + value);
    } else if (kind === LIST || list.length === 0) {
      list.push(feat); // FIRST keeps only the first
    }
    return null;
  }

  /** Writes the shaped values into `out[offset + i]` for every field column ('' when absent) and resets. */
  take(out: string[], offset: number): void {
    const n = this.pieces.length;
    for (let i = 0; i < n; i++) out[offset + i] = '';
    for (const at of this.touched) {
      const list = this.pieces[at]!;
      const kind = this.kinds[at];
      out[offset + at] =
        kind === SUM ? String(this.sums[at]) : list.length === 1 ? flat(list[0]) : list.join(this.separators[at]);
      this.pieces[at] = null;
      this.sums[at] = 0;
    }
    this.touched.length = 0;
  }

  /** Discards what was added since the last take(). */
  reset(): void {
    for (const at of this.touched) {
      this.pieces[at] = null;
      this.sums[at] = 0;
    }
    this.touched.length = 0;
  }

  /**
   * Merges a row's own field values (`own`, from take()) with those of the common-features row it
   * references (`common`), own features first, into `out[offset + i]`.
   */
  merge(own: string[], common: readonly string[], out: string[], offset: number): void {
    for (let i = 0; i < own.length; i++) {
      const a = own[i], b = common[i];
      let v: string;
      if (b === '') v = a;
      else if (a === '') v = b;
      else {
        const kind = this.kinds[i];
        v = kind === FIRST ? a : kind === SUM ? String(Number(a) + Number(b)) : a + this.separators[i] + b;
      }
      out[offset + i] = v;
    }
  }
}

/**
 * A copy of `s` that does not keep the string it was sliced from alive (V8 slices share their parent's
 * characters: a cached feat id would otherwise pin the whole line it came from).
 */
function flat(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** A value short enough for a message. */
export function clip(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
