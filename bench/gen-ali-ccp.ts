/**
 * Writes a synthetic raw Ali-CCP data set (src/data/ali-ccp-synth.ts): DIR/sample_skeleton_train.csv and
 * DIR/common_features_train.csv (and the _test pair with --test-rows), streaming, in bounded memory.
 *
 *   node dist/bench/gen-ali-ccp.js --rows 30000000 --out DIR [--test-rows N] [--seed S] [--users U]
 *       [--interleave K] [--tokens]
 *
 * --interleave K mixes K visits at a time (skeleton rows of one user no longer contiguous); --tokens also
 * writes the same samples in the token format (DIR/train.txt, DIR/test.txt).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { AliCcpSimulator, writeAliCcpRaw, writeAliCcpTokens, type AliCcpSynthOptions } from '../src/data/ali-ccp-synth.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const num = (name: string): number | undefined => {
  const v = value(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number, got ${v}`);
  return n;
};
const out = value('--out');
if (out === undefined || num('--rows') === undefined) {
  console.error('usage: node dist/bench/gen-ali-ccp.js --rows N --out DIR [--test-rows N] [--seed S] [--users U] [--interleave K] [--tokens]');
  process.exit(2);
}
const seed = num('--seed') ?? 1;
const splits: [string, number][] = [['train', num('--rows')!]];
// Both splits draw from one population of users and items, sized by the training split.
const world = new AliCcpSimulator({ rows: num('--rows')!, seed, users: num('--users') });
const testRows = num('--test-rows') ?? 0;
if (testRows > 0) splits.push(['test', testRows]);
for (const [split, rows] of splits) {
  const opts: AliCcpSynthOptions = {
    rows,
    seed, // the same users and items in both splits, other impressions
    sampleSeed: split === 'train' ? seed : seed + 1_000_003,
    users: world.users,
    items: world.items,
    interleave: num('--interleave'),
  };
  const t0 = performance.now();
  const stats = writeAliCcpRaw(out, { ...opts, split });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = (name: string) => statSync(join(out, name)).size;
  const skeleton = `sample_skeleton_${split}.csv`, common = `common_features_${split}.csv`;
  console.log(
    `${split}: ${stats.rows} rows (${stats.clicks} clicks, ${stats.buys} buys, ${stats.click0buy1} click=0/buy=1), ${stats.users} users; ` +
      `${skeleton} ${(bytes(skeleton) / 1e6).toFixed(0)} MB, ${common} ${(bytes(common) / 1e6).toFixed(0)} MB; ` +
      `${seconds.toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  );
  if (args.includes('--tokens')) writeAliCcpTokens(join(out, `${split}.txt`), opts);
}
