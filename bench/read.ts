/**
 * CSV read speed: generates a synthetic impression log (default 2M rows, 20 columns: click, buy, 17
 * categorical id columns with cardinalities from 3 to ~1M, and one '|' list column) in os.tmpdir(), then
 * prints rows/s for (a) raw parsing, (b) Encoder.fit, (c) loadDataset into one Batch, (d) streaming encoded
 * chunks (what training reads: batches, never the whole file) with the vocabularies and (e) with every
 * feature hashed instead, medians of --repeat runs. Numbers only.
 *
 * Ids are skewed (id = floor(n·u³)), milder than the Zipf-like skew of real logs, so large tables miss the
 * cache more than they would in practice; --cap N caps every cardinality at N to show the low-cardinality case.
 *
 *   node dist/bench/read.js [--rows 2000000] [--cap N] [--keep]
 *   node --import tsx bench/read.ts
 */
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config.js';
import { CsvFile } from '../src/data/csv.js';
import { loadDataset } from '../src/data/dataset.js';
import { Encoder } from '../src/data/encoder.js';
import { readEncodedChunks } from '../src/data/pipeline.js';
import { CARDINALITIES, generate } from './gen-log.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : NaN);
const rows = option('--rows') || 2_000_000;
const cap = option('--cap') || Infinity;
const keep = args.includes('--keep');
const repeat = option('--repeat') || 3;

/** Runs `work` and prints its rows/s by wall time and by this process's CPU time (other load on the machine inflates the first). */
async function timed(label: string, work: () => Promise<number>): Promise<number> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const rows = await work();
  const seconds = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const rate = (s: number) => Math.round(rows / s).toLocaleString('en-US').padStart(10);
  console.log(`${label.padEnd(18)} ${rows} rows  wall ${seconds.toFixed(2)} s ${rate(seconds)} rows/s  cpu ${cpuSeconds.toFixed(2)} s ${rate(cpuSeconds)} rows/s`);
  return rows / seconds;
}

async function main(): Promise<void> {
  const path = join(tmpdir(), `esmm-bench-read-${rows}${cap < Infinity ? `-cap${cap}` : ''}.csv`);
  const t = performance.now();
  await generate(path, rows, cap);
  console.log(`generated ${path} (${(statSync(path).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const cfg = parseConfig({
    input: { click: 'click', buy: 'buy' },
    features: [...CARDINALITIES.map((_, i) => ({ name: `f${i + 1}` })), { name: 'tags', type: 'id_list' }],
  });

  await timed('(a) parse', async () => {
    let parsed = 0;
    const file = await CsvFile.open(path, { delimiter: ',' });
    for await (const chunk of file.chunks()) parsed += chunk.length;
    return parsed;
  });

  let enc: Encoder | undefined;
  await timed('(b) fit', async () => {
    enc = await Encoder.fit(cfg, [path]);
    return enc.fitStats!.rowsRead;
  });
  const sizes = enc!.tableSizes();
  console.log(`    vocabulary rows: ${sizes.reduce((a, b) => a + b, 0)} over ${sizes.length} features`);

  await timed('(c) loadDataset', async () => {
    const { data, stats } = await loadDataset([path], cfg, enc!);
    const mem = process.memoryUsage();
    console.log(`    batch rows ${data.size}, dropped click0buy1 ${stats.droppedClick0Buy1}, heap ${(mem.heapUsed / 1e6).toFixed(0)} MB, rss ${(mem.rss / 1e6).toFixed(0)} MB`);
    return stats.rowsRead;
  });

  // (d) with the fitted vocabularies, (e) with every feature hashed (no vocabulary lookups)
  const hashed = parseConfig({
    input: { click: 'click', buy: 'buy' },
    features: [...CARDINALITIES.map((n, i) => ({ name: `f${i + 1}`, hash_buckets: n })), { name: 'tags', type: 'id_list', hash_buckets: 10_000 }],
  });
  const hashedEnc = await Encoder.fit(hashed, []);
  for (const [label, c, e] of [['(d) stream vocab', cfg, enc!], ['(e) stream hashed', hashed, hashedEnc]] as const) {
    const rates: number[] = [];
    for (let i = 0; i < repeat; i++) {
      rates.push(await timed(`${label} #${i + 1}`, async () => {
        const stream = readEncodedChunks([path], c, e);
        for await (const _ of stream.chunks) { /* batches handed on */ }
        return stream.stats.rowsRead;
      }));
    }
    rates.sort((a, b) => a - b);
    console.log(`${label} median ${Math.round(rates[Math.floor(rates.length / 2)]).toLocaleString('en-US')} rows/s into batches`);
  }
  console.log(`peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (includes (c)'s whole-file batch)`);

  if (!keep) unlinkSync(path);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
