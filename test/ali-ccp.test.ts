import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { loadConfig, parseConfig, type Config } from '../src/config.js';
import { aliCcpFiles, openAliCcpSource, openAliCcpTokenSource, type AliCcpOptions } from '../src/data/ali-ccp.js';
import { AliCcpSimulator, writeAliCcpRaw, writeAliCcpTokens } from '../src/data/ali-ccp-synth.js';
import type { RecordSource, SourceRecord } from '../src/data/source.js';
import { openSource } from '../src/data/source.js';
import { DataError, EsmmError } from '../src/errors.js';
import { packageRoot, sharedDataDir } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-ali-ccp-test-'));
const scratch = join(dir, 'scratch');
mkdirSync(scratch);
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function tempFile(content: string | Buffer, name = `f${fileCount++}.txt`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
/** A skeleton/common pair in a directory of its own, joined by the `::` path spec. */
function rawPair(skeleton: string | Buffer, common: string | Buffer): string {
  const sub = join(dir, `raw${fileCount++}`);
  mkdirSync(sub);
  writeFileSync(join(sub, 'sample_skeleton_x.csv'), skeleton);
  writeFileSync(join(sub, 'common_features_x.csv'), common);
  return join(sub, 'sample_skeleton_x.csv');
}

// The fixed columns, written out here independently of the reader.
const FIELDS = ['101', '109_14', '110_14', '121', '122', '124', '125', '126', '127', '127_14', '128', '129', '150_14', '205', '206', '207', '210', '216', '301', '508', '509', '702', '853'];

function config(features: unknown[], input: Record<string, unknown> = {}): Config {
  return parseConfig({ input: { format: 'ali-ccp', ...input }, features });
}
/** Every shape the reader knows, plus a field the data never has. */
const SHAPES = config([
  { name: 'user', column: '101', type: 'id' },
  { name: 'hist_cat', column: '109_14', type: 'weighted_id_list' },
  { name: 'hist_shop_count', column: '110_14', type: 'numeric' },
  { name: 'hist_brand', column: '127_14', type: 'id_list', separator: ';' },
  { name: 'cross', column: '853', type: 'id_list' },
  { name: 'item', column: '205', type: 'id', hash_buckets: 100 },
  { name: 'nowhere', column: 'x999', type: 'id' },
]);
const SHAPE_OF: Record<string, { kind: 'list' | 'weighted' | 'first' | 'sum'; sep: string }> = {
  '101': { kind: 'first', sep: '|' },
  '109_14': { kind: 'weighted', sep: '|' },
  '110_14': { kind: 'sum', sep: '|' },
  '127_14': { kind: 'list', sep: ';' },
  '205': { kind: 'first', sep: '|' },
};

async function readAll(source: RecordSource): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of source.chunks()) out.push(...chunk);
  return out;
}
function good(records: SourceRecord[]): string[][] {
  return records.map((r) => {
    if (r.error) throw r.error;
    return r.fields!;
  });
}
function scratchLeft(): string[] {
  return readdirSync(scratch).filter((n) => n.startsWith('esmm-ali-ccp-'));
}
const opts = (extra: AliCcpOptions = {}): AliCcpOptions => ({ tmpDir: scratch, ...extra });

/** The expected value of one field from its (feat, value) pairs in order, shaped as SHAPE_OF says. */
function shape(field: string, pairs: [string, string][]): string {
  if (pairs.length === 0) return '';
  const s = SHAPE_OF[field] ?? { kind: 'list', sep: '|' };
  if (s.kind === 'first') return pairs[0][0];
  if (s.kind === 'sum') return String(pairs.reduce((a, [, v]) => a + Number(v), 0));
  if (s.kind === 'weighted') return pairs.map(([f, v]) => `${f}:${v}`).join(s.sep);
  return pairs.map(([f]) => f).join(s.sep);
}

