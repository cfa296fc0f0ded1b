/**
 * `esmm data convert`: CSV in, encoded Parquet out, and reading the Parquet gives exactly what reading the
 * CSV with the same encoder gives; the command line prints what it wrote.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { registerConvert } from '../src/cli/data-convert.js';
import { parseConfig } from '../src/config.js';
import { convertToParquet } from '../src/data/convert.js';
import { Encoder } from '../src/data/encoder.js';
import { openEncodedParquet } from '../src/data/parquet.js';
import { readAll, readEncodedChunks } from '../src/data/pipeline.js';
import { DataError } from '../src/errors.js';
import { seededRandom } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-convert-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// input.format stays csv: the converted .parquet files are recognised whatever the configured format.
const rawConfig = {
  features: [
    { name: 'user' }, { name: 'item', hash_buckets: 1000 }, { name: 'tags', type: 'id_list' },
    { name: 'wtags', type: 'weighted_id_list' }, { name: 'price', type: 'numeric', normalization: 'standard' },
  ],
};
const cfg = parseConfig(rawConfig);

/** A CSV of `n` rows; row 3 has click=0, buy=1 (dropped) and row 5 a label that is not 0/1 (malformed). */
function csvFile(name: string, n: number, seed: number): string {
  const random = seededRandom(seed);
  const lines = ['click,buy,user,item,tags,wtags,price'];
  for (let i = 0; i < n; i++) {
    const click = i === 3 ? 0 : random() < 0.3 ? 1 : 0;
    const buy = i === 3 ? 1 : click && random() < 0.3 ? 1 : 0;
    const tags = Array.from({ length: Math.floor(random() * 4) }, () => `t${Math.floor(random() * 20)}`).join('|');
    const wtags = Array.from({ length: Math.floor(random() * 3) }, () => `w${Math.floor(random() * 6)}:${Math.floor(random() * 4) / 2}`).join('|');
    lines.push(`${i === 5 ? 'yes' : click},${buy},u${Math.floor(random() * 300)},i${Math.floor(random() * 5000)},${tags},${wtags},${(random() * 50).toFixed(2)}`);
  }
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('esmm data convert', () => {
  const train = csvFile('train.csv', 20_000, 1);
  const evalCsv = csvFile('eval.csv', 5000, 2);

  test('train and eval encoded with the training encoder; reading them equals reading the CSV files', async () => {
    const outDir = join(dir, 'out');
    const r = await convertToParquet({ config: cfg, trainPaths: [train], evalPaths: [evalCsv], outDir, onBadRow: 'skip' });
    assert.deepEqual(readdirSync(outDir).sort(), ['encoder.json', 'eval.parquet', 'train.parquet']);
    assert.equal(r.train.rows, 20_000 - 2);
    assert.equal(r.train.stats.rowsRead, 20_000);
    assert.equal(r.train.stats.droppedClick0Buy1, 1);
    assert.equal(r.train.stats.skippedBadRows, 1);
    assert.equal(r.eval!.rows, 5000 - 2);

    const enc = await Encoder.fit(cfg, [train], { onBadRow: 'skip' });
    assert.deepEqual(JSON.parse(readFileSync(r.encoderPath, 'utf8')), enc.toJSON());
    const fromParquet = await Encoder.fit(cfg, [r.train.path]);
    assert.ok(fromParquet.sameAs(enc.toJSON()), 'the encoder comes back from the file');
    for (const [csv, parquet] of [[train, r.train.path], [evalCsv, r.eval!.path]]) {
      const expected = await readAll(readEncodedChunks([csv], cfg, enc, { onBadRow: 'skip' }), enc);
      const got = await readAll(readEncodedChunks([parquet], cfg, fromParquet), fromParquet);
      assert.deepEqual(got.data, expected.data);
      assert.equal(got.stats.rowsUsed, expected.stats.rowsUsed);
      assert.equal(got.stats.clicks, expected.stats.clicks);
    }
    const src = (await openEncodedParquet(r.train.path))!;
    assert.deepEqual(src.layout.meta, {
      source_files: [train], rows_read: 20_000, rows_used: 19_998, dropped_click0_buy1: 1, skipped_bad_rows: 1,
      clicks: r.train.stats.clicks, buys: r.train.stats.buys,
    });
    src.close();
  });

  test('a malformed row under on_bad_row error stops the conversion and leaves no data file', async () => {
    const outDir = join(dir, 'strict');
    await assert.rejects(() => convertToParquet({ config: cfg, trainPaths: [train], outDir }), (e: unknown) => e instanceof DataError && /train\.csv:7 column "click"/.test(e.message));
    assert.ok(!existsSync(join(outDir, 'train.parquet')));
  });

  test('the command line: --json prints what was written', async () => {
    const outDir = join(dir, 'cli');
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify(rawConfig));
    const program = new Command('esmm').exitOverride();
    registerConvert(program.command('data').exitOverride());
    let printed = '';
    const write = process.stdout.write;
    // Strings are ours; the test runner reports through stdout too, in binary chunks: let those through.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (typeof chunk !== 'string') return write.call(process.stdout, chunk, ...rest);
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['data', 'convert', '--config', configPath, '--train', train, '--eval', evalCsv, '--out', outDir, '--on-bad-row', 'skip', '--json'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const out = JSON.parse(printed);
    assert.equal(out.out, outDir);
    assert.equal(out.encoder, join(outDir, 'encoder.json'));
    assert.deepEqual({ ...out.train, bytes: 0, clicks: 0, buys: 0 }, {
      path: join(outDir, 'train.parquet'), rows: 19_998, bytes: 0, rows_read: 20_000, dropped_click0_buy1: 1, skipped_bad_rows: 1, clicks: 0, buys: 0,
    });
    assert.ok(out.train.bytes > 0);
    assert.equal(out.eval.rows, 4998);
  });
});
