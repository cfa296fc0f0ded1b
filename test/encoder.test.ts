import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseConfig, type Config } from '../src/config.js';
import { Encoder } from '../src/data/encoder.js';
import { fnv1a32, hashBucketRow } from '../src/data/hash.js';
import { StringTable } from '../src/data/string-table.js';
import { DataError, EsmmError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-encoder-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function tempCsv(lines: string[]): string {
  const path = join(dir, `f${fileCount++}.csv`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function config(features: unknown[], extra: Record<string, unknown> = {}): Config {
  return parseConfig({ input: { click: 'click', buy: 'buy' }, features, ...extra });
}

describe('hash (FNV-1a 32 over UTF-8)', () => {
  test('fixed values, computed independently in Python', () => {
    // The published FNV-1a test vectors plus non-ASCII values (2-, 3- and 4-byte UTF-8).
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    assert.equal(fnv1a32('é'), 0x1e9de8c1);
    assert.equal(fnv1a32('日本'), 0x9f26ee51);
    assert.equal(fnv1a32('😀'), 0x33a29608);
    assert.equal(fnv1a32('user_123'), 0x13adfb29);
    assert.equal(hashBucketRow('foobar', 1000), 721);
    assert.equal(hashBucketRow('NULL', 1000), 677);
    assert.equal(hashBucketRow('user_123', 1 << 20), 916266);
  });

  test('equals FNV-1a over TextEncoder bytes for any string (lone surrogates included)', () => {
    const reference = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h;
    };
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => fnv1a32(s) === reference(s)), { numRuns: 2000 });
  });
});

describe('StringTable', () => {
  test('agrees with a Map on random keys, across growth', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 300 }), fc.array(fc.string({ maxLength: 10 })), (keys, probes) => {
        const table = new StringTable();
        const map = new Map<string, number>();
        for (const k of keys) {
          if (!map.has(k)) map.set(k, map.size);
          assert.equal(table.add(k), map.get(k));
        }
        assert.equal(table.size, map.size);
        for (const p of [...keys, ...probes]) assert.equal(table.indexOf(p), map.get(p) ?? -1);
      }),
      { numRuns: 300 },
    );
  });

  test('short inline keys and long keys do not collide: "a" vs "a\\u0000", "ÿ", long prefixes', () => {
    const keys = ['a', 'a\u0000', '\u0000', 'ÿ', 'ÿÿ', '12345678', '123456789', '1234567', 'abcdefgh', 'abcdefghi'];
    const table = StringTable.from(keys);
    keys.forEach((k, i) => assert.equal(table.indexOf(k), i));
    assert.equal(table.indexOf('abcdefghij'), -1);
    assert.equal(table.indexOf(''), -1);
  });
});

describe('Encoder.fit (vocabulary)', () => {
  const path = tempCsv([
    'click,buy,user,tags',
    '1,0,u1,a|b',
    '0,0,u2,b',
    '0,0,u1,',
    '1,1,u3,b|c|',
    '0,0,u2,a||b',
    '0,0,u1,b',
    '0,1,u9,zz', // click 0, buy 1: dropped, so u9 and zz are never counted
  ]);

  test('rows 1..V by descending count, ties by first appearance; row 0 reserved', async () => {
    const cfg = config([{ name: 'user' }, { name: 'tags', type: 'id_list' }]);
    const enc = await Encoder.fit(cfg, [path]);
    assert.deepEqual(enc.vocabulary(0), ['u1', 'u2', 'u3']);
    assert.deepEqual(enc.vocabulary(1), ['b', 'a', 'c']);
    assert.deepEqual(enc.tableSizes(), [4, 4]);
    assert.equal(enc.encodeValue(0, 'u1'), 1);
    assert.equal(enc.encodeValue(0, 'u3'), 3);
    assert.equal(enc.encodeValue(1, 'c'), 3);
    assert.equal(enc.fitStats?.rowsUsed, 6);
    assert.equal(enc.fitStats?.droppedClick0Buy1, 1);
  });

  test('OOV and empty values at encode time map to row 0', async () => {
    const enc = await Encoder.fit(config([{ name: 'user' }]), [path]);
    assert.equal(enc.encodeValue(0, 'u9'), 0);
    assert.equal(enc.encodeValue(0, 'never seen'), 0);
    assert.equal(enc.encodeValue(0, ''), 0);
  });

  test('min_count drops rare values to the OOV row', async () => {
    const enc = await Encoder.fit(config([{ name: 'user', min_count: 2 }, { name: 'tags', type: 'id_list', min_count: 2 }]), [path]);
    assert.deepEqual(enc.vocabulary(0), ['u1', 'u2']);
    assert.deepEqual(enc.vocabulary(1), ['b', 'a']);
    assert.equal(enc.encodeValue(0, 'u3'), 0);
    assert.deepEqual(enc.tableSizes(), [3, 3]);
  });

  test('fitting is deterministic', async () => {
    const cfg = config([{ name: 'user' }, { name: 'tags', type: 'id_list' }]);
    const a = await Encoder.fit(cfg, [path]);
    const b = await Encoder.fit(cfg, [path]);
    assert.deepEqual(a.toJSON(), b.toJSON());
  });

  test('bad rows: an error by default, skipped (and not counted) with onBadRow skip', async () => {
    const bad = tempCsv(['click,buy,user', '1,0,u1', '2,0,u2', '0,0,u3,extra', '0,0,u4']);
    const cfg = config([{ name: 'user' }]);
    await assert.rejects(Encoder.fit(cfg, [bad]), (e: unknown) => e instanceof DataError && e.message.startsWith(`${bad}:3 column "click"`));
    const enc = await Encoder.fit(cfg, [bad], { onBadRow: 'skip' });
    assert.deepEqual(enc.vocabulary(0), ['u1', 'u4']);
    assert.equal(enc.fitStats?.skippedBadRows, 2);
  });

  test('a config with only hashed features reads no file', async () => {
    const enc = await Encoder.fit(config([{ name: 'user', hash_buckets: 100 }]), [join(dir, 'missing.csv')]);
    assert.equal(enc.fitStats, null);
    assert.deepEqual(enc.tableSizes(), [101]);
  });
});

