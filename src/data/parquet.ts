/**
 * Parquet in and out (DuckDB): a user's Parquet file as a RecordSource (parquet-raw.ts), and the encoded
 * Parquet files of `esmm data convert` (layout in parquet-layout.ts), which hold rows already encoded:
 * read straight into Batches (parquet-encoded.ts), written from Batches (parquet-write.ts).
 */
export { openParquetSource, type ParquetSourceOptions } from './parquet-raw.js';
export { openEncodedParquet, type EncodedParquetOptions, type EncodedParquetSource } from './parquet-encoded.js';
export { writeEncodedParquet, type WriteEncodedOptions, type WriteEncodedResult } from './parquet-write.js';
export { encodedSchema, ENCODED_FORMAT, ENCODED_VERSION, type EncodedLayout, type EncodedSchema } from './parquet-layout.js';
