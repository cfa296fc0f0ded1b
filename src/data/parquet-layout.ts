/**
 * The layout of an encoded Parquet file (what `esmm data convert` writes): one INTEGER column per
 * single-id field (the embedding row), INTEGER[] per list field (+ FLOAT[] weights, `<name>:weight`, for
 * weighted lists), FLOAT per dense numeric feature, TINYINT click and buy. The Parquet key-value metadata
 * holds `esmm.format` (this layout as JSON, with the format marker and version) and `esmm.encoder` (the
 * encoder's toJSON()), so a file says how to read it and which encoder made its rows.
 */
import { isDenseNumeric, type Config } from '../config.js';
import { EsmmError } from '../errors.js';
import type { FieldShape } from './batch-builder.js';
import type { Encoder } from './encoder.js';

export const ENCODED_FORMAT = 'esmm-encoded';
export const ENCODED_VERSION = 1;
export const FORMAT_KEY = 'esmm.format';
export const ENCODER_KEY = 'esmm.encoder';

/** What a writer needs to know about the batches: their fields and dense columns, in batch order. */
export interface EncodedSchema {
  /** One per Batch field (embedded features in config order): shape and table size (ids are in [0, tableSize)). */
  fields: { name: string; shape: FieldShape; tableSize: number }[];
  /** Dense numeric features, one per batch.dense column. */
  dense: string[];
}

/** The layout stored in the file (`esmm.format`). */
export interface EncodedLayout {
  format: typeof ENCODED_FORMAT;
  version: number;
  rows: number;
  fields: { name: string; shape: FieldShape; table_size: number; column: string; weights?: string }[];
  dense: { name: string; column: string }[];
  click: string;
  buy: string;
  /** Free-form facts from the writer (`esmm data convert` puts its read statistics here). */
  meta?: unknown;
}

/** Column types of the format. */
export type ColumnKind = 'INTEGER' | 'INTEGER[]' | 'FLOAT[]' | 'FLOAT' | 'TINYINT';

/** The schema of the batches an encoder makes for a config. */
export function encodedSchema(cfg: Config, enc: Encoder): EncodedSchema {
  const sizes = enc.tableSizes();
  const fields: EncodedSchema['fields'] = [];
  const dense: string[] = [];
  cfg.features.forEach((f, i) => {
    if (isDenseNumeric(f)) dense.push(f.name);
    else fields.push({ name: f.name, shape: f.type === 'id_list' ? 'list' : f.type === 'weighted_id_list' ? 'weighted' : 'single', tableSize: sizes[i] });
  });
  return { fields, dense };
}

/** Column names for a schema: features by name, weights `<name>:weight`, labels click/buy unless a feature took those names. */
export function layoutFor(schema: EncodedSchema, rows: number, meta?: unknown): EncodedLayout {
  const taken = new Set([...schema.fields.map((f) => f.name), ...schema.dense]);
  const label = (name: string) => (taken.has(name) ? `${name}:label` : name);
  return {
    format: ENCODED_FORMAT, version: ENCODED_VERSION, rows,
    fields: schema.fields.map((f) => ({ name: f.name, shape: f.shape, table_size: f.tableSize, column: f.name, ...(f.shape === 'weighted' ? { weights: `${f.name}:weight` } : {}) })),
    dense: schema.dense.map((name) => ({ name, column: name })),
    click: label('click'), buy: label('buy'),
    ...(meta === undefined ? {} : { meta }),
  };
}

/** Every column of a layout with its type, in file (and batch) order: fields (ids, then weights), dense, click, buy. */
export function layoutColumns(layout: EncodedLayout): { name: string; kind: ColumnKind }[] {
  const out: { name: string; kind: ColumnKind }[] = [];
  for (const f of layout.fields) {
    out.push({ name: f.column, kind: f.shape === 'single' ? 'INTEGER' : 'INTEGER[]' });
    if (f.weights) out.push({ name: f.weights, kind: 'FLOAT[]' });
  }
  for (const d of layout.dense) out.push({ name: d.column, kind: 'FLOAT' });
  out.push({ name: layout.click, kind: 'TINYINT' }, { name: layout.buy, kind: 'TINYINT' });
  return out;
}

/** The `esmm.format` metadata of `path`, checked. */
export function parseLayout(path: string, text: string): EncodedLayout {
  let j: Partial<EncodedLayout>;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new EsmmError(`${path}: metadata ${FORMAT_KEY} is not valid JSON: ${(e as Error).message}`);
  }
  if (j?.format !== ENCODED_FORMAT) throw new EsmmError(`${path}: metadata ${FORMAT_KEY} is not an esmm encoded layout`);
  if (j.version !== ENCODED_VERSION) {
    const newer = typeof j.version === 'number' && j.version > ENCODED_VERSION ? ' (written by a newer esmm)' : '';
    throw new EsmmError(`${path}: encoded Parquet format version ${JSON.stringify(j.version)}${newer}; this esmm reads version ${ENCODED_VERSION}`);
  }
  const ok = Number.isSafeInteger(j.rows) && j.rows! >= 0 && Array.isArray(j.fields) && Array.isArray(j.dense) && typeof j.click === 'string' && typeof j.buy === 'string'
    && j.fields.every((f) => typeof f?.name === 'string' && typeof f.column === 'string' && ['single', 'list', 'weighted'].includes(f.shape)
      && Number.isSafeInteger(f.table_size) && f.table_size > 0 && (f.shape === 'weighted') === (typeof f.weights === 'string'))
    && j.dense.every((d) => typeof d?.name === 'string' && typeof d.column === 'string');
  if (!ok) throw new EsmmError(`${path}: metadata ${FORMAT_KEY} is malformed`);
  return j as EncodedLayout;
}
