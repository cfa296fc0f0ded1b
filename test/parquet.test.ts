/**
 * Parquet in and out: a user's Parquet file as records of strings, encoded Parquet round trips (exact,
 * multi-chunk, property-based), validation of encoded files, and clear errors for files that are missing,
 * empty, not Parquet, truncated or corrupt.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { loadDataset } from '../src/data/dataset.js';
import { parseConfig } from '../src/config.js';
import { sliceBatch, type Batch } from '../src/data/batch.js';
import { Db, sqlString } from '../src/data/duckdb.js';
import { Encoder } from '../src/data/encoder.js';
import { encodedSchema, openEncodedParquet, openParquetSource, writeEncodedParquet, type EncodedSchema } from '../src/data/parquet.js';
import { ENCODER_KEY, FORMAT_KEY, layoutFor } from '../src/data/parquet-layout.js';
import { concatBatches, readAll, readEncodedChunks } from '../src/data/pipeline.js';
import type { SourceRecord } from '../src/data/source.js';
import { DataError, EsmmError } from '../src/errors.js';
import { seededRandom } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-parquet-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const fresh = (name = 'f.parquet') => join(dir, `${fileCount++}-${name}`);

/** Runs SQL on a DuckDB connection of our own (e.g. COPY ... TO to make test files). */
async function sql(statement: string): Promise<void> {
  const db = await Db.connect();
  try {
    await db.run(statement);
  } finally {
    db.close();
  }
}

async function parquetFrom(select: string): Promise<string> {
  const path = fresh();
  await sql(`COPY (${select}) TO ${sqlString(path)} (FORMAT parquet)`);
  return path;
}

async function allRecords(path: string, cfg = parseConfig({ features: [{ name: 'x' }] }), columns: 'config' | 'all' = 'all') {
  const src = await openParquetSource(path, cfg, { columns });
  const records: SourceRecord[] = [];
  try {
    for await (const chunk of src.chunks()) records.push(...chunk);
  } finally {
    src.close();
  }
  return { columns: src.columns, records };
}

async function readBatches(path: string, batchRows?: number): Promise<Batch[]> {
  const src = await openEncodedParquet(path, { batchRows });
  assert.ok(src, `${path} is not recognised as encoded`);
  const out: Batch[] = [];
  try {
    for await (const b of src.chunks()) out.push(b);
  } finally {
    src.close();
  }
  return out;
}

async function* from(batches: Batch[]): AsyncGenerator<Batch> {
  yield* batches;
}

/** A batch as plain arrays per row, so batches with different chunking compare equal when their rows do. */
function rows(batches: Batch[]) {
  const out: unknown[] = [];
  for (const b of batches) {
    for (let i = 0; i < b.size; i++) {
      out.push({
        click: b.click[i], buy: b.buy[i],
        dense: Array.from(b.dense.subarray(i * b.denseWidth, (i + 1) * b.denseWidth)),
        fields: b.fields.map((f) => ({
          ids: Array.from(f.ids.subarray(f.offsets[i], f.offsets[i + 1])),
          weights: f.weights ? Array.from(f.weights.subarray(f.offsets[i], f.offsets[i + 1])) : null,
        })),
      });
    }
  }
  return out;
}

