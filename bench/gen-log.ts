/**
 * A synthetic impression log for the read and memory benchmarks: click, buy, 17 categorical id columns
 * f1..f17 with cardinalities from 3 to ~1M, and one '|' list column `tags`. Ids are skewed
 * (id = floor(n·u³)); about 0.05% of rows have click = 0 and buy = 1 (invalid, dropped by readers).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const CARDINALITIES = [3, 5, 10, 20, 50, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 200_000, 300_000, 500_000, 800_000, 1_000_000];
const LIST_VOCAB = 10_000;

/** xorshift32: deterministic and fast enough to not dominate generation. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Skewed id in [0, n): popular ids much more frequent, like real logs. */
function skewedId(u: number, n: number): number {
  return Math.floor(n * u * u * u);
}

/** Writes `n` rows to `path`; every cardinality capped at `cap`. */
export async function generate(path: string, n: number, cap = Infinity): Promise<void> {
  const cardinalities = CARDINALITIES.map((c) => Math.min(c, cap));
  const random = rng(42);
  const out = createWriteStream(path);
  const header = ['click', 'buy', ...cardinalities.map((_, i) => `f${i + 1}`), 'tags'];
  let text = header.join(',') + '\n';
  for (let r = 0; r < n; r++) {
    const click = random() < 0.05 ? 1 : 0;
    const buy = click ? (random() < 0.1 ? 1 : 0) : random() < 0.0005 ? 1 : 0; // a few invalid click0buy1 rows
    let line = `${click},${buy}`;
    for (let f = 0; f < cardinalities.length; f++) line += `,${skewedId(random(), cardinalities[f])}`;
    const tags = Math.floor(random() * 5);
    const list: number[] = [];
    for (let t = 0; t < tags; t++) list.push(skewedId(random(), LIST_VOCAB));
    text += `${line},${list.join('|')}\n`;
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end(text);
  await once(out, 'finish');
}