/** The raw join done the obvious way: the whole common file in a Map. Good rows only. */
function naiveJoin(skeletonPath: string, commonPath: string): { line: number; fields: string[] }[] {
  const common = new Map<string, string>();
  for (const line of readFileSync(commonPath, 'latin1').split('\n')) {
    if (line === '') continue;
    const [key, , list] = line.split(',');
    if (!common.has(key)) common.set(key, list);
  }
  const pairs = (list: string) => (list === '' ? [] : list.split('\x01').map((p) => p.split(/[\x02\x03]/)));
  const out: { line: number; fields: string[] }[] = [];
  readFileSync(skeletonPath, 'latin1').split('\n').forEach((line, i) => {
    if (line === '') return;
    const [sampleId, click, buy, key, , list] = line.split(',');
    const byField = new Map<string, [string, string][]>();
    for (const [field, feat, value] of [...pairs(list), ...pairs(common.get(key)!)]) {
      if (!byField.has(field)) byField.set(field, []);
      byField.get(field)!.push([feat, value]);
    }
    out.push({ line: i + 1, fields: [click, buy, sampleId, ...[...FIELDS, 'x999'].map((f) => shape(f, byField.get(f) ?? []))] });
  });
  return out;
}

describe('Ali-CCP token format: the PaddleRec sample files', () => {
  const sample = join(sharedDataDir(), 'ali-ccp-raw');
  const rawLines = (name: string) => readFileSync(join(sample, name), 'utf8').trimEnd().split('\n');
  /** Feat ids of `field` in a raw line, in order. */
  const featsOf = (line: string, field: string) => line.split(',').slice(3).filter((t) => t.startsWith(`${field}:`)).map((t) => t.slice(field.length + 1));

  test('columns, labels and values match the raw text', async () => {
    const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-tokens.yaml'));
    for (const name of ['train_small.txt', 'test_small.txt']) {
      const source = await openAliCcpTokenSource(join(sample, name), cfg);
      assert.deepEqual(source.columns, ['click', 'buy', 'sample_id', ...FIELDS]);
      const records = await readAll(source);
      const lines = rawLines(name);
      assert.equal(records.length, 10);
      records.forEach((r, i) => {
        assert.equal(r.line, i + 1);
        const raw = lines[i].split(',');
        const f = r.fields!;
        assert.deepEqual(f.slice(0, 3), [raw[1], raw[2], raw[0]]);
        for (const field of FIELDS) assert.equal(f[3 + FIELDS.indexOf(field)], featsOf(lines[i], field).join('|'), `${name}:${i + 1} field ${field}`);
      });
      assert.deepEqual([...source.unknownFields], []);
    }
  });

  test('spot checks written out by hand', async () => {
    const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-tokens.yaml'));
    const f = good(await readAll(await openAliCcpTokenSource(join(sample, 'train_small.txt'), cfg)));
    const col = (name: string) => 3 + FIELDS.indexOf(name);
    assert.deepEqual(f[0].slice(0, 3), ['1', '1', '1']); // sample 1: clicked and bought
    assert.equal(f[0][col('210')], '1|2|3');
    assert.equal(f[0][col('216')], '4');
    assert.equal(f[0][col('101')], '12');
    assert.equal(f[0][col('126')], ''); // not in the sample files
    assert.equal(f[0][col('150_14')].split('|').length, 191);
    assert.equal(f[0][col('150_14')].split('|')[0], '18');
    assert.deepEqual(f[2].slice(0, 3), ['1', '0', '3']); // clicked, not bought
    assert.equal(f[3][col('853')], '910|911|912'); // a "single" field repeated
    assert.equal(f[1][col('508')], ''); // row 2 has no 508
  });

  test('weighted_id_list columns get feat:1 pieces; id columns the first feat', async () => {
    const cfg = config([
      { name: 'h', column: '109_14', type: 'weighted_id_list', separator: ';', kv_separator: '=' },
      { name: 'c', column: '853', type: 'id' },
      { name: 'n', column: '210', type: 'numeric' },
    ], { format: 'ali-ccp-tokens' });
    const f = good(await readAll(await openAliCcpTokenSource(join(sample, 'train_small.txt'), cfg)));
    const hist = f[0][3 + FIELDS.indexOf('109_14')].split(';');
    assert.equal(hist.length, 117);
    assert.ok(hist.every((p) => /^\d+=1$/.test(p)));
    assert.equal(f[3][3 + FIELDS.indexOf('853')], '910');
    assert.equal(f[0][3 + FIELDS.indexOf('210')], '3'); // numeric over a token field: the number of feats
  });

  test('through openSource, with the example config', async () => {
    const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-tokens.yaml'));
    const source = await openSource(join(sample, 'test_small.txt'), cfg);
    assert.equal(good(await readAll(source)).length, 10);
  });
});

