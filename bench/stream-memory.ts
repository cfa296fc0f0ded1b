/**
 * Training memory is bounded, not proportional to the data: generates a large impression log (default 20M
 * rows, about 1.6 GB of CSV; see gen-log.ts) unless it exists, then runs `esmm train` on it in a child
 * process (streaming, shuffle buffer of --buffer rows, hashed features so no vocabulary grows with the
 * data) and prints the file size, rows, samples/s and the child's peak RSS. Numbers only, no assertions.
 *
 *   node dist/bench/stream-memory.js [--rows 20000000] [--buffer 262144] [--keep] [--file PATH]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packageRoot } from '../src/util/package-root.js';
import { CARDINALITIES, generate } from './gen-log.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rows = Number(option('--rows') ?? 20_000_000);
const buffer = Number(option('--buffer') ?? 262_144);
const keep = args.includes('--keep');

async function main(): Promise<void> {
  const file = option('--file') ?? join(tmpdir(), `esmm-bench-stream-${rows}.csv`);
  if (!existsSync(file)) {
    const t = performance.now();
    await generate(file, rows);
    console.log(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'esmm-bench-stream-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, stringify({
    input: { click: 'click', buy: 'buy' },
    features: [...CARDINALITIES.map((n, i) => ({ name: `f${i + 1}`, hash_buckets: Math.min(n, 100_000) })), { name: 'tags', type: 'id_list', hash_buckets: 10_000 }],
    model: { embedding_dim: 8, hidden_units: [64, 32] },
    train: { epochs: 1, batch_size: 4096, shuffle_buffer: buffer, cache: false },
  }));
  const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'esmm.js'), 'train', '--config', config, '--train', file, '--out', join(dir, 'model'), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`esmm train failed:\n${r.stderr}`);
  const s = JSON.parse(r.stdout);
  console.log(`file ${(statSync(file).size / 1e9).toFixed(2)} GB, ${s.train.rowsRead} rows read, ${s.train.rowsUsed} trained; shuffle buffer ${buffer} rows`);
  console.log(`training ${s.samples_per_s} samples/s, ${s.seconds.toFixed(0)} s in all, peak RSS ${s.peak_rss_mb} MB (backend ${s.backend})`);
  rmSync(dir, { recursive: true, force: true });
  if (!keep && !option('--file')) unlinkSync(file);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
