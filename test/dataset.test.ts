import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig, type Config } from '../src/config.js';
import { loadDataset } from '../src/data/dataset.js';
import { Encoder } from '../src/data/encoder.js';
import { inferConfig } from '../src/data/infer.js';
import { DataError, EsmmError } from '../src/errors.js';
import { sharedDataDir } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-dataset-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function tempCsv(text: string, ext = 'csv'): string {
  const path = join(dir, `f${fileCount++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function config(features: unknown[], input: Record<string, unknown> = {}): Config {
  return parseConfig({ input: { click: 'click', buy: 'buy', ...input }, features });
}

const features = [{ name: 'user' }, { name: 'tags', type: 'id_list' }];

async function fitAndLoad(path: string, cfg: Config, opts: { onBadRow?: 'error' | 'skip'; maxRows?: number } = {}) {
  const enc = await Encoder.fit(cfg, [path], opts);
  return { enc, ...(await loadDataset([path], cfg, enc, opts)) };
}

describe('loadDataset', () => {
  test('one CSR batch over all rows: labels, ids, list offsets, empty lists', async () => {
    const path = tempCsv('click,buy,user,tags\n1,1,u1,a|b\n0,0,u2,\n1.0,0.0,u1,b\n0,0,,a||a\n');
    const { data, stats } = await fitAndLoad(path, config(features));
    assert.equal(data.size, 4);
    assert.deepEqual([...data.click], [1, 0, 1, 0]);
    assert.deepEqual([...data.buy], [1, 0, 0, 0]);
    // user vocab: u1 (2), u2 (1); tags vocab: a (3), b (2)
    assert.deepEqual([...data.fields[0].ids], [1, 2, 1, 0]);
    assert.deepEqual([...data.fields[0].offsets], [0, 1, 2, 3, 4]);
    assert.deepEqual([...data.fields[1].ids], [1, 2, 2, 1, 1]);
    assert.deepEqual([...data.fields[1].offsets], [0, 2, 2, 3, 5]);
    assert.equal(data.fields[1].weights, null);
    assert.equal(stats.rowsRead, 4);
    assert.equal(stats.rowsUsed, 4);
    assert.equal(stats.clicks, 2);
    assert.equal(stats.buys, 1);
    assert.deepEqual(stats.features, [{ name: 'user', oov: 0, missing: 1 }, { name: 'tags', oov: 0, missing: 0 }]);
  });

  test('rows with click = 0 and buy = 1 are dropped and counted, never an error', async () => {
    const path = tempCsv('click,buy,user,tags\n0,1,u1,a\n1,1,u1,a\n0,1.0,u2,b\n0,0,u3,c\n');
    const { data, stats } = await fitAndLoad(path, config(features));
    assert.equal(data.size, 2);
    assert.equal(stats.rowsRead, 4);
    assert.equal(stats.droppedClick0Buy1, 2);
    assert.equal(stats.rowsUsed, 2);
  });

  test('OOV values at load time are counted per feature and map to row 0', async () => {
    const cfg = config(features);
    const enc = await Encoder.fit(cfg, [tempCsv('click,buy,user,tags\n1,0,u1,a\n')]);
    const { data, stats } = await loadDataset([tempCsv('click,buy,user,tags\n0,0,u1,a|new|a\n0,0,u7,\n')], cfg, enc, { onBadRow: 'error' });
    assert.deepEqual([...data.fields[0].ids], [1, 0]);
    assert.deepEqual([...data.fields[1].ids], [1, 0, 1]);
    assert.deepEqual(stats.features, [{ name: 'user', oov: 1, missing: 0 }, { name: 'tags', oov: 1, missing: 0 }]);
  });

  test('a bad label is a DataError naming file, line and column', async () => {
    const path = tempCsv('click,buy,user,tags\n1,0,u1,a\n1,yes,u2,b\n');
    await assert.rejects(fitAndLoad(path, config(features)), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.message, `${path}:3 column "buy": label must be 0 or 1, got "yes"`);
      return true;
    });
    const labels = ['2', '', '0.5', '1.5', ' 1', 'true'];
    for (const label of labels) {
      const p = tempCsv(`click,buy,user,tags\n${label},0,u1,a\n`);
      await assert.rejects(fitAndLoad(p, config(features)), (e: unknown) => e instanceof DataError && e.line === 2 && e.column === 'click');
    }
  });

  test('wrong column count and unterminated quotes are DataErrors with file and line', async () => {
    const short = tempCsv('click,buy,user,tags\n1,0,u1,a\n1,0,u2\n');
    await assert.rejects(fitAndLoad(short, config(features)), (e: unknown) => e instanceof DataError && e.message.startsWith(`${short}:3 column "tags": row has 3 fields`));
    const open = tempCsv('click,buy,user,tags\n1,0,u1,a\n1,0,"u2,b\n');
    await assert.rejects(fitAndLoad(open, config(features)), (e: unknown) => e instanceof DataError && e.message.startsWith(`${open}:3 column "user": unterminated quoted field`));
  });

  test("onBadRow 'skip' counts the skipped rows and keeps the first few messages", async () => {
    const rows = ['click,buy,user,tags', '1,0,u1,a'];
    for (let i = 0; i < 7; i++) rows.push(`x${i},0,u1,a`);
    rows.push('1,0,u2', '0,1,u3,c', '"oops"!,0,u4,d', '0,0,u5,e', '1,0,"u6');
    const path = tempCsv(rows.join('\n') + '\n');
    const { data, stats } = await fitAndLoad(path, config(features), { onBadRow: 'skip' });
    assert.equal(data.size, 2);
    assert.equal(stats.rowsRead, 13);
    assert.equal(stats.rowsUsed, 2);
    assert.equal(stats.droppedClick0Buy1, 1);
    assert.equal(stats.skippedBadRows, 10);
    assert.equal(stats.badRowExamples.length, 5);
    assert.equal(stats.badRowExamples[0], `${path}:3 column "click": label must be 0 or 1, got "x0"`);
  });

  test('the bad-row policy defaults to the config (train.on_bad_row)', async () => {
    const path = tempCsv('click,buy,user,tags\n1,0,u1,a\nbad,0,u2,b\n');
    const cfg = parseConfig({ input: { click: 'click', buy: 'buy' }, features, train: { on_bad_row: 'skip' } });
    const { stats } = await fitAndLoad(path, cfg);
    assert.equal(stats.skippedBadRows, 1);
  });

  test('a feature column missing from the header is an EsmmError naming column and file', async () => {
    const path = tempCsv('click,buy,user\n1,0,u1\n');
    await assert.rejects(fitAndLoad(path, config(features)), (e: unknown) => {
      assert.ok(e instanceof EsmmError && !(e instanceof DataError));
      assert.equal(e.message, `${path}: feature "tags": column "tags" is not in the file (columns: "click", "buy", "user")`);
      return true;
    });
    const noLabel = tempCsv('click,purchase,user,tags\n1,0,u1,a\n');
    await assert.rejects(fitAndLoad(noLabel, config(features)), (e: unknown) => e instanceof EsmmError && e.message.includes('buy label (input.buy): column "buy" is not in the file'));
  });

  test('a needed column that appears twice in the header is an EsmmError', async () => {
    const path = tempCsv('click,buy,user,tags,user\n1,0,u1,a,u2\n');
    await assert.rejects(fitAndLoad(path, config(features)), (e: unknown) => e instanceof EsmmError && e.message.includes('column "user" appears more than once'));
  });

  test('maxRows, several files with different column orders, TSV, and feature column renames', async () => {
    const a = tempCsv('click\tbuy\tuser_id\n1\t0\tu1\n0\t0\tu2\n0\t0\tu1\n', 'tsv');
    const b = tempCsv('user_id\tbuy\tclick\nu2\t1\t1\n');
    const cfg = config([{ name: 'user', column: 'user_id' }], { delimiter: '\t' });
    const enc = await Encoder.fit(cfg, [a, b]);
    const { data, stats } = await loadDataset([a, b], cfg, enc, { onBadRow: 'error' });
    assert.deepEqual([...data.fields[0].ids], [1, 2, 1, 2]);
    assert.deepEqual([...data.buy], [0, 0, 0, 1]);
    assert.deepEqual(stats.files, [a, b]);
    const limited = await loadDataset([a, b], cfg, enc, { onBadRow: 'error', maxRows: 2 });
    assert.equal(limited.data.size, 2);
  });

  test('an encoder fitted for other features is rejected', async () => {
    const path = tempCsv('click,buy,user,tags\n1,0,u1,a\n');
    const enc = await Encoder.fit(config([{ name: 'user' }]), [path]);
    await assert.rejects(loadDataset([path], config(features), enc, { onBadRow: 'error' }), EsmmError);
  });

  test('many rows: typed arrays grow past their initial size', async () => {
    const lines = ['click,buy,user,tags'];
    for (let i = 0; i < 100_000; i++) lines.push(`${i % 2},${i % 4 === 1 ? 1 : 0},u${i % 1000},${i % 3 === 0 ? '' : `t${i % 7}|t${i % 11}`}`);
    const { data, stats } = await fitAndLoad(tempCsv(lines.join('\n')), config(features));
    assert.equal(data.size, 100_000);
    assert.equal(stats.buys, 25_000);
    assert.equal(data.fields[1].offsets[data.size], data.fields[1].ids.length);
    assert.equal(data.fields[1].ids.length, 2 * (100_000 - 33_334));
    assert.ok(data.fields[0].ids.every((id) => id >= 1 && id <= 1000));
  });
});

describe('inferConfig', () => {
  test('every non-label column becomes a feature: id_list when values contain |', async () => {
    const path = tempCsv('click,purchase,user,tags,item id,☃,\n1,0,u1,a|b,i1,x,\n0,0,u2,c,i2,y,\n');
    const cfg = await inferConfig(path, 'click', 'purchase');
    assert.deepEqual(cfg.input, { format: 'csv', delimiter: ',', header: true, click: 'click', buy: 'purchase' });
    assert.deepEqual(cfg.features, [
      { name: 'user', type: 'id' },
      { name: 'tags', type: 'id_list', separator: '|' },
      { name: 'item_id', column: 'item id', type: 'id' },
      { name: 'col_6', column: '☃', type: 'id' }, // the unnamed 7th column is left out
    ]);
    assert.ok(cfg.model && cfg.train, 'model and train defaults are filled in');
    parseConfig(cfg); // valid as it stands
  });

  test('tab-separated files are recognised', async () => {
    const cfg = await inferConfig(tempCsv('click\tbuy\tuser\n1\t0\tu1\n', 'tsv'), 'click', 'buy');
    assert.equal(cfg.input?.delimiter, '\t');
    const cfg2 = await inferConfig(tempCsv('click\tbuy\tuser\n1\t0\tu1\n'), 'click', 'buy');
    assert.equal(cfg2.input?.delimiter, '\t');
  });

  test('missing label columns are an EsmmError naming them', async () => {
    const path = tempCsv('click,buy,user\n1,0,u1\n');
    await assert.rejects(inferConfig(path, 'clk', 'buy'), (e: unknown) => e instanceof EsmmError && e.message.includes('"clk"') && e.message.includes(path));
  });
});

describe('real data sample (Ali-CCP, torch-rechub CSV)', () => {
  const data = sharedDataDir();
  const sample = join(data, 'ali-ccp-csv');
  const skip = existsSync(sample) ? false : `shared data folder not found (${sample})`;

  test('infer a config, fit and load train/val in place', { skip }, async () => {
    const train = join(sample!, 'ali_ccp_train_sample.csv');
    const val = join(sample!, 'ali_ccp_val_sample.csv');
    const cfg = parseConfig(await inferConfig(train, 'click', 'purchase'));
    assert.equal(cfg.features.length, 31);
    // the 23 label-encoded sparse fields are ids, the 8 min-max scaled D... columns numbers
    assert.deepEqual(cfg.features.filter((f) => f.type === 'numeric').map((f) => f.name), cfg.features.filter((f) => f.name.startsWith('D')).map((f) => f.name));
    assert.equal(cfg.features.filter((f) => f.type === 'id').length, 23);
    const enc = await Encoder.fit(cfg, [train]);
    const loaded = await loadDataset([train], cfg, enc, { onBadRow: 'error' });
    assert.equal(loaded.data.size, 100);
    assert.equal(loaded.data.denseWidth, 8);
    assert.equal(loaded.stats.rowsRead, 100);
    assert.equal(loaded.stats.droppedClick0Buy1, 0);
    assert.ok(loaded.stats.features.every((f) => f.oov === 0 && f.missing === 0));
    const sizes = enc.tableSizes().filter((n) => n > 0);
    assert.ok(loaded.data.fields.every((f, i) => f.ids.every((id) => id >= 1 && id < sizes[i])));
    const held = await loadDataset([val], cfg, enc, { onBadRow: 'error' });
    assert.equal(held.data.size, 50);
    assert.ok(held.stats.features.some((f) => f.oov > 0), 'held-out rows meet unseen ids');
  });
});