describe('Ali-CCP token format: malformed input', () => {
  const cfg = config([{ name: 'u', column: '101' }], { format: 'ali-ccp-tokens' });
  test('each bad line is a DataError record naming file, line and token; good lines go on', async () => {
    const path = tempFile(
      [
        '1,0,0,101:5,205:7',
        '2,0', // too few values
        '3,1,0,101:5,205', // token without ':'
        '4,1,0,101:5,:7', // empty field id
        '5,1,0,101:', // empty feat id
        '6,1,0,101:5,,205:1', // empty token
        '',
        '7,x,y', // labels are passed through; no features is fine
        '8,0,0,109_14:a|b', // feat contains the list separator of the column
      ].join('\r\n'),
    );
    const records = await readAll(await openAliCcpTokenSource(path, cfg));
    assert.deepEqual(records.map((r) => r.line), [1, 2, 3, 4, 5, 6, 8, 9]);
    assert.deepEqual(records[0].fields!.slice(0, 4), ['0', '0', '1', '5']);
    assert.deepEqual(records[6].fields!.slice(0, 4), ['x', 'y', '7', '']);
    const errors = records.filter((r) => r.error).map((r) => r.error!);
    assert.equal(errors.length, 6);
    for (const e of errors) {
      assert.ok(e instanceof DataError);
      assert.equal(e.file, path);
    }
    assert.match(errors[0].message, /:2: expected sample_id,click,ctcvr/);
    assert.match(errors[1].message, /:3: token 5 "205" has no ':'/);
    assert.match(errors[2].message, /:4: token 5 ":7" has an empty field id/);
    assert.match(errors[3].message, /:5: token 4 "101:" has an empty feat id/);
    assert.match(errors[4].message, /:6: token 5 "" is empty/);
    assert.equal(errors[5].column, '109_14');
    assert.match(errors[5].message, /:9 column "109_14": token 4: field 109_14: feat id "a\|b" contains the separator/);
  });

  test('an overlong line is one bad record; a BOM is dropped; unknown fields are collected', async () => {
    const path = tempFile(`\uFEFF1,0,0,101:5,999:1\n2,0,0,101:${'9'.repeat(5000)}\n3,0,0,101:6\n`);
    const source = await openAliCcpTokenSource(path, cfg, { blockBytes: 64, maxLineBytes: 1024 });
    const records = await readAll(source);
    assert.deepEqual(records.map((r) => [r.line, r.fields?.[3] ?? r.error!.reason]), [[1, '5'], [2, 'line longer than 1024 bytes'], [3, '6']]);
    assert.deepEqual([...source.unknownFields], ['999']);
  });

  test('a missing file is an EsmmError at open', async () => {
    await assert.rejects(openAliCcpTokenSource(join(dir, 'nope.txt'), cfg), (e: Error) => e instanceof EsmmError && /nope\.txt: cannot open/.test(e.message));
  });
});

