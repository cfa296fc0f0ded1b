/**
 * Parquet read speed. Generates, in os.tmpdir():
 *  - an encoded Parquet file (what `esmm data convert` writes): 2M rows (--rows), 20 feature columns —
 *    16 single ids with cardinalities from 3 to 1M, 2 id lists (0–5 ids), 2 dense numbers — plus labels;
 *  - the same rows as a raw Parquet file of strings ("v<id>", lists joined with '|'), as a user would have.
 * Then prints rows/s of (a) writing the encoded file, (b) reading it into Batches, (c) reading the raw file
 * through a RecordSource (records of strings; no encoder), each the median of --repeat runs (default 3),
 * by wall time and by this process's CPU time (DuckDB's threads included; other load on the machine
 * inflates the wall figure), and the peak RSS sampled during each phase. Numbers only, never a verdict.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config.js';
import type { Batch } from '../src/data/batch.js';
import { Db, sqlString } from '../src/data/duckdb.js';
import { openEncodedParquet, openParquetSource, writeEncodedParquet, type EncodedSchema } from '../src/data/parquet.js';
import { Rng } from '../src/util/rng.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : NaN);
const rows = option('--rows') || 2_000_000;
const repeat = option('--repeat') || 3;
const keep = args.includes('--keep');

const CARDINALITIES = [3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 200_000, 300_000, 500_000, 700_000, 900_000, 1_000_000];
const LIST_CARDINALITIES = [10_000, 1000];
const CHUNK = 65_536;

const schema: EncodedSchema = {
  fields: [
    ...CARDINALITIES.map((c, i) => ({ name: `f${i}`, shape: 'single' as const, tableSize: c + 1 })),
    ...LIST_CARDINALITIES.map((c, i) => ({ name: `l${i}`, shape: 'list' as const, tableSize: c + 1 })),
  ],
  dense: ['d0', 'd1'],
};

/** Synthetic batches: skewed ids (floor(n·u³) + 1), lists of 0–5 ids, uniform dense values, ~5% clicks. */
async function* synthetic(n: number, seed: number): AsyncGenerator<Batch> {
  const rng = new Rng(seed);
  for (let start = 0; start < n; start += CHUNK) {
    const size = Math.min(CHUNK, n - start);
    const fields = CARDINALITIES.map((c) => {
      const ids = new Int32Array(size);
      for (let i = 0; i < size; i++) ids[i] = 1 + Math.floor(c * rng.uniform() ** 3);
      return { ids, offsets: Int32Array.from({ length: size + 1 }, (_, i) => i), weights: null };
    });
    for (const c of LIST_CARDINALITIES) {
      const offsets = new Int32Array(size + 1);
      const ids: number[] = [];
      for (let i = 0; i < size; i++) {
        const k = Math.floor(rng.uniform() * 6);
        for (let j = 0; j < k; j++) ids.push(1 + Math.floor(c * rng.uniform() ** 2));
        offsets[i + 1] = ids.length;
      }
      fields.push({ ids: Int32Array.from(ids), offsets, weights: null });
    }
    const dense = Float32Array.from({ length: size * 2 }, () => rng.uniform());
    const click = Float32Array.from({ length: size }, () => (rng.uniform() < 0.05 ? 1 : 0));
    const buy = Float32Array.from(click, (y) => (y === 1 && rng.uniform() < 0.2 ? 1 : 0));
    yield { size, click, buy, fields, dense, denseWidth: 2 };
  }
}

/** Runs `work`, returning its rows, wall and CPU seconds and the peak RSS seen meanwhile. */
async function phase(work: () => Promise<number>) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const n = await work();
  const used = process.cpuUsage(cpu);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { rows: n, wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6, peakMb: peak / 2 ** 20 };
}

async function measured(label: string, runs: number, work: () => Promise<number>): Promise<void> {
  const results = [];
  for (let r = 0; r < runs; r++) results.push(await phase(work));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const wall = median(results.map((r) => r.wall)), cpu = median(results.map((r) => r.cpu));
  const n = results[0].rows;
  const rate = (s: number) => Math.round(n / s).toLocaleString('en-US').padStart(10);
  const peak = Math.max(...results.map((r) => r.peakMb));
  console.log(`${label.padEnd(34)} ${n} rows  wall ${wall.toFixed(2)} s ${rate(wall)} rows/s  cpu ${cpu.toFixed(2)} s ${rate(cpu)} rows/s  peak RSS ${peak.toFixed(0)} MB`);
}

async function writeRawCopy(encoded: string, raw: string): Promise<void> {
  const db = await Db.connect();
  try {
    const singles = CARDINALITIES.map((_, i) => `'v' || f${i} AS f${i}`);
    const lists = LIST_CARDINALITIES.map((_, i) => `array_to_string(list_transform(l${i}, x -> 'c' || x), '|') AS l${i}`);
    await db.run(`COPY (SELECT ${[...singles, ...lists, 'd0', 'd1', 'click', 'buy'].join(', ')} FROM read_parquet(${sqlString(encoded)})) TO ${sqlString(raw)} (FORMAT parquet)`);
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'esmm-bench-parquet-'));
  const encoded = join(dir, 'encoded.parquet'), raw = join(dir, 'raw.parquet');
  console.log(`# ${rows} rows, 20 feature columns (16 ids, 2 lists, 2 dense) + 2 labels; median of ${repeat}; files in ${dir}`);
  try {
    await measured('write encoded (Batch → Parquet)', 1, async () => (await writeEncodedParquet(encoded, { encoder: { bench: true }, schema, chunks: synthetic(rows, 1) })).rows);
    console.log(`  encoded file: ${(statSync(encoded).size / 2 ** 20).toFixed(1)} MB`);
    await measured('read encoded (Parquet → Batch)', repeat, async () => {
      const src = await openEncodedParquet(encoded);
      if (src === null) throw new Error('not recognised as encoded');
      let n = 0;
      for await (const b of src.chunks()) n += b.size;
      src.close();
      return n;
    });
    await writeRawCopy(encoded, raw);
    console.log(`  raw file: ${(statSync(raw).size / 2 ** 20).toFixed(1)} MB`);
    const cfg = parseConfig({
      features: [
        ...CARDINALITIES.map((_, i) => ({ name: `f${i}` })),
        ...LIST_CARDINALITIES.map((_, i) => ({ name: `l${i}`, type: 'id_list' })),
        { name: 'd0', type: 'numeric' }, { name: 'd1', type: 'numeric' },
      ],
    });
    await measured('read raw (Parquet → string records)', repeat, async () => {
      const src = await openParquetSource(raw, cfg);
      let n = 0;
      for await (const records of src.chunks()) n += records.length;
      src.close();
      return n;
    });
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
