/**
 * Parquet read speed. Generates, in os.tmpdir():
 *  - an encoded Parquet file (what `esmm data convert` writes): 2M rows (--rows), 20 feature columns —
 *    16 single ids with cardinalities from 3 to 1M, 2 id lists (0–5 ids), 2 dense numbers — plus labels;
 *  - the same rows as a raw Parquet file of strings ("v<id>", lists joined with '|'), as a user would have.
 * Then prints rows/s of (a) writing the encoded file, (b) reading it into Batches, (c) reading the raw file
 * through a RecordSource (records of strings; no encoder), each the median of --repeat runs (default 3),
 * by wall time and by CPU time (the process's, DuckDB's threads included; other load on the machine
 * inflates the wall figure), and the peak RSS of each phase (each runs in a process of its own, so one
 * phase's memory does not hide the next one's). Numbers only, never a verdict.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config.js';
import type { Batch } from '../src/data/batch.js';
import { Db, sqlString } from '../src/data/duckdb.js';
import { openEncodedParquet, openParquetSource, writeEncodedParquet, type EncodedSchema } from '../src/data/parquet.js';
import { fileURLToPath } from 'node:url';

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

/** A small fast generator (xorshift32): the benchmark should time the writer, not the random numbers. */
function uniforms(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Synthetic batches: skewed ids (1 + floor(n·u³)), lists of 0–5 ids, uniform dense values, ~5% clicks. */
async function* synthetic(n: number, seed: number): AsyncGenerator<Batch> {
  const u = uniforms(seed);
  for (let start = 0; start < n; start += CHUNK) {
    const size = Math.min(CHUNK, n - start);
    const identity = new Int32Array(size + 1);
    for (let i = 0; i <= size; i++) identity[i] = i;
    const fields = CARDINALITIES.map((c) => {
      const ids = new Int32Array(size);
      for (let i = 0; i < size; i++) { const x = u(); ids[i] = 1 + Math.floor(c * x * x * x); }
      return { ids, offsets: identity.slice(), weights: null };
    });
    for (const c of LIST_CARDINALITIES) {
      const offsets = new Int32Array(size + 1);
      const ids = new Int32Array(size * 5);
      let k = 0;
      for (let i = 0; i < size; i++) {
        const len = Math.floor(u() * 6);
        for (let j = 0; j < len; j++) { const x = u(); ids[k++] = 1 + Math.floor(c * x * x); }
        offsets[i + 1] = k;
      }
      fields.push({ ids: ids.slice(0, k), offsets, weights: null });
    }
    const dense = new Float32Array(size * 2), click = new Float32Array(size), buy = new Float32Array(size);
    for (let i = 0; i < size * 2; i++) dense[i] = u();
    for (let i = 0; i < size; i++) {
      click[i] = u() < 0.05 ? 1 : 0;
      buy[i] = click[i] === 1 && u() < 0.2 ? 1 : 0;
    }
    yield { size, click, buy, fields, dense, denseWidth: 2 };
  }
}

/** One run of a phase in this process: rows, wall and CPU seconds, peak RSS (MB). */
async function run(phase: string, file: string): Promise<{ rows: number; wall: number; cpu: number; peakMb: number }> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const rows = await PHASES[phase](file);
  const used = process.cpuUsage(cpu);
  return { rows, wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6, peakMb: process.resourceUsage().maxRSS / 1024 };
}

const PHASES: Record<string, (file: string) => Promise<number>> = {
  async write(file) {
    return (await writeEncodedParquet(file, { encoder: { bench: true }, schema, chunks: synthetic(rows, 1) })).rows;
  },
  async generate() {
    let n = 0;
    for await (const b of synthetic(rows, 1)) n += b.size;
    return n;
  },
  async encoded(file) {
    const src = await openEncodedParquet(file);
    if (src === null) throw new Error('not recognised as encoded');
    let n = 0;
    for await (const b of src.chunks()) n += b.size;
    src.close();
    return n;
  },
  async raw(file) {
    const cfg = parseConfig({
      features: [
        ...CARDINALITIES.map((_, i) => ({ name: `f${i}` })),
        ...LIST_CARDINALITIES.map((_, i) => ({ name: `l${i}`, type: 'id_list' })),
        { name: 'd0', type: 'numeric' }, { name: 'd1', type: 'numeric' },
      ],
    });
    const src = await openParquetSource(file, cfg);
    let n = 0;
    for await (const records of src.chunks()) n += records.length;
    src.close();
    return n;
  },
};

/** Runs a phase `runs` times, each in a fresh process, and prints the medians and the largest peak RSS. */
function measured(label: string, phase: string, file: string, runs: number): void {
  const results = [];
  for (let r = 0; r < runs; r++) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--phase', phase, '--file', file, '--rows', String(rows)], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`phase ${phase} failed:\n${child.stderr}`);
    results.push(JSON.parse(child.stdout));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const wall = median(results.map((r) => r.wall)), cpu = median(results.map((r) => r.cpu));
  const n = results[0].rows;
  const rate = (s: number) => Math.round(n / s).toLocaleString('en-US').padStart(10);
  const peak = Math.max(...results.map((r) => r.peakMb));
  console.log(`${label.padEnd(36)} ${n} rows  wall ${wall.toFixed(2)} s ${rate(wall)} rows/s  cpu ${cpu.toFixed(2)} s ${rate(cpu)} rows/s  peak RSS ${peak.toFixed(0)} MB`);
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
  if (args.includes('--phase')) {
    const phase = args[args.indexOf('--phase') + 1], file = args[args.indexOf('--file') + 1];
    process.stdout.write(JSON.stringify(await run(phase, file)));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'esmm-bench-parquet-'));
  const encoded = join(dir, 'encoded.parquet'), raw = join(dir, 'raw.parquet');
  console.log(`# ${rows} rows, 20 feature columns (16 ids, 2 lists, 2 dense) + 2 labels; median of ${repeat} runs, each in its own process`);
  try {
    measured('generate batches only (no writing)', 'generate', encoded, 1);
    measured('write encoded (Batch → Parquet)', 'write', encoded, 1);
    console.log(`  encoded file: ${(statSync(encoded).size / 2 ** 20).toFixed(1)} MB`);
    measured('read encoded (Parquet → Batch)', 'encoded', encoded, repeat);
    await writeRawCopy(encoded, raw);
    console.log(`  raw file (strings "v<id>", lists "c<id>|..."): ${(statSync(raw).size / 2 ** 20).toFixed(1)} MB`);
    measured('read raw (Parquet → string records)', 'raw', raw, repeat);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`  kept ${dir}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