describe('columns', () => {
  test('label columns follow input.click / input.buy; extra fields come after the fixed ones', async () => {
    const cfg = config([{ name: 'a', column: '999' }, { name: 'b', column: '101' }], { format: 'ali-ccp-tokens', click: 'clk', buy: 'ctcvr' });
    const source = await openAliCcpTokenSource(tempFile('1,1,0,999:3,101:4\n'), cfg);
    assert.deepEqual(source.columns, ['clk', 'ctcvr', 'sample_id', ...FIELDS, '999']);
    assert.deepEqual(good(await readAll(source))[0].slice(-1), ['3']);
  });

  test('two features reading one field in different ways are refused', async () => {
    const cfg = config([{ name: 'a', column: '109_14', type: 'id_list' }, { name: 'b', column: '109_14', type: 'weighted_id_list' }], { format: 'ali-ccp-tokens' });
    await assert.rejects(openAliCcpTokenSource(tempFile('1,0,0\n'), cfg), /features "a" and "b" read field 109_14 in different ways/);
  });
});

describe('raw Ali-CCP: the join', () => {
  const data = join(dir, 'synth');
  const stats = writeAliCcpRaw(data, { rows: 6000, seed: 7, users: 300 });
  const skeleton = join(data, 'sample_skeleton_train.csv'), common = join(data, 'common_features_train.csv');
  const expected = naiveJoin(skeleton, common);

  test('the generated set has the intended shape', () => {
    assert.equal(stats.rows, 6000);
    assert.equal(expected.length, 6000);
    assert.ok(stats.clicks > 100 && stats.clicks < 500, `clicks ${stats.clicks}`);
  });

  for (const [what, extra] of [
    ['one in-memory table (default budget)', {}],
    ['a tiny budget: many partitions', { memoryBytes: 4000 }],
    ['small reads', { memoryBytes: 50_000, blockBytes: 100 }],
  ] as const) {
    test(`equals the in-memory join, in skeleton order: ${what}`, async () => {
      const source = await openAliCcpSource(skeleton, SHAPES, opts(extra));
      const records = await readAll(source);
      assert.deepEqual(records.map((r) => ({ line: r.line, fields: r.fields })), expected);
      if ('memoryBytes' in extra && extra.memoryBytes === 4000) assert.ok(source.stats.partitions >= 10, `partitions ${source.stats.partitions}`);
      else if (!('memoryBytes' in extra)) assert.equal(source.stats.partitions, 1);
      assert.equal(source.stats.commonRows, 300);
      assert.deepEqual(scratchLeft(), []);
    });
  }

  test('interleaved visits (common rows far apart) and a cache too small to help', async () => {
    const sub = join(dir, 'interleaved');
    writeAliCcpRaw(sub, { rows: 3000, seed: 8, users: 200, interleave: 50, split: 'test' });
    const sk = join(sub, 'sample_skeleton_test.csv');
    const want = naiveJoin(sk, join(sub, 'common_features_test.csv'));
    for (const memoryBytes of [undefined, 3000]) {
      const source = await openAliCcpSource(sk, SHAPES, opts({ memoryBytes }));
      assert.deepEqual((await readAll(source)).map((r) => ({ line: r.line, fields: r.fields })), want);
      if (memoryBytes) assert.ok(source.stats.commonReads > 2000, `reads ${source.stats.commonReads}`);
    }
  });

  test('reads the same rows as the token format of the same samples', async () => {
    const tokens = join(dir, 'synth-tokens.txt');
    writeAliCcpTokens(tokens, { rows: 6000, seed: 7, users: 300 });
    const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-tokens.yaml'));
    const fromRaw = good(await readAll(await openAliCcpSource(skeleton, cfg, opts())));
    const fromTokens = good(await readAll(await openAliCcpTokenSource(tokens, cfg)));
    assert.equal(fromTokens.length, fromRaw.length);
    for (let i = 0; i < fromRaw.length; i++) {
      const raw = fromRaw[i];
      if (raw[0] === '0' && raw[1] === '1') raw[1] = '0'; // ctcvr = click·buy in the token format
      assert.deepEqual(fromTokens[i], raw, `row ${i + 1}`);
    }
  });

  test('the example raw config reads the set through openSource', async () => {
    const cfg = loadConfig(join(packageRoot(), 'examples', 'ali-ccp-raw.yaml'));
    process.env.ESMM_JOIN_TMPDIR = scratch;
    try {
      const rows = good(await readAll(await openSource(skeleton, cfg)));
      assert.equal(rows.length, 6000);
      assert.match(rows[0][3 + FIELDS.indexOf('109_14')], /^\d+:\d+(\|\d+:\d+)*$/);
    } finally {
      delete process.env.ESMM_JOIN_TMPDIR;
    }
  });

  test('the budget and scratch directory come from the environment when not given', async () => {
    const saved = { ...process.env };
    try {
      process.env.ESMM_JOIN_TMPDIR = scratch;
      process.env.ESMM_JOIN_MEMORY_MB = String(4000 / (1 << 20));
      const source = await openAliCcpSource(skeleton, SHAPES);
      assert.equal(good(await readAll(source)).length, 6000);
      assert.ok(source.stats.partitions >= 10);
      process.env.ESMM_JOIN_MEMORY_MB = 'lots';
      await assert.rejects(openAliCcpSource(skeleton, SHAPES), /ESMM_JOIN_MEMORY_MB: the join memory budget must be a positive number/);
    } finally {
      process.env = saved;
    }
    assert.deepEqual(scratchLeft(), []);
  });

  test('scratch space is removed when the reader stops early or the consumer throws', async () => {
    for (const memoryBytes of [undefined, 4000]) {
      const source = await openAliCcpSource(skeleton, SHAPES, opts({ memoryBytes, blockBytes: 1000 }));
      for await (const _ of source.chunks()) break;
      assert.deepEqual(scratchLeft(), []);
      await assert.rejects(async () => {
        for await (const _ of source.chunks()) throw new Error('consumer failed');
      }, /consumer failed/);
      assert.deepEqual(scratchLeft(), []);
      const it = source.chunks();
      await it.next();
      assert.equal(scratchLeft().length, 1);
      source.close();
      await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(scratchLeft(), []);
    }
  });

  test('scratch space is removed when the process is interrupted', async () => {
    const script = `
      import { openAliCcpSource } from ${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'src', 'data', 'ali-ccp.js')).href)};
      import { parseConfig } from ${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'src', 'config.js')).href)};
      const cfg = parseConfig({ input: { format: 'ali-ccp' }, features: [{ name: 'u', column: '101' }] });
      const source = await openAliCcpSource(${JSON.stringify(skeleton)}, cfg, { tmpDir: ${JSON.stringify(scratch)}, memoryBytes: 4000, blockBytes: 500 });
      const it = source.chunks();
      await it.next();
      console.log('ready');
      setInterval(() => {}, 1000);
    `;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('ready') && resolve()));
      assert.equal(scratchLeft().length, 1);
      const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(sig)));
      child.kill(signal);
      assert.equal(await exited, signal); // still dies of the signal
      assert.deepEqual(scratchLeft(), []);
    }
  });
});

