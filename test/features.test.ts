import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig, type Config } from '../src/config.js';
import { loadDataset } from '../src/data/dataset.js';
import { Encoder } from '../src/data/encoder.js';
import { DataError, EsmmError } from '../src/errors.js';
import { learningRateAt } from '../src/optim/schedule.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-features-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function temp(text: string, ext = 'csv'): string {
  const path = join(dir, `f${fileCount++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function config(features: unknown[], input: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Config {
  return parseConfig({ input: { click: 'click', buy: 'buy', ...input }, features, ...extra });
}

async function fitAndLoad(path: string, cfg: Config, onBadRow: 'error' | 'skip' = 'error') {
  const enc = await Encoder.fit(cfg, [path], { onBadRow });
  return { enc, ...(await loadDataset([path], cfg, enc, { onBadRow })) };
}

describe('feature types', () => {
  test('weighted_id_list: ids with weights, a piece without a weight weighs 1, null pieces dropped', async () => {
    const path = temp('click,buy,hist\n1,0,a:2|b:0.5\n0,0,b|NULL|a:3\n0,0,\n');
    const { data } = await fitAndLoad(path, config([{ name: 'hist', type: 'weighted_id_list' }]));
    const f = data.fields[0];
    // vocabulary: a (2), b (2) → ties by first appearance: a = 1, b = 2
    assert.deepEqual([...f.ids], [1, 2, 2, 1]);
    assert.deepEqual([...f.offsets], [0, 2, 4, 4]);
    assert.deepEqual([...f.weights!], [2, 0.5, 1, 3]);
  });

  test('a weight that is not a number is a bad row naming file, line and column', async () => {
    const path = temp('click,buy,hist\n1,0,a:2\n0,0,a:x\n');
    const cfg = config([{ name: 'hist', type: 'weighted_id_list' }]);
    await assert.rejects(fitAndLoad(path, cfg), (e: unknown) => e instanceof DataError && e.line === 3 && e.column === 'hist' && /weight/.test(e.message));
    const { data, stats } = await fitAndLoad(path, cfg, 'skip');
    assert.equal(data.size, 1);
    assert.equal(stats.skippedBadRows, 1);
    assert.deepEqual(Object.values(stats.skippedByReason), [1]);
  });

  test('numeric: standard, minmax and log1p normalisation against a direct computation; missing → 0 or default', async () => {
    const xs = [3, -1, 10, 4.5, 0];
    const lines = ['click,buy,a,b,c,d', ...xs.map((x, i) => `${i % 2},0,${x},${x},${x},${i === 4 ? 'NULL' : x}`)];
    const cfg = config([
      { name: 'a', type: 'numeric', normalization: 'standard' },
      { name: 'b', type: 'numeric', normalization: 'minmax' },
      { name: 'c', type: 'numeric', normalization: 'log1p' },
      { name: 'd', type: 'numeric', default_value: 7 },
    ]);
    const { data, enc } = await fitAndLoad(temp(lines.join('\n')), cfg);
    assert.equal(data.denseWidth, 4);
    assert.equal(data.fields.length, 0);
    assert.deepEqual(enc.tableSizes(), [0, 0, 0, 0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    const lo = Math.min(...xs), hi = Math.max(...xs);
    xs.forEach((x, i) => {
      const row = data.dense.subarray(i * 4, i * 4 + 4);
      assert.ok(Math.abs(row[0] - (x - mean) / std) < 1e-5);
      assert.ok(Math.abs(row[1] - (x - lo) / (hi - lo)) < 1e-6);
      assert.ok(Math.abs(row[2] - Math.sign(x) * Math.log(1 + Math.abs(x))) < 1e-6);
      assert.equal(row[3], i === 4 ? 7 : x);
    });
  });

  test('numeric: a value that is not a number is a bad row', async () => {
    const path = temp('click,buy,price\n1,0,3.5\n0,0,cheap\n');
    await assert.rejects(fitAndLoad(path, config([{ name: 'price', type: 'numeric' }])),
      (e: unknown) => e instanceof DataError && e.line === 3 && e.column === 'price' && /not a number/.test(e.message));
  });

  test('numeric with boundaries: bucket rows by upper bound, missing → 0, non-numbers are bad rows', async () => {
    const path = temp('click,buy,price\n1,0,-5\n0,0,10\n0,0,15\n0,0,20\n0,0,99\n0,0,\n');
    const cfg = config([{ name: 'price', type: 'numeric', boundaries: [10, 20] }]);
    const { data, enc } = await fitAndLoad(path, cfg);
    assert.deepEqual(enc.tableSizes(), [4]);
    assert.deepEqual([...data.fields[0].ids], [1, 2, 2, 3, 3, 0]);
    assert.equal(data.denseWidth, 0);
  });

  test('num_buckets: integer ids taken as they are (row = 1 + id), anything else out of vocabulary', async () => {
    const path = temp('click,buy,price\n1,0,0\n0,0,49\n0,0,50\n0,0,7.0\n0,0,x\n0,0,-1\n0,0,NULL\n');
    const { data, stats } = await fitAndLoad(path, config([{ name: 'price', num_buckets: 50 }]));
    assert.deepEqual([...data.fields[0].ids], [1, 50, 0, 8, 0, 0, 0]);
    assert.equal(stats.features[0].oov, 3);
    assert.equal(stats.features[0].missing, 1);
  });

  test('max_vocab keeps the most frequent values', async () => {
    const path = temp('click,buy,u\n1,0,a\n0,0,b\n0,0,b\n0,0,c\n0,0,c\n0,0,c\n');
    const { enc } = await fitAndLoad(path, config([{ name: 'u', max_vocab: 2 }]));
    assert.deepEqual(enc.vocabulary(0), ['c', 'b']);
  });

  test('null values are configurable', async () => {
    const path = temp('click,buy,u\n1,0,NULL\n0,0,\\N\n0,0,x\n');
    const { data } = await fitAndLoad(path, config([{ name: 'u' }], { null_values: ['', '\\N'] }));
    assert.deepEqual([...data.fields[0].ids], [1, 0, 2]);
  });

  test('JSON round trip of every feature type encodes identically', async () => {
    const path = temp('click,buy,u,h,p,q,n\n1,0,a,x:1|y:2,3,1,0.5\n0,0,b,y:4,7,9,1.5\n');
    const cfg = config([
      { name: 'u' }, { name: 'h', type: 'weighted_id_list' }, { name: 'p', type: 'numeric', boundaries: [5] },
      { name: 'q', num_buckets: 10 }, { name: 'n', type: 'numeric', normalization: 'standard' },
    ]);
    const { enc } = await fitAndLoad(path, cfg);
    const back = Encoder.fromJSON(JSON.parse(JSON.stringify(enc.toJSON())), cfg);
    const records = [{ u: 'a', h: ['x:1', 'z:3'], p: 6, q: '3', n: 2 }, { u: 'zz', h: null, p: null, q: 99, n: null }];
    assert.deepEqual(back.encodeRecords(records), enc.encodeRecords(records));
    assert.ok(enc.sameAs(back.toJSON()));
    assert.throws(() => enc.encodeRecords([{ u: 'a', h: '', p: 'cheap', q: 1, n: 1 }]), (e: unknown) => e instanceof EsmmError && /record 0: feature "p"/.test(e.message));
  });
});

describe('repeated long lists (memo)', () => {
  test('a long list repeated on consecutive rows encodes, weighs and counts exactly like a fresh one', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `f${i}:${i + 1}`).join('|');
    const other = Array.from({ length: 30 }, (_, i) => `g${i}:2`).join('|');
    const fitFile = temp(`click,buy,h\n1,0,${Array.from({ length: 20 }, (_, i) => `f${2 * i}:1`).join('|')}\n`);
    const cfg = config([{ name: 'h', type: 'weighted_id_list' }]);
    const enc = await Encoder.fit(cfg, [fitFile]);
    const rows = [long, long, other, long, long];
    const { data, stats } = await loadDataset([temp(`click,buy,h\n${rows.map((r) => `0,0,${r}`).join('\n')}\n`)], cfg, enc);
    const f = data.fields[0];
    rows.forEach((r, i) => {
      const pieces = r.split('|');
      const ids = [...f.ids.subarray(f.offsets[i], f.offsets[i + 1])];
      assert.deepEqual(ids, pieces.map((p) => enc.encodeValue(0, p.split(':')[0])));
      assert.deepEqual([...f.weights!.subarray(f.offsets[i], f.offsets[i + 1])], pieces.map((p) => Number(p.split(':')[1])));
    });
    // odd f-ids are unseen in the fit file: 20 per `long` row, every g-id too
    assert.equal(stats.features[0].oov, 4 * 20 + 30);
  });
});

describe('config validation', () => {
  const bad = (raw: unknown, pattern: RegExp) => assert.throws(() => parseConfig(raw, 'c.yaml'), (e: unknown) => e instanceof EsmmError && pattern.test(e.message));

  test('cross-field rules name the bad key', () => {
    bad({ features: [{ name: 'a', hash_buckets: 5, num_buckets: 5 }] }, /features\.0: give hash_buckets or num_buckets/);
    bad({ features: [{ name: 'a', type: 'numeric', hash_buckets: 5 }] }, /features\.0\.hash_buckets: not for numeric/);
    bad({ features: [{ name: 'a', type: 'numeric', boundaries: [3, 1] }] }, /features\.0\.boundaries: must be strictly ascending/);
    bad({ features: [{ name: 'a', boundaries: [1] }] }, /features\.0\.boundaries: only for numeric/);
    bad({ features: [{ name: 'a' }, { name: 'a' }] }, /features\.1\.name: duplicate feature "a"/);
    bad({ input: { header: false }, features: [{ name: 'a' }] }, /input\.columns: required when input\.header is false/);
    bad({ features: [{ name: 'a' }, { name: 'b' }], groups: [{ name: 'g', features: ['a', 'x'] }] }, /groups\.0\.features\.1: no feature named "x"/);
    bad({ features: [{ name: 'a' }, { name: 'b' }], groups: [{ name: 'g', features: ['a'] }] }, /feature "b" is in no group/);
    bad({ features: [{ name: 'a' }], groups: [{ name: 'g', features: ['a'] }, { name: 'h', features: ['a'] }] }, /groups\.1\.features\.0: feature "a" is already in group "g"/);
    bad({ features: [{ name: 'a' }], train: { lr_schedule: { type: 'exponential_decay', decay_steps: 0, decay_factor: 0.5 } } }, /train\.lr_schedule\.decay_steps/);
    bad({ features: [{ name: 'a', colour: 'red' }] }, /features\.0.*colour/);
  });
});

describe('headerless files', () => {
  test('input.columns names the fields by position; a wrong field count is a bad row', async () => {
    const path = temp('1,0,u1,a|b\n0,0,u2,b\n0,0,u3\n');
    const cfg = config([{ name: 'user' }, { name: 'tags', type: 'id_list' }], { header: false, columns: ['click', 'buy', 'user', 'tags'] });
    await assert.rejects(fitAndLoad(path, cfg), (e: unknown) => e instanceof DataError && e.line === 3);
    const { data } = await fitAndLoad(path, cfg, 'skip');
    assert.equal(data.size, 2);
    assert.deepEqual([...data.click], [1, 0]);
  });

  test('tsv format reads tabs', async () => {
    const path = temp('click\tbuy\tuser\n1\t1\tu,1\n', 'tsv');
    const { data, enc } = await fitAndLoad(path, config([{ name: 'user' }], { format: 'auto' }));
    assert.equal(data.size, 1);
    assert.deepEqual(enc.vocabulary(0), ['u,1']);
  });
});

describe('learning-rate schedules', () => {
  test('exponential decay as TensorFlow defines it, staircase and floor', () => {
    assert.equal(learningRateAt(0.1, { type: 'constant' }, 1000), 0.1);
    const s = { type: 'exponential_decay' as const, decay_steps: 100, decay_factor: 0.5, min_learning_rate: 0.01, staircase: false };
    assert.ok(Math.abs(learningRateAt(0.1, s, 50) - 0.1 * 0.5 ** 0.5) < 1e-12);
    assert.ok(Math.abs(learningRateAt(0.1, { ...s, staircase: true }, 150) - 0.05) < 1e-12);
    assert.equal(learningRateAt(0.1, s, 10_000), 0.01);
  });
});
