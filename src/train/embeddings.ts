/**
 * Embeddings out of a trained model: each embedded feature's table with the original value of every row,
 * and the pooled vectors of data rows. Written as CSV, or as Parquet through DuckDB.
 */
import { rmSync } from 'node:fs';
import type { Config } from '../config.js';
import { readEncodedChunks } from '../data/pipeline.js';
import type { Encoder } from '../data/encoder.js';
import type { MapperJSON } from '../data/features.js';
import { Db, sqlString } from '../data/duckdb.js';
import { EsmmError } from '../errors.js';
import { AtomicFileWriter, installFile, tempSibling } from '../io/atomic.js';
import type { EsmmModel } from '../model/esmm.js';
import { formatScore } from '../util/format.js';

export interface EmbeddingTableOut {
  /** Tensor name: `embedding.<feature>` (shared) or `ctr.embedding.<feature>` / `cvr.embedding.<feature>`. */
  tensor: string;
  feature: string;
  rows: number;
  dim: number;
}

/** The embedding tensors of a model, optionally of one feature only. */
export function embeddingTables(model: EsmmModel, field?: string): Array<EmbeddingTableOut & { data: Float32Array }> {
  const all = model.embeddingParams().map((p) => ({ tensor: p.name, feature: p.name.slice(p.name.indexOf('embedding.') + 'embedding.'.length), rows: p.table.rows, dim: p.table.dim, data: p.table.data }));
  if (field === undefined) return all;
  const picked = all.filter((t) => t.feature === field);
  if (picked.length === 0) throw new EsmmError(`--field: the model has no embedding for "${field}" (embedded features: ${[...new Set(all.map((t) => t.feature))].join(', ')})`);
  return picked;
}

/** The original value behind each row of a feature's table: vocabulary value, integer id, bucket range, or hash bucket. */
export function rowLabels(encoder: Encoder, cfg: Config, feature: string): (row: number) => string {
  const index = cfg.features.findIndex((f) => f.name === feature);
  const table = (encoder.toJSON().features[index]?.table ?? null) as MapperJSON | null;
  if (table === null) throw new EsmmError(`feature "${feature}" has no embedding table`);
  return (row) => {
    if (row === 0) return '<oov>';
    switch (table.kind) {
      case 'vocab': return table.vocab[row - 1];
      case 'identity': return String(row - 1);
      case 'hash': return `<hash:${row - 1}>`;
      case 'buckets': {
        const b = table.boundaries;
        return `[${row === 1 ? '-inf' : b[row - 2]},${row - 1 < b.length ? b[row - 1] : 'inf'})`;
      }
    }
  };
}

/** Write rows of text (a header line first) as CSV, or as Parquet when `path` ends in .parquet; atomically. */
export async function writeTable(path: string, lines: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const parquet = /\.parquet$/i.test(path);
  const csvPath = parquet ? tempSibling(path) + '.csv' : path;
  const out = new AtomicFileWriter(csvPath);
  try {
    let text = '';
    for await (const line of lines) {
      text += `${line}\n`;
      if (text.length > 1 << 20) { out.write(text); text = ''; }
    }
    out.write(text);
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  if (!parquet) return;
  const temp = tempSibling(path);
  const db = await Db.connect();
  try {
    await db.run(`COPY (SELECT * FROM read_csv(${sqlString(csvPath)}, header = true, all_varchar = false, quote = '"')) TO ${sqlString(temp)} (FORMAT parquet)`);
    installFile(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new EsmmError(`cannot write ${path}: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    db.close();
    rmSync(csvPath, { force: true });
  }
}

/** CSV field: quoted when it holds a comma, quote or newline. */
export function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Lines of one table: `row,id,e0..e<dim-1>`. */
export function* tableLines(t: EmbeddingTableOut & { data: Float32Array }, label: (row: number) => string): Generator<string> {
  yield ['row', 'id', ...Array.from({ length: t.dim }, (_, d) => `e${d}`)].join(',');
  for (let r = 0; r < t.rows; r++) {
    let line = `${r},${csvField(label(r))}`;
    for (let d = 0; d < t.dim; d++) line += `,${formatScore(t.data[r * t.dim + d])}`;
    yield line;
  }
}

/**
 * Lines of per-row vectors for data rows: `row,e0..` where the vector is the feature's pooled embedding
 * (as the towers receive it), in input order.
 */
export async function* rowVectorLines(model: EsmmModel, cfg: Config, encoder: Encoder, paths: string[], t: EmbeddingTableOut & { data: Float32Array }): AsyncGenerator<string> {
  const fieldIndex = encoder.fieldIndex(t.feature);
  const spec = cfg.features.find((f) => f.name === t.feature)!;
  const table = model.embeddingParams().find((p) => p.name === t.tensor)!.table;
  yield ['row', ...Array.from({ length: t.dim }, (_, d) => `e${d}`)].join(',');
  const { chunks } = readEncodedChunks(paths, cfg, encoder, { onBadRow: 'error', labels: 'ignore' });
  let row = 0;
  for await (const b of chunks) {
    const out = table.pooled(b.fields[fieldIndex], b.size, spec.pooling);
    for (let i = 0; i < b.size; i++, row++) {
      let line = String(row);
      for (let d = 0; d < t.dim; d++) line += `,${formatScore(out[i * t.dim + d])}`;
      yield line;
    }
  }
}
