/**
 * Raw Ali-CCP join speed and memory: reads a generated data set (bench/gen-ali-ccp.ts; generated in a
 * child process first when DIR has none, so that this process's peak RSS is the reader's alone) through
 * openAliCcpSource with examples/ali-ccp-raw.yaml and prints rows/s, peak RSS and what the join did.
 *
 *   node dist/bench/ali-ccp-join.js --dir DIR [--rows 3000000] [--memory-mb 256] [--interleave K] [--json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { openAliCcpSource } from '../src/data/ali-ccp.js';
import { packageRoot } from '../src/util/package-root.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const dir = value('--dir');
if (dir === undefined) {
  console.error('usage: node dist/bench/ali-ccp-join.js --dir DIR [--rows N] [--memory-mb MB] [--interleave K] [--json]');
  process.exit(2);
}
const skeleton = join(dir, 'sample_skeleton_train.csv');
if (!existsSync(skeleton)) {
  const gen = ['--rows', value('--rows') ?? '3000000', '--out', dir, ...(value('--interleave') ? ['--interleave', value('--interleave')!] : [])];
  const r = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'bench', 'gen-ali-ccp.js'), ...gen], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const memoryMb = Number(value('--memory-mb') ?? 256);
const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-raw.yaml'));
const source = await openAliCcpSource(skeleton, cfg, { memoryMb, blockBytes: value("--block-kb") ? Number(value("--block-kb")) * 1024 : undefined });
const t0 = performance.now();
let rows = 0, bad = 0, chars = 0, firstChunkMs = NaN;
for await (const chunk of source.chunks()) {
  if (Number.isNaN(firstChunkMs)) firstChunkMs = performance.now() - t0;
  for (const r of chunk) {
    if (r.fields === null) bad++;
    else {
      rows++;
      chars += r.fields[4].length; // touch a history value, as an encoder would
    }
  }
}
const seconds = (performance.now() - t0) / 1000;
const result = {
  name: 'ali-ccp-join',
  rows,
  bad_rows: bad,
  skeleton_mb: Math.round(statSync(skeleton).size / 1e6),
  common_mb: Math.round(statSync(join(dir, 'common_features_train.csv')).size / 1e6),
  memory_budget_mb: memoryMb,
  seconds: Number(seconds.toFixed(2)),
  cpu_seconds: Number(((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2)),
  rows_per_s: Math.round(rows / seconds),
  index_ms: Math.round(firstChunkMs),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  partitions: source.stats.partitions,
  common_rows: source.stats.commonRows,
  common_reads: source.stats.commonReads,
};
if (args.includes('--json')) console.log(JSON.stringify(result));
else {
  console.log(
    `${rows} rows (${bad} bad) in ${seconds.toFixed(1)} s (${result.cpu_seconds} s CPU): ${result.rows_per_s} rows/s; index + plan before the first rows ${result.index_ms} ms; ` +
      `peak RSS ${result.peak_rss_mb} MB at a ${memoryMb} MB budget; ${result.partitions} partition(s), ${result.common_rows} common rows, ${result.common_reads} read back`,
  );
}
void chars;