async function rejectsWith(work: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(work, (e: unknown) => {
    assert.ok(e instanceof EsmmError, `not an EsmmError: ${(e as Error)?.stack ?? e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    return true;
  });
}

describe('raw Parquet as records', () => {
  test('every type as the string a CSV file would hold; NULL is empty; lists joined by their feature\'s separator', async () => {
    const path = await parquetFrom(`SELECT * FROM (VALUES
      ('a', 1, 9007199254740993::BIGINT, 0.1::FLOAT, 2.5::DOUBLE, true, [1, NULL, 3], ['x', 'y'], [{'id': 'p', 'weight': 0.5::FLOAT}, {'id': 'q', 'weight': NULL}], MAP {'k': 2.0::FLOAT}, 1::TINYINT, 0::TINYINT, 'not read'),
      (NULL, NULL, -5::BIGINT, NULL, NULL, false, [], NULL, [], NULL, 0::TINYINT, 0::TINYINT, 'x'),
      ('héllo wörld, a long ünicode value', -2147483648, 0::BIGINT, 1e20::FLOAT, -0.0::DOUBLE, NULL, NULL, ['', 'z'], NULL, MAP {}, 1::TINYINT, 1::TINYINT, 'y'),
      ('a plain ascii string longer than twelve bytes', 7, -9223372036854775807::BIGINT, 3::FLOAT, 1e300::DOUBLE, true, [42], ['漢字'], [{'id': 'r', 'weight': 1.25::FLOAT}], MAP {'a': 1.0::FLOAT, 'b': NULL::FLOAT}, 0::TINYINT, 0::TINYINT, 'z')
    ) t(s, i, big, f, d, ok, ints, strs, wl, m, click, buy, unused)`);
    const cfg = parseConfig({
      features: [
        { name: 's' }, { name: 'i' }, { name: 'big' }, { name: 'f', type: 'numeric' }, { name: 'd', type: 'numeric' }, { name: 'ok' },
        { name: 'ints', type: 'id_list', separator: ';' }, { name: 'strs', type: 'id_list' },
        { name: 'wl', type: 'weighted_id_list', kv_separator: '=' }, { name: 'm', type: 'weighted_id_list' },
      ],
    });
    const { columns, records } = await allRecords(path, cfg, 'config');
    assert.deepEqual(columns, ['s', 'i', 'big', 'f', 'd', 'ok', 'ints', 'strs', 'wl', 'm', 'click', 'buy']);
    assert.deepEqual(records.map((r) => r.line), [1, 2, 3, 4]);
    assert.deepEqual(records.map((r) => r.fields), [
      ['a', '1', '9007199254740993', '0.1', '2.5', '1', '1;3', 'x|y', 'p=0.5|q', 'k:2.0', '1', '0'],
      ['', '', '-5', '', '', '0', '', '', '', '', '0', '0'],
      ['héllo wörld, a long ünicode value', '-2147483648', '0', '1e+20', '0', '', '', '|z', '', '', '1', '1'],
      ['a plain ascii string longer than twelve bytes', '7', '-9223372036854775807', '3.0', '1e+300', '1', '42', '漢字', 'r=1.25', 'a:1.0|b', '0', '0'],
    ]);
    assert.ok(records.every((r) => r.error === null));
  });

  test('through the pipeline: a bad value is named by row and column, and skip counts it', async () => {
    const path = await parquetFrom(`SELECT * FROM (VALUES ('u1', 1, 0, '2.5'), ('u2', 2, 0, '1'), ('u3', 0, 0, 'cheap'), (NULL, 1, 1, '4')) t(user, click, buy, price)`);
    const cfg = parseConfig({ features: [{ name: 'user' }, { name: 'price', type: 'numeric' }] });
    const enc = await Encoder.fit(cfg, [path], { onBadRow: 'skip' });
    await rejectsWith(() => loadDataset([path], cfg, enc), /: row 2 column "click": label must be 0 or 1/);
    const { data, stats } = await loadDataset([path], cfg, enc, { onBadRow: 'skip' });
    assert.equal(data.size, 2);
    assert.equal(stats.skippedBadRows, 2);
    assert.ok(stats.badRowExamples[1].includes(': row 3 column "price": not a number'));
  });

  test('a large file streams in chunks, in order, line = row number, only the columns the config reads', async () => {
    const n = 10_000;
    const path = await parquetFrom(`SELECT 'u' || i AS user, i % 2 AS click, 0 AS buy, repeat('z', i % 40) AS pad, i * 2 AS other FROM range(${n}) t(i)`);
    const cfg = parseConfig({ features: [{ name: 'user' }, { name: 'pad' }] });
    const src = await openParquetSource(path, cfg);
    assert.deepEqual(src.columns, ['user', 'click', 'buy', 'pad']);
    let chunks = 0, row = 0;
    for await (const chunk of src.chunks()) {
      chunks++;
      for (const r of chunk) {
        assert.equal(r.line, row + 1);
        assert.deepEqual(r.fields, [`u${row}`, String(row % 2), '0', 'z'.repeat(row % 40)]);
        row++;
      }
    }
    src.close();
    assert.equal(row, n);
    assert.ok(chunks > 1);
  });

  test('through the pipeline, a Parquet file gives the same batches as the same rows in CSV', async () => {
    const random = seededRandom(5);
    const lines = ['click,buy,user,tags,wtags,price'];
    const values: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const click = random() < 0.3 ? 1 : 0, buy = click && random() < 0.3 ? 1 : 0;
      const user = random() < 0.1 ? '' : `u${Math.floor(random() * 50)}`;
      const tags = Array.from({ length: Math.floor(random() * 4) }, () => `t${Math.floor(random() * 9)}`);
      const wtags = Array.from({ length: Math.floor(random() * 3) }, () => [`w${Math.floor(random() * 5)}`, (Math.floor(random() * 8) / 4).toFixed(2)]);
      const price = random() < 0.1 ? '' : (random() * 100).toFixed(3);
      lines.push(`${click},${buy},${user},${tags.join('|')},${wtags.map(([k, w]) => `${k}:${w}`).join('|')},${price}`);
      const list = (xs: string[]) => `[${xs.map((t) => sqlString(t)).join(', ')}]::VARCHAR[]`;
      const wlist = `[${wtags.map(([k, w]) => `{'id': ${sqlString(k)}, 'weight': ${w}::FLOAT}`).join(', ')}]${wtags.length === 0 ? "::STRUCT(id VARCHAR, weight FLOAT)[]" : ''}`;
      values.push(`(${click}::TINYINT, ${buy}::TINYINT, ${user === '' ? 'NULL' : sqlString(user)}, ${list(tags)}, ${wlist}, ${price === '' ? 'NULL' : `${price}::DOUBLE`})`);
    }
    const csv = join(dir, `${fileCount++}.csv`);
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const parquet = await parquetFrom(`SELECT * FROM (VALUES ${values.join(', ')}) t(click, buy, user, tags, wtags, price)`);
    const cfg = parseConfig({
      input: { format: 'auto' },
      features: [{ name: 'user' }, { name: 'tags', type: 'id_list' }, { name: 'wtags', type: 'weighted_id_list' }, { name: 'price', type: 'numeric', normalization: 'standard' }],
    });
    const enc = await Encoder.fit(cfg, [csv]);
    const fromCsv = await readAll(readEncodedChunks([csv], cfg, enc), enc);
    const fromParquet = await readAll(readEncodedChunks([parquet], cfg, enc), enc);
    assert.deepEqual(fromParquet.data, fromCsv.data);
    assert.equal(fromParquet.stats.rowsUsed, 3000);
    assert.ok((await Encoder.fit(cfg, [parquet])).sameAs(enc.toJSON()), 'fitting on the Parquet file gives the same encoder');
  });

  test('a feature column missing from the file is an error naming the file, the feature and the columns', async () => {
    const path = await parquetFrom(`SELECT 1 AS click, 0 AS buy, 'a' AS user`);
    await rejectsWith(() => openParquetSource(path, parseConfig({ features: [{ name: 'item' }] })), /: feature "item": column "item" is not in the file \(columns: "click", "buy", "user"\)$/);
  });

  test('a single-id feature reading a list column is an error', async () => {
    const path = await parquetFrom(`SELECT 1 AS click, 0 AS buy, [1, 2] AS tags`);
    await rejectsWith(() => openParquetSource(path, parseConfig({ features: [{ name: 'tags' }] })), /feature "tags" \(type id\) takes one value, but column "tags" holds lists \(INTEGER\[\]\)/);
  });

  test('positions are rows: the source says so, and a DataError in rows reads "file: row N"', async () => {
    const src = await openParquetSource(await parquetFrom(`SELECT 1 AS x`), parseConfig({ features: [{ name: 'x' }] }));
    assert.equal(src.unit, 'row');
    src.close();
    assert.equal(new DataError('a.parquet', 17, 'click', 'label must be 0 or 1', src.unit).message, 'a.parquet: row 17 column "click": label must be 0 or 1');
    assert.equal(new DataError('a.csv', 17, null, 'bad').message, 'a.csv:17: bad');
  });

  test('breaking out early closes cleanly; the source can be read again', async () => {
    const path = await parquetFrom(`SELECT i AS x FROM range(20000) t(i)`);
    const src = await openParquetSource(path, parseConfig({ features: [{ name: 'x' }] }));
    for await (const chunk of src.chunks()) {
      assert.equal(chunk[0].fields![0], '0');
      break;
    }
    let n = 0;
    for await (const chunk of src.chunks()) n += chunk.length;
    assert.equal(n, 20000);
    src.close();
    src.close();
  });
});

describe('files that are not (complete) Parquet', () => {
  const cfg = parseConfig({ features: [{ name: 'user' }] });
  const openers = {
    raw: async (p: string) => {
      const s = await openParquetSource(p, cfg);
      try { for await (const _ of s.chunks()) { /* read */ } } finally { s.close(); }
    },
    encoded: async (p: string) => {
      const s = await openEncodedParquet(p);
      if (!s) return;
      try { for await (const _ of s.chunks()) { /* read */ } } finally { s.close(); }
    },
  };
  let good: Buffer;
  const variant = async (name: string, bytes: Buffer | null) => {
    const p = join(dir, `${fileCount++}-${name}.parquet`);
    if (bytes) writeFileSync(p, bytes);
    return p;
  };

  test('setup: an encoded file to damage', async () => {
    const path = fresh();
    await writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: from([randomBatch(seededRandom(1), 5000)]) });
    good = readFileSync(path);
  });

  for (const [kind, open] of Object.entries(openers)) {
    test(`${kind}: missing, a directory, empty, not Parquet, truncated: one-line errors naming the file`, async () => {
      await rejectsWith(async () => open(await variant('missing', null)), /missing\.parquet: no such file$/);
      const d = join(dir, `${fileCount++}-dir.parquet`);
      mkdirSync(d);
      await rejectsWith(() => open(d), /dir\.parquet: is a directory/);
      await rejectsWith(async () => open(await variant('empty', Buffer.alloc(0))), /empty\.parquet: empty file \(0 bytes\)/);
      await rejectsWith(async () => open(await variant('text', Buffer.from('click,buy,a\n1,0,x\n'))), /text\.parquet: not a Parquet file/);
      await rejectsWith(async () => open(await variant('half', good.subarray(0, good.length >> 1))), /half\.parquet: truncated or incomplete Parquet file/);
      await rejectsWith(async () => open(await variant('tail', good.subarray(0, good.length - 1))), /tail\.parquet: truncated or incomplete Parquet file/);
    });

    test(`${kind}: property: any truncation or byte damage gives rows or an EsmmError, never a crash`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length }), fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 })), { maxLength: 8 }), async (cut, flips) => {
          const bytes = Buffer.from(good.subarray(0, cut === 0 ? good.length : cut));
          for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
          const path = await variant('fuzz', bytes);
          try {
            await open(path); // opens and reads every row
          } catch (e) {
            if (!(e instanceof EsmmError)) throw e;
          } finally {
            rmSync(path, { force: true });
          }
        }),
        { numRuns: 25 },
      );
    });

    test(`${kind}: corrupt data pages: a one-line error naming the file and where`, async () => {
      const damaged = Buffer.from(good);
      damaged.fill(0x37, 2000, 6000);
      await rejectsWith(async () => open(await variant('corrupt', damaged)), /corrupt\.parquet: (cannot read row 1 or later|.*corrupt)/);
      const header = Buffer.from(good);
      header.fill(0xff, 4, 400);
      await rejectsWith(async () => open(await variant('header', header)), /header\.parquet: /);
    });
  }
});

// ---- encoded Parquet ---------------------------------------------------------------------------------

const smallSchema: EncodedSchema = {
  fields: [{ name: 'user', shape: 'single', tableSize: 1000 }, { name: 'tags', shape: 'list', tableSize: 50 }, { name: 'wtags', shape: 'weighted', tableSize: 7 }],
  dense: ['price', 'age'],
};

/** A batch of `n` rows with every shape: lists of 0–4 ids (often empty), weights, dense values, valid labels. */
function randomBatch(random: () => number, n: number, schema = smallSchema): Batch {
  const fields = schema.fields.map((s) => {
    const offsets = new Int32Array(n + 1);
    const ids: number[] = [], weights: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = s.shape === 'single' ? 1 : Math.floor(random() * 5);
      for (let j = 0; j < k; j++) {
        ids.push(Math.floor(random() * s.tableSize));
        weights.push(Math.fround(random() * 4 - 1));
      }
      offsets[i + 1] = ids.length;
    }
    return { ids: Int32Array.from(ids), offsets, weights: s.shape === 'weighted' ? Float32Array.from(weights) : null };
  });
  const click = Float32Array.from({ length: n }, () => (random() < 0.4 ? 1 : 0));
  const buy = Float32Array.from(click, (y) => (y === 1 && random() < 0.5 ? 1 : 0));
  const dense = Float32Array.from({ length: n * schema.dense.length }, () => Math.fround((random() - 0.5) * 1e3));
  return { size: n, click, buy, fields, dense, denseWidth: schema.dense.length };
}

describe('encoded Parquet', () => {
  test('round trip: exactly the written rows, across DuckDB chunks, batch sizes and sliced input batches', async () => {
    const random = seededRandom(11);
    const big = randomBatch(random, 9000);
    const input = [randomBatch(random, 1), sliceBatch(big, 0, 4000), sliceBatch(big, 4000, 9000), randomBatch(random, 0), randomBatch(random, 2049)];
    const path = fresh();
    const result = await writeEncodedParquet(path, { encoder: { some: 'encoder' }, schema: smallSchema, chunks: from(input), meta: () => ({ note: 'made here' }) });
    assert.equal(result.rows, 11050);
    const expected = rows(input);
    for (const batchRows of [undefined, 1000, 2048, 3001, 20_000]) {
      const batches = await readBatches(path, batchRows);
      assert.deepEqual(rows(batches), expected, `batchRows ${batchRows}`);
      const size = batchRows ?? 65_536;
      assert.ok(batches.slice(0, -1).every((b) => b.size === size) && batches.at(-1)!.size <= size);
      for (const b of batches) {
        assert.equal(b.fields[0].offsets.length, b.size + 1);
        assert.ok(b.fields.every((f) => f.offsets[0] === 0 && f.offsets[b.size] === f.ids.length));
      }
    }
    const src = (await openEncodedParquet(path))!;
    assert.deepEqual(src.encoder, { some: 'encoder' });
    assert.equal(src.rows, 11050);
    assert.deepEqual(src.layout.meta, { note: 'made here' });
    src.close();
  });

  test('an empty input makes a valid file with no rows', async () => {
    const path = fresh();
    await writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: from([]) });
    assert.deepEqual(await readBatches(path), []);
  });

  test('property: random batches round-trip exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 0, maxLength: 4 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 2 }),
        async (seed, sizes, batchRows, denseWidth) => {
          const random = seededRandom(seed);
          const schema: EncodedSchema = { fields: smallSchema.fields.filter(() => random() < 0.7), dense: smallSchema.dense.slice(0, denseWidth) };
          const input = sizes.map((n) => randomBatch(random, n, schema));
          const path = fresh();
          await writeEncodedParquet(path, { encoder: { seed }, schema, chunks: from(input) });
          assert.deepEqual(rows(await readBatches(path, batchRows)), rows(input));
          rmSync(path);
        }),
      { numRuns: 12 },
    );
  });

  test('a Parquet file without our marker is not encoded (null), any other Parquet file neither', async () => {
    assert.equal(await openEncodedParquet(await parquetFrom(`SELECT 1 AS user, [1] AS tags`)), null);
    const path = fresh();
    await sql(`COPY (SELECT 1 AS x) TO ${sqlString(path)} (FORMAT parquet, KV_METADATA {other: 'thing'})`);
    assert.equal(await openEncodedParquet(path), null);
  });

  /** An encoded-looking file made by hand, to check what the reader refuses. */
  /** `encoder` null: no encoder key at all. */
  async function handMade(select: string, layout: unknown, encoder: unknown = {}): Promise<string> {
    const path = fresh();
    const kv = `{${sqlString(FORMAT_KEY)}: ${sqlString(JSON.stringify(layout))}${encoder === null ? '' : `, ${sqlString(ENCODER_KEY)}: ${sqlString(JSON.stringify(encoder))}`}}`;
    await sql(`COPY (${select}) TO ${sqlString(path)} (FORMAT parquet, KV_METADATA ${kv})`);
    return path;
  }
  const oneField: EncodedSchema = { fields: [{ name: 'user', shape: 'single', tableSize: 10 }, { name: 'tags', shape: 'list', tableSize: 10 }], dense: [] };
  const good = `SELECT i::INTEGER AS "user", [i::INTEGER] AS tags, 0::TINYINT AS click, 0::TINYINT AS buy FROM range(5) t(i)`;

  test('the reader checks the marker version, the columns and their types, the row count', async () => {
    assert.equal((await readBatches(await handMade(good, layoutFor(oneField, 5))))[0].size, 5);
    await rejectsWith(async () => openEncodedParquet(await handMade(good, { ...layoutFor(oneField, 5), version: 2 })), /format version 2 \(written by a newer esmm\); this esmm reads version 1$/);
    await rejectsWith(async () => openEncodedParquet(await handMade(good, { format: 'esmm-encoded', version: 1 })), /metadata esmm\.format is malformed/);
    await rejectsWith(async () => openEncodedParquet(await handMade(good, layoutFor(oneField, 5), null)), /without its encoder/);
    await rejectsWith(async () => openEncodedParquet(await handMade(good, layoutFor(oneField, 6))), /the file has 5 rows, its esmm layout says 6/);
    await rejectsWith(async () => openEncodedParquet(await handMade(good.replace('[i::INTEGER] AS tags', 'i::INTEGER AS tags'), layoutFor(oneField, 5))), /column "tags" has type INTEGER, the esmm layout says INTEGER\[\]/);
    await rejectsWith(async () => openEncodedParquet(await handMade(good.replace(', [i::INTEGER] AS tags', ''), layoutFor(oneField, 5))), /without its column "tags"/);
  });

  test('the reader refuses what a model must never see: ids outside their table, NULLs, labels other than 0/1', async () => {
    const bad = async (select: string) => readBatches(await handMade(select, layoutFor(oneField, 5)));
    await rejectsWith(() => bad(good.replace('i::INTEGER AS "user"', '(i * 3)::INTEGER AS "user"')), /: row 5 column "user": id 12 outside its table of 10 rows$/);
    await rejectsWith(() => bad(good.replace('[i::INTEGER] AS tags', '[0, (i - 3)::INTEGER] AS tags')), /: row 1 column "tags": id -3 outside its table of 10 rows$/);
    await rejectsWith(() => bad(good.replace('i::INTEGER AS "user"', 'CASE WHEN i = 2 THEN NULL ELSE i::INTEGER END AS "user"')), /: row 3 column "user": NULL in an encoded file$/);
    await rejectsWith(() => bad(good.replace('0::TINYINT AS buy', '(i % 3)::TINYINT AS buy')), /: row 3 column "buy": label 2 is not 0 or 1$/);
  });

  test('a failed write leaves no file and no temporaries; an existing file stays as it was', async () => {
    const sub = join(dir, `${fileCount++}-failed`);
    mkdirSync(sub);
    const path = join(sub, 'train.parquet');
    async function* failing(): AsyncGenerator<Batch> {
      yield randomBatch(seededRandom(3), 100);
      throw new EsmmError('input broke');
    }
    await rejectsWith(() => writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: failing() }), /^input broke$/);
    assert.deepEqual(readdirSync(sub), []);
    const first = [randomBatch(seededRandom(4), 50)];
    await writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: from(first) });
    const before = readFileSync(path);
    await rejectsWith(() => writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: failing() }), /^input broke$/);
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(sub), ['train.parquet']);
    const wrongShape = { ...randomBatch(seededRandom(5), 10), denseWidth: 1 };
    await rejectsWith(() => writeEncodedParquet(path, { encoder: {}, schema: smallSchema, chunks: from([wrongShape]) }), /a batch with 3 fields and 1 dense columns, the schema has 3 and 2/);
    assert.deepEqual(readdirSync(sub), ['train.parquet']);
  });

  test('a config and its encoder give the schema of the batches the encoder makes', async () => {
    const cfg = parseConfig({
      features: [
        { name: 'u', hash_buckets: 100 }, { name: 'p', type: 'numeric' }, { name: 't', type: 'id_list', hash_buckets: 10 },
        { name: 'w', type: 'weighted_id_list', hash_buckets: 5 }, { name: 'b', type: 'numeric', boundaries: [1, 2] },
      ],
    });
    const enc = await Encoder.fit(cfg, []);
    const schema = encodedSchema(cfg, enc);
    assert.deepEqual(schema, {
      fields: [{ name: 'u', shape: 'single', tableSize: 101 }, { name: 't', shape: 'list', tableSize: 11 }, { name: 'w', shape: 'weighted', tableSize: 6 }, { name: 'b', shape: 'single', tableSize: 4 }],
      dense: ['p'],
    });
    const batch = enc.encodeRecords([{ u: 'x', p: 2, t: ['a', 'b'], w: 'k:2|j', b: 1.5 }, { u: '', p: null, t: [], w: '', b: 0 }]);
    const path = fresh();
    await writeEncodedParquet(path, { encoder: enc.toJSON(), schema, chunks: from([batch]) });
    assert.deepEqual(concatBatches(await readBatches(path), enc), batch);
  });
});