describe('raw Ali-CCP: files and malformed input', () => {
  const cfg = config([{ name: 'u', column: '101' }, { name: 'h', column: '109_14', type: 'weighted_id_list' }]);
  const f = (field: string, feat: string, value = '1.0') => `${field}\x02${feat}\x03${value}`;
  const list = (...pieces: string[]) => `${pieces.length},${pieces.join('\x01')}`;

  test('the common file: found by name, or given with ::, or an error naming both', async () => {
    assert.deepEqual(aliCcpFiles('/d/sample_skeleton_train.csv'), { skeleton: '/d/sample_skeleton_train.csv', common: '/d/common_features_train.csv' });
    assert.deepEqual(aliCcpFiles('a.csv::b.csv'), { skeleton: 'a.csv', common: 'b.csv' });
    assert.throws(() => aliCcpFiles('/d/train.csv'), /no "sample_skeleton".*::COMMON_FILE/);
    const lonely = join(dir, 'lonely');
    mkdirSync(lonely);
    writeFileSync(join(lonely, 'sample_skeleton_train.csv'), '');
    await assert.rejects(openAliCcpSource(join(lonely, 'sample_skeleton_train.csv'), cfg), (e: Error) =>
      e instanceof EsmmError && e.message.includes('sample_skeleton_train.csv') && e.message.includes('common_features_train.csv'));
    const sk = tempFile(`1,1,0,k,${list(f('205', '9'))}\n`, 'skel.csv');
    const cm = tempFile(`k,${list(f('101', '5'), f('109_14', '3', '4'))}\n`, 'comm.csv');
    const records = good(await readAll(await openAliCcpSource(`${sk}::${cm}`, cfg, opts())));
    assert.deepEqual(records[0].slice(0, 5), ['1', '0', '1', '5', '3:4']);
  });

  test('bad rows are DataError records naming the skeleton file, line and column', async () => {
    const path = rawPair(
      [
        `1,0,0,u1,${list(f('205', '1'))}`, // good
        `2,0,0,u1,2,${f('205', '1')}`, // feature_num mismatch
        `3,0,0,nobody,${list(f('205', '1'))}`, // no such common row
        `4,0,0,u1,1,205\x021`, // no 0x03
        `5,0,0,u1`, // too few values
        `6,0,0,,${list()}`, // empty common_feature_index
        `7,0,0,u1,1,${f('205', '1', 'abc')}`, // value not a number
        `8,0,0,u1,${list(f('205', 'é'))}`, // a byte outside ASCII
        `9,0,0,bad,${list(f('205', '1'))}`, // its common row is malformed
        `10,1,1,u1,${list()}`, // good: no own features
      ].join('\n'),
      Buffer.from([`u1,${list(f('101', '7'), f('109_14', '2', '3'))}`, `bad,2,${f('101', '7')}`, ''].join('\n'), 'latin1'),
    );
    for (const memoryBytes of [undefined, 1000]) {
      const records = await readAll(await openAliCcpSource(path, cfg, opts({ memoryBytes })));
      assert.deepEqual(records.map((r) => r.line), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(records[0].fields!.slice(0, 5), ['0', '0', '1', '7', '2:3']);
      assert.deepEqual(records[9].fields!.slice(0, 5), ['1', '1', '10', '7', '2:3']);
      const errors = records.slice(1, 9).map((r) => r.error!);
      for (const e of errors) {
        assert.ok(e instanceof DataError, String(e));
        assert.equal(e.file, path);
      }
      const expect: [string | null, RegExp][] = [
        ['feature_list', /feature_num is 2 but feature_list has 1 feature/],
        ['common_feature_index', /no row "nobody" in .*common_features_x\.csv/],
        ['feature_list', /feature 1: expected field_id 0x02 feat_id 0x03 value/],
        [null, /expected 6 comma-separated values/],
        ['common_feature_index', /empty/],
        ['feature_list', /value "abc" is not a number/],
        [null, /unexpected byte 0xc3 at byte 16/], // é in UTF-8: 0xc3 0xa9
        ['common_feature_index', /common_features_x\.csv:2: feature_list: feature_num is 2 but feature_list has 1 feature/],
      ];
      expect.forEach(([column, reason], i) => {
        assert.equal(errors[i].column, column, errors[i].message);
        assert.match(errors[i].message, reason);
        assert.equal(errors[i].line, i + 2);
      });
    }
  });

  test('a duplicated common key: the first row wins', async () => {
    const path = rawPair(`1,0,0,k,${list()}\n`, `k,${list(f('101', '1'))}\nk,${list(f('101', '2'))}\n`);
    const source = await openAliCcpSource(path, cfg, opts());
    assert.equal(good(await readAll(source))[0][3], '1');
    assert.equal(source.stats.duplicateCommonKeys, 1);
  });

  test('a budget too small for the partition limit is a clear error', async () => {
    const path = rawPair(`1,0,0,k,${list()}\n`, Array.from({ length: 2000 }, (_, i) => `k${i},${list()}`).join('\n'));
    await assert.rejects(readAll(await openAliCcpSource(path, cfg, opts({ memoryBytes: 100 }))), /memory budget of 100 bytes is too small for 2000 common rows/);
    assert.deepEqual(scratchLeft(), []);
  });
});

describe('synthetic Ali-CCP', () => {
  test('label rates, invalid rows and signal in the features', () => {
    const sim = new AliCcpSimulator({ rows: 300_000, seed: 5 });
    const stats = { rows: 0, users: 0, clicks: 0, buys: 0, click0buy1: 0 };
    const byPosition = new Map<number, [number, number]>();
    for (const s of sim.samples(stats)) {
      const pos = s.features.find(([field]) => field === '301')![1];
      const [n, c] = byPosition.get(pos) ?? [0, 0];
      byPosition.set(pos, [n + 1, c + s.click]);
    }
    const ctr = stats.clicks / stats.rows, cvr = stats.buys / stats.clicks;
    assert.ok(ctr > 0.03 && ctr < 0.05, `ctr ${ctr}`);
    assert.ok(cvr > 0.002 && cvr < 0.01, `cvr ${cvr}`);
    assert.ok(stats.click0buy1 > 0 && stats.click0buy1 < 50, `click0buy1 ${stats.click0buy1}`);
    const rates = [...byPosition.entries()].sort((a, b) => a[0] - b[0]).map(([, [n, c]]) => c / n);
    assert.ok(rates[0] > 1.5 * rates[3], `ctr by position ${rates}`);
  });

  test('every user has one common row and every sample points at one; splits share feat ids', () => {
    const sub = join(dir, 'synth-shape');
    writeAliCcpRaw(sub, { rows: 2000, seed: 9, users: 50 });
    writeAliCcpRaw(sub, { rows: 500, seed: 9, users: 50, sampleSeed: 10, split: 'test' });
    const keys = (name: string, at: number) => readFileSync(join(sub, name), 'latin1').trimEnd().split('\n').map((l) => l.split(',')[at]);
    const common = keys('common_features_train.csv', 0);
    assert.equal(new Set(common).size, 50);
    assert.ok(keys('sample_skeleton_train.csv', 3).every((k) => common.includes(k)));
    assert.deepEqual(keys('common_features_test.csv', 0), common);
    assert.equal(readFileSync(join(sub, 'common_features_test.csv'), 'latin1'), readFileSync(join(sub, 'common_features_train.csv'), 'latin1'));
  });
});

describe('properties: any input gives records or EsmmErrors, never a crash or a hang', () => {
  const cfg = config([{ name: 'u', column: '101' }, { name: 'h', column: '109_14', type: 'weighted_id_list' }, { name: 'n', column: '205', type: 'numeric' }]);
  const chars = fc.constantFrom(',', ':', '\x01', '\x02', '\x03', '\n', '\r', '0', '1', '7', '.', 'k', '101', '109_14', '205', '|', 'é', '\x00', '\xff', ' ');
  const junk = fc.array(chars, { maxLength: 200 }).map((a) => a.join(''));
  const piece = fc.tuple(fc.constantFrom('101', '109_14', '205', '999'), fc.constantFrom('1', '22', ''), fc.constantFrom('1.0', '3', 'x')).map(([a, b, c]) => `${a}\x02${b}\x03${c}`);
  const featureList = fc.array(piece, { maxLength: 4 }).chain((ps) => fc.constantFrom(ps.length, ps.length + 1).map((n) => `${n},${ps.join('\x01')}`));
  const key = fc.constantFrom('a', 'b', 'c', '');
  const skeletonLine = fc.oneof(fc.tuple(fc.nat(99), fc.constantFrom('0', '1'), fc.constantFrom('0', '1'), key, featureList).map((t) => t.join(',')), junk);
  const commonLine = fc.oneof(fc.tuple(key, featureList).map((t) => t.join(',')), junk);
  const lines = (line: fc.Arbitrary<string>) => fc.array(line, { maxLength: 12 }).map((ls) => ls.join('\n'));

  /** Reads everything; fails on anything thrown that is not an EsmmError and on records that are neither good nor DataError. */
  async function check(open: () => Promise<RecordSource>): Promise<void> {
    try {
      const source = await open();
      for (const r of await readAll(source)) {
        if (r.fields === null) assert.ok(r.error instanceof DataError);
        else assert.equal(r.fields.length, source.columns.length);
      }
    } catch (e) {
      if (!(e instanceof EsmmError)) throw e;
    }
    assert.deepEqual(scratchLeft(), []);
  }

  test('token format: random text', { timeout: 120_000 }, async () => {
    const tokenLine = fc.oneof(
      fc.tuple(fc.nat(9), fc.constantFrom('0', '1'), fc.constantFrom('0', '1'), fc.array(fc.constantFrom('101:1', '109_14:2', '205:3', '205:', ':4', '9', '101:a|b'), { maxLength: 5 })).map(
        ([a, b, c, ts]) => [a, b, c, ...ts].join(','),
      ),
      junk,
    );
    await fc.assert(
      fc.asyncProperty(lines(tokenLine), fc.integer({ min: 16, max: 256 }), async (text, blockBytes) => {
        const path = tempFile(Buffer.from(text, 'latin1'));
        await check(() => openAliCcpTokenSource(path, { ...cfg, input: { ...cfg.input, format: 'ali-ccp-tokens' } }, { blockBytes, maxLineBytes: 256 }));
      }),
      { numRuns: 150 },
    );
  });

  test('raw format: random skeleton and common files, any budget', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(lines(skeletonLine), lines(commonLine), fc.constantFrom(200, 2000, 1 << 20), fc.integer({ min: 16, max: 256 }), async (sk, cm, memoryBytes, blockBytes) => {
        const path = rawPair(Buffer.from(sk, 'latin1'), Buffer.from(cm, 'latin1'));
        await check(() => openAliCcpSource(path, cfg, opts({ memoryBytes, blockBytes, maxLineBytes: 256 })));
      }),
      { numRuns: 150 },
    );
  });

  test('truncated generated files', { timeout: 120_000 }, async () => {
    const base = join(dir, 'trunc-src');
    writeAliCcpRaw(base, { rows: 300, seed: 3, users: 20 });
    const tokens = join(dir, 'trunc-tokens.txt');
    writeAliCcpTokens(tokens, { rows: 100, seed: 3, users: 20 });
    const skBytes = readFileSync(join(base, 'sample_skeleton_train.csv'));
    const cmBytes = readFileSync(join(base, 'common_features_train.csv'));
    const tkBytes = readFileSync(tokens);
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(3000, 1 << 20), async (a, b, memoryBytes) => {
        const path = rawPair(skBytes.subarray(0, Math.floor(a * skBytes.length)), cmBytes.subarray(0, Math.floor(b * cmBytes.length)));
        await check(() => openAliCcpSource(path, cfg, opts({ memoryBytes })));
        const tk = tempFile(tkBytes);
        truncateSync(tk, Math.floor(a * tkBytes.length));
        await check(() => openAliCcpTokenSource(tk, cfg));
        rmSync(tk);
      }),
      { numRuns: 40 },
    );
    assert.ok(statSync(base).isDirectory());
  });
});
