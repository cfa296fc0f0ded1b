/**
 * Where rows come from. Every input format opens as a RecordSource: named columns and chunks of records
 * whose fields are the raw values as strings (lists joined by the feature's separator, weighted pieces as
 * `id:weight`), so one encoder serves every format. Encoded Parquet written by `esmm data convert` skips
 * parsing and encoding altogether and yields batches (EncodedSource).
 */
import { extname } from 'node:path';
import { inputDelimiter, type Config, type InputConfig, type InputFormat } from '../config.js';
import { EsmmError } from '../errors.js';
import type { Batch } from './batch.js';
import { CsvFile, type CsvRecord } from './csv.js';

/** A record: its position (1-based line for text files, row number for Parquet), fields or the error. */
export type SourceRecord = CsvRecord;

export interface RecordSource {
  readonly path: string;
  /** Column names: record.fields[i] is the value of columns[i]. */
  readonly columns: string[];
  /** What record.line counts, for messages (DataError's unit): text 'line's (the default) or 'row's (Parquet). */
  readonly unit?: 'line' | 'row';
  /** Records in file order, in chunks. Breaking out of the loop closes the source. */
  chunks(): AsyncGenerator<SourceRecord[]>;
  close(): void;
}

/** A file of already encoded rows (`esmm data convert`): batches with the encoder that made them. */
export interface EncodedSource {
  readonly path: string;
  /** The encoder's toJSON() the rows were encoded with. */
  readonly encoder: unknown;
  /** Data rows in the file. */
  readonly rows: number;
  chunks(): AsyncGenerator<Batch>;
  close(): void;
}

/**
 * The format of one path: the config's, or for `auto` by extension. A `.parquet` file is Parquet whatever
 * the config says, so a config written for CSV files also reads `esmm data convert`'s output.
 */
export function formatOf(path: string, input: InputConfig): Exclude<InputFormat, 'auto'> {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (input.format !== 'auto') return input.format;
  return ext === '.tsv' || ext === '.tab' ? 'tsv' : 'csv';
}

/**
 * Open a file of the configured input format as raw records. Readers of formats whose rows are bags of
 * features (Ali-CCP) shape each column for the feature that reads it (see ali-ccp.ts), hence the config.
 */
export async function openSource(path: string, cfg: Config): Promise<RecordSource> {
  const format = formatOf(path, cfg.input);
  switch (format) {
    case 'csv':
    case 'tsv':
      return openDelimited(path, cfg.input, format);
    case 'parquet':
      return (await import('./parquet.js')).openParquetSource(path, cfg);
    case 'ali-ccp':
      return (await import('./ali-ccp.js')).openAliCcpSource(path, cfg);
    case 'ali-ccp-tokens':
      return (await import('./ali-ccp.js')).openAliCcpTokenSource(path, cfg);
  }
}

/** An encoded Parquet file's batches, or null when `path` is not one (any other format or a raw Parquet file). */
export async function openEncoded(path: string, input: InputConfig): Promise<EncodedSource | null> {
  if (formatOf(path, input) !== 'parquet') return null;
  return (await import('./parquet.js')).openEncodedParquet(path);
}

async function openDelimited(path: string, input: InputConfig, format: 'csv' | 'tsv'): Promise<RecordSource> {
  const delimiter = format === 'tsv' ? '\t' : inputDelimiter(input);
  if (input.header) {
    const file = await CsvFile.open(path, { delimiter });
    if (file.header.some((h) => h.includes('\u0000'))) {
      file.close();
      throw new EsmmError(`${path}: not a text file (NUL bytes in its first line): is it Parquet? Name it .parquet or set input.format`);
    }
    return { path, columns: file.header, chunks: () => file.chunks(), close: () => file.close() };
  }
  const columns = input.columns;
  if (!columns) throw new EsmmError(`${path}: input.columns must name the columns of a file without a header`);
  const file = await CsvFile.open(path, { delimiter, columns });
  return { path, columns, chunks: () => file.chunks(), close: () => file.close() };
}