describe('Encoder (hash_buckets)', () => {
  test('row = 1 + fnv1a32(value) % buckets, 0 for missing; lists hash each element', async () => {
    const features = [{ name: 'user', hash_buckets: 1000 }, { name: 'tags', type: 'id_list', hash_buckets: 1000 }];
    const enc = await Encoder.fit(config(features, { input: { click: 'click', buy: 'buy', null_values: [''] } }), []);
    assert.deepEqual(enc.tableSizes(), [1001, 1001]);
    assert.equal(enc.encodeValue(0, 'foobar'), 721);
    assert.equal(enc.encodeValue(0, ''), 0);
    const batch = enc.encodeRecords([{ user: 'NULL', tags: 'foobar|NULL' }]);
    assert.deepEqual([...batch.fields[0].ids], [677]);
    assert.deepEqual([...batch.fields[1].ids], [721, 677]);
    // by default NULL is a null value: missing for a single id, dropped from a list
    const byDefault = await Encoder.fit(config(features), []);
    const b = byDefault.encodeRecords([{ user: 'NULL', tags: 'foobar|NULL' }]);
    assert.deepEqual([...b.fields[0].ids], [0]);
    assert.deepEqual([...b.fields[1].ids], [721]);
  });
});

describe('Encoder JSON', () => {
  const path = tempCsv(['click,buy,user,tags,item', '1,0,u1,a|b,i1', '0,0,"u,2",b,i2']);
  const cfg = config([{ name: 'user' }, { name: 'tags', type: 'id_list' }, { name: 'item', hash_buckets: 50 }]);

  test('round-trips through JSON text and encodes identically', async () => {
    const enc = await Encoder.fit(cfg, [path]);
    const json = JSON.parse(JSON.stringify(enc.toJSON()));
    assert.deepEqual(json.features[0], {
      name: 'user', column: 'user', type: 'id', separator: '|', kv_separator: ':',
      table: { kind: 'vocab', min_count: 1, max_vocab: null, vocab: ['u1', 'u,2'] },
    });
    assert.deepEqual(json.features[2].table, { kind: 'hash', buckets: 50 });
    const back = Encoder.fromJSON(json, cfg);
    assert.deepEqual(back.tableSizes(), enc.tableSizes());
    const records = [{ user: 'u,2', tags: ['b', 'x'], item: 'i9' }, { user: 'nope', tags: '', item: null }];
    assert.deepEqual(back.encodeRecords(records), enc.encodeRecords(records));
  });

  test('a config that does not match the saved encoder is an EsmmError saying what differs', async () => {
    const json = (await Encoder.fit(cfg, [path])).toJSON();
    const other = config([{ name: 'user' }, { name: 'tags', type: 'id' }, { name: 'item', hash_buckets: 50 }]);
    assert.throws(() => Encoder.fromJSON(json, other), (e: unknown) => e instanceof EsmmError && /"tags".*type/.test(e.message));
    assert.throws(() => Encoder.fromJSON(json, config([{ name: 'user' }])), EsmmError);
    assert.throws(() => Encoder.fromJSON({ format: 'something' }, cfg), EsmmError);
  });
});

describe('Encoder.encodeRecords (serving)', () => {
  test('CSR batch from objects: lists as arrays or separator strings, numbers, missing values, labels 0', async () => {
    const path = tempCsv(['click,buy,user,tags,age', '1,0,u1,a|b,30', '0,0,u2,c,40']);
    const cfg = config([{ name: 'user' }, { name: 'tags', type: 'id_list' }, { name: 'age' }]);
    const enc = await Encoder.fit(cfg, [path]);
    const batch = enc.encodeRecords([
      { user: 'u2', tags: ['a', 'c'], age: 30 },
      { user: null, tags: 'b||zz', age: '40' },
      { tags: [] },
    ]);
    assert.equal(batch.size, 3);
    assert.deepEqual([...batch.click], [0, 0, 0]);
    assert.deepEqual([...batch.buy], [0, 0, 0]);
    assert.deepEqual([...batch.fields[0].ids], [2, 0, 0]);
    assert.deepEqual([...batch.fields[0].offsets], [0, 1, 2, 3]);
    assert.deepEqual([...batch.fields[1].ids], [1, 3, 2, 0]);
    assert.deepEqual([...batch.fields[1].offsets], [0, 2, 4, 4]);
    assert.deepEqual([...batch.fields[2].ids], [1, 2, 0]);
    assert.equal(batch.fields[1].weights, null);
    assert.throws(() => enc.encodeRecords([{ user: ['u1', 'u2'] }]), EsmmError);
  });
});
