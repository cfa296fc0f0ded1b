/** Parquet input and encoded-Parquet output (DuckDB). Placeholder until the Parquet reader lands. */
import type { Config } from '../config.js';
import { EsmmError } from '../errors.js';
import type { EncodedSource, RecordSource } from './source.js';

export async function openParquetSource(path: string, _cfg: Config): Promise<RecordSource> {
  throw new EsmmError(`${path}: Parquet input is not available yet`);
}

export async function openEncodedParquet(_path: string): Promise<EncodedSource | null> {
  return null;
}
