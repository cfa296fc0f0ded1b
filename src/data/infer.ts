/**
 * A starting config from a CSV file: every column other than the two labels becomes a feature: an
 * `id_list` when sampled values contain '|', `numeric` when they are all numbers and some have a fraction
 * (min-max scaled columns, prices), else an `id`. `esmm init` prints it as YAML.
 */
import type { z } from 'zod';
import { ConfigSchema, parseConfig } from '../config.js';
import { EsmmError } from '../errors.js';
import { CsvFile } from './csv.js';
import { parseNumber } from './features.js';

/** A config as written by a user (defaults not yet filled in). */
export type ConfigInput = z.input<typeof ConfigSchema>;
type FeatureInput = ConfigInput['features'][number];

export interface InferOptions {
  /** Field delimiter; by default tab for .tsv/.tab files or a tab-only header, else ','. */
  delimiter?: string;
  /** Data rows to sample. Default 10,000. */
  sampleRows?: number;
}

const LIST_SEPARATOR = '|';
const FEATURE_NAME = /^[A-Za-z0-9_.\-]+$/;

export async function inferConfig(path: string, click: string, buy: string, opts: InferOptions = {}): Promise<ConfigInput> {
  const delimiter = opts.delimiter ?? (await guessDelimiter(path));
  const sampleRows = opts.sampleRows ?? 10_000;
  const file = await CsvFile.open(path, { delimiter });
  const header = file.header;
  const missing = [click, buy].filter((c) => !header.includes(c));
  if (missing.length > 0) {
    file.close();
    const shown = header.slice(0, 40).map((h) => JSON.stringify(h)).join(', ') + (header.length > 40 ? ', ...' : '');
    throw new EsmmError(`${path}: label column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(' and ')} not in the header (columns: ${shown})`);
  }
  // A column without a name cannot be referenced from a config, so it is left out.
  const featureColumns = header.map((name, i) => ({ name, i })).filter((c) => c.name !== click && c.name !== buy && c.name !== '');
  const isList = new Uint8Array(header.length);
  // A column whose sampled values are all numbers, some with a fraction, is a numeric feature.
  const notNumber = new Uint8Array(header.length), fractional = new Uint8Array(header.length);
  let seen = 0;
  sample: for await (const chunk of file.chunks()) {
    for (const record of chunk) {
      if (record.fields === null) continue; // malformed rows are fit's and load's to report
      for (const c of featureColumns) {
        const v = record.fields[c.i];
        if (v.includes(LIST_SEPARATOR)) isList[c.i] = 1;
        if (v === '' || notNumber[c.i]) continue;
        if (Number.isNaN(parseNumber(v))) notNumber[c.i] = 1;
        else if (!/^-?\d+$/.test(v)) fractional[c.i] = 1;
      }
      if (++seen >= sampleRows) break sample;
    }
  }
  const names = featureNames(featureColumns);
  const features: FeatureInput[] = featureColumns.map((c, k) => {
    const f: FeatureInput = { name: names[k] };
    if (names[k] !== c.name) f.column = c.name;
    f.type = isList[c.i] ? 'id_list' : !notNumber[c.i] && fractional[c.i] ? 'numeric' : 'id';
    if (isList[c.i]) f.separator = LIST_SEPARATOR;
    return f;
  });
  if (features.length === 0) throw new EsmmError(`${path}: no columns besides the labels "${click}" and "${buy}"`);
  const input = { format: 'csv' as const, delimiter, header: true as const, click, buy };
  // Fill model and training defaults so the printed config shows every knob.
  const full = parseConfig({ input, features }, path);
  return { input, features, model: full.model, train: full.train };
}

/** Valid, unique feature names for the columns (invalid characters become '_', col_N if nothing is left). */
function featureNames(columns: { name: string; i: number }[]): string[] {
  const used = new Set<string>();
  return columns.map(({ name: column, i }) => {
    let base = FEATURE_NAME.test(column) ? column : column.replace(/[^A-Za-z0-9_.\-]/g, '_');
    if (base !== column && /^_*$/.test(base)) base = `col_${i + 1}`;
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  });
}

async function guessDelimiter(path: string): Promise<string> {
  if (/\.(tsv|tab)(\.|$)/i.test(path)) return '\t';
  const file = await CsvFile.open(path, { delimiter: ',' });
  const header = file.header;
  file.close();
  return header.length === 1 && header[0].includes('\t') ? '\t' : ',';
}
