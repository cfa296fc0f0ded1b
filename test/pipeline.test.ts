import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseConfig, type Config } from '../src/config.js';
import { gatherBatch, gatherParts, type Batch } from '../src/data/batch.js';
import { loadDataset } from '../src/data/dataset.js';
import { Encoder } from '../src/data/encoder.js';
import { DistinctCounter, inspectData } from '../src/data/inspect.js';
import { concatBatches, readAll, readEncodedChunks, shuffledBatches } from '../src/data/pipeline.js';
import { EsmmError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-pipeline-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function temp(text: string, name = `f${fileCount++}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const cfg: Config = parseConfig({ features: [{ name: 'row', hash_buckets: 1 << 20 }, { name: 'tags', type: 'id_list', hash_buckets: 100 }, { name: 'x', type: 'numeric' }] });

/** A file whose row i has feature `row` = "r<i>", so every row can be recognised after shuffling. */
function numberedFile(n: number, name?: string, from = 0): string {
  const lines = ['click,buy,row,tags,x'];
  for (let i = from; i < from + n; i++) lines.push(`${i % 3 === 0 ? 1 : 0},${i % 9 === 0 ? 1 : 0},r${i},${'t|'.repeat(i % 4)}u,${i}`);
  return temp(lines.join('\n') + '\n', name);
}

/** The original row numbers of a batch's rows (from the numeric column x). */
function rowNumbers(b: Batch): number[] {
  return Array.from({ length: b.size }, (_, i) => b.dense[i * b.denseWidth]);
}

async function collect(gen: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

describe('encoded chunks', () => {
  test('chunks of at least the asked size (whole disk reads), in file order, equal to loading the whole file', async () => {
    const n = 30_000;
    const path = numberedFile(n);
    const enc = await Encoder.fit(cfg, [path]);
    const stream = readEncodedChunks([path], cfg, enc, { chunkRows: 1000 });
    const chunks = await collect(stream.chunks);
    assert.ok(chunks.length > 3);
    assert.ok(chunks.slice(0, -1).every((c) => c.size >= 1000 && c.size < 1000 + 8192));
    assert.equal(stream.stats.rowsUsed, n);
    const whole = (await loadDataset([path], cfg, enc)).data;
    assert.deepEqual(concatBatches(chunks, enc), whole);
    assert.deepEqual(rowNumbers(whole), Array.from({ length: n }, (_, i) => i));
  });

  test('globs expand in sorted order; a pattern matching nothing is an error', async () => {
    const a = numberedFile(10, 'part-b.csv', 10), b = numberedFile(10, 'part-a.csv', 0);
    assert.ok(a && b);
    const enc = await Encoder.fit(cfg, []);
    const { data, stats } = await readAll(readEncodedChunks([join(dir, 'part-*.csv')], cfg, enc), enc);
    assert.deepEqual(rowNumbers(data), Array.from({ length: 20 }, (_, i) => i));
    assert.equal(stats.files.length, 2);
    await assert.rejects(loadDataset([join(dir, 'nothing-*.csv')], cfg, enc), (e: unknown) => e instanceof EsmmError && /no file matches/.test(e.message));
  });

  test('an empty file, a missing file and a directory are clear errors', async () => {
    const enc = await Encoder.fit(cfg, []);
    for (const path of [temp(''), temp('click,buy,row,tags,x\n'), join(dir, 'missing.csv'), dir]) {
      await assert.rejects(loadDataset([path], cfg, enc), (e: unknown) => e instanceof EsmmError && e.message.includes(path), path);
    }
  });
});

describe('shuffle buffer', () => {
  test('every row exactly once per epoch, in batches of the asked size, for any buffer size', async () => {
    const path = numberedFile(3000);
    const enc = await Encoder.fit(cfg, [path]);
    for (const buffer of [1, 100, 999, 5000]) {
      const batches = await collect(shuffledBatches(readEncodedChunks([path], cfg, enc, { chunkRows: 256 }).chunks, 64, buffer, new Rng(buffer)));
      const seen = batches.flatMap(rowNumbers).sort((x, y) => x - y);
      assert.deepEqual(seen, Array.from({ length: 3000 }, (_, i) => i), `buffer ${buffer}`);
      assert.ok(batches.slice(0, -1).every((b) => b.size === 64));
    }
  });

  test('a data set that fits in the buffer is shuffled exactly as the in-memory permutation', async () => {
    const path = numberedFile(1000);
    const enc = await Encoder.fit(cfg, [path]);
    const streamed = await collect(shuffledBatches(readEncodedChunks([path], cfg, enc, { chunkRows: 128 }).chunks, 100, 1 << 20, new Rng(7)));
    const order = Int32Array.from({ length: 1000 }, (_, i) => i);
    new Rng(7).shuffle(order);
    assert.deepEqual(streamed.flatMap(rowNumbers), [...order]);
  });

  test('a small buffer still mixes: rows leave the buffer far from their file order', async () => {
    const path = numberedFile(20_000);
    const enc = await Encoder.fit(cfg, [path]);
    const rows = (await collect(shuffledBatches(readEncodedChunks([path], cfg, enc).chunks, 100, 2000, new Rng(3)))).flatMap(rowNumbers);
    let displaced = 0;
    rows.forEach((r, i) => { if (Math.abs(r - i) > 200) displaced++; });
    assert.ok(displaced > rows.length / 2, `only ${displaced} rows moved by more than 200`);
    // bounded: no row comes out much before it could have been read
    assert.ok(rows.every((r, i) => r <= i + 2000 + 8192 + 100));
  });

  test('gathering rows across parts equals gathering from their concatenation', async () => {
    const enc = await Encoder.fit(cfg, []);
    const parts = await Promise.all([0, 1, 2].map(async (k) => (await loadDataset([numberedFile(50 + 20 * k, undefined, 1000 * k)], cfg, enc)).data));
    const whole = concatBatches(parts, enc);
    const rng = new Rng(5);
    const global = Int32Array.from({ length: 200 }, () => rng.below(whole.size));
    const starts = [0, parts[0].size, parts[0].size + parts[1].size];
    const part = Int32Array.from(global, (g) => (g >= starts[2] ? 2 : g >= starts[1] ? 1 : 0));
    const row = Int32Array.from(global, (g, k) => g - starts[part[k]]);
    assert.deepEqual(gatherParts(parts, part, row), gatherBatch(whole, global));
  });

  test('without an rng the order is the file order', async () => {
    const path = numberedFile(500);
    const enc = await Encoder.fit(cfg, [path]);
    const rows = (await collect(shuffledBatches(readEncodedChunks([path], cfg, enc, { chunkRows: 64 }).chunks, 50, 100, null))).flatMap(rowNumbers);
    assert.deepEqual(rows, Array.from({ length: 500 }, (_, i) => i));
  });
});

describe('data inspect', () => {
  test('counts, rates, cardinality and invalid rows agree with a direct computation', async () => {
    const lines = ['click,buy,u,tags,p'];
    for (let i = 0; i < 300; i++) lines.push(`${i % 2},${i % 6 === 1 ? 1 : 0},u${i % 37},${i % 5 === 0 ? '' : `a${i % 3}|b${i % 4}`},${i % 50 === 7 ? 'oops' : i / 10}`);
    lines.push('0,1,u1,,1', '2,0,u1,,1');
    const c = parseConfig({ features: [{ name: 'u' }, { name: 'tags', type: 'id_list' }, { name: 'p', type: 'numeric' }] });
    const r = await inspectData([temp(lines.join('\n'))], c);
    const valid = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 50 !== 7);
    assert.equal(r.rowsRead, 302);
    assert.equal(r.rowsUsed, valid.length);
    assert.equal(r.skippedBadRows, 7);
    assert.equal(r.droppedClick0Buy1, 1);
    assert.equal(r.clicks, valid.filter((i) => i % 2 === 1).length);
    assert.equal(r.buys, valid.filter((i) => i % 6 === 1).length);
    assert.equal(r.features[0].distinct, new Set(valid.map((i) => i % 37)).size);
    assert.equal(r.features[1].distinct, 7);
    assert.equal(r.features[1].missing, valid.filter((i) => i % 5 === 0).length);
    assert.equal(r.features[2].max, Math.max(...valid.map((i) => i / 10)));
  });

  test('a row is invalid exactly when training would reject it (bucketised numbers, weights)', async () => {
    const c = parseConfig({ features: [{ name: 'p', type: 'numeric', boundaries: [1, 2] }, { name: 'h', type: 'weighted_id_list' }] });
    const path = temp('click,buy,p,h\n1,0,1.5,a:2\n0,0,cheap,a:1\n0,0,3,b:x\n0,0,,\n');
    const r = await inspectData([path], c);
    assert.equal(r.rowsUsed, 2);
    assert.equal(r.skippedBadRows, 2);
    const enc = await Encoder.fit(c, [path], { onBadRow: 'skip' });
    assert.equal((await loadDataset([path], c, enc, { onBadRow: 'skip' })).stats.skippedBadRows, 2);
  });

  test('HyperLogLog estimate within 3% beyond the exact range', () => {
    for (const n of [100_000, 400_000]) {
      const d = new DistinctCounter();
      for (let i = 0; i < n; i++) d.add(`v${i}`);
      for (let i = 0; i < n; i += 3) d.add(`v${i}`);
      assert.equal(d.exact, false);
      assert.ok(Math.abs(d.estimate() - n) / n < 0.03, `${d.estimate()} for ${n}`);
    }
  });
});

describe('readers never crash on random or truncated input', () => {
  test('random bytes and truncated files give rows or EsmmErrors, nothing else', async () => {
    const base = numberedFile(50);
    const enc = await Encoder.fit(cfg, [base]);
    const good = 'click,buy,row,tags,x\n1,0,r1,a|b,1.5\n0,0,"r,2",,2\n';
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.nat({ max: good.length }).map((k) => good.slice(0, k)),
        fc.array(fc.constantFrom('click', 'buy', ',', '\n', '"', '1', '0', 'x', '|', '\r', 'NaN', '-'), { maxLength: 60 }).map((a) => a.join('')),
      ),
      fc.constantFrom<'error' | 'skip'>('error', 'skip'),
      async (text, onBadRow) => {
        const path = temp(text);
        try {
          const { data, stats } = await loadDataset([path], cfg, enc, { onBadRow });
          assert.equal(data.size, stats.rowsUsed);
        } catch (e) {
          if (!(e instanceof EsmmError)) throw e;
        } finally {
          rmSync(path, { force: true });
        }
      },
    ), { numRuns: 300 });
  });
});
