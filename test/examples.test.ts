/**
 * Every sample file in ../shared/data trains through `esmm train` with its config from examples/, then
 * evaluates and predicts with the saved model: the formats real users arrive with, end to end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot, sharedDataDir } from './helpers.js';

const BIN = join(packageRoot(), 'bin', 'esmm.js');
const data = sharedDataDir();
const skip = existsSync(data) ? false : `no sample data at ${data}`;

function esmm(...args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, cwd: packageRoot() });
  assert.equal(r.status, 0, `esmm ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

interface Example {
  config: string;
  /** Extra train flags (e.g. fewer steps than the config's, to keep the test short). */
  flags?: string[];
  train: string[];
  eval: string[];
  /** Rows of the eval files, to check predict writes one line per row. */
  evalRows: number;
}

const EXAMPLES: Record<string, Example> = {
  'torch-rechub Ali-CCP CSV': {
    config: 'examples/ali-ccp-csv.yaml',
    train: [join(data, 'ali-ccp-csv/ali_ccp_train_sample.csv')],
    eval: [join(data, 'ali-ccp-csv/ali_ccp_val_sample.csv'), join(data, 'ali-ccp-csv/ali_ccp_test_sample.csv')],
    evalRows: 100,
  },
  'AliExpress CSV (feature groups, numeric columns)': {
    config: 'examples/aliexpress.yaml',
    train: [join(data, 'aliexpress/aliexpress_train_sample.csv')],
    eval: [join(data, 'aliexpress/aliexpress_test_sample.csv')],
    evalRows: 20,
  },
  'Ali-CCP in PaddleRec\'s field:feat token format': {
    config: 'examples/ali-ccp-tokens.yaml',
    train: [join(data, 'ali-ccp-raw/train_small.txt')],
    eval: [join(data, 'ali-ccp-raw/test_small.txt')],
    evalRows: 10,
  },
  'EasyRec Taobao sample with its own pipeline config (headerless, NULLs, tags, 3 group DNNs)': {
    config: 'examples/taobao-easyrec.config',
    flags: ['--max-steps', '8'],
    train: [join(data, 'taobao-easyrec/taobao_test_data')],
    eval: [join(data, 'taobao-easyrec/taobao_test_data')],
    evalRows: 10_000,
  },
};

describe('sample data sets train with the example configs', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'esmm-examples-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, ex] of Object.entries(EXAMPLES)) {
    it(name, () => {
      const out = join(dir, name.replace(/\W+/g, '-'));
      const summary = JSON.parse(esmm('train', '--config', ex.config, '--train', ...ex.train, '--eval', ...ex.eval, '--out', out, ...(ex.flags ?? []), '--json'));
      assert.equal(summary.eval.rowsUsed, ex.evalRows);
      assert.ok(summary.train.rowsUsed > 0);
      assert.ok(summary.metrics.ctr_auc === null || (summary.metrics.ctr_auc >= 0 && summary.metrics.ctr_auc <= 1));
      const evaluated = JSON.parse(esmm('eval', '--model', out, '--data', ...ex.eval, '--json'));
      assert.equal(evaluated.rows, ex.evalRows);
      assert.deepEqual(evaluated.ctr_auc, summary.metrics.ctr_auc);
      const predictions = join(dir, `${name.replace(/\W+/g, '-')}.csv`);
      esmm('predict', '--model', out, '--data', ...ex.eval, '--out', predictions);
      const lines = readFileSync(predictions, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'pctr,pcvr,pctcvr');
      assert.equal(lines.length, ex.evalRows + 1);
      assert.ok(lines.slice(1).every((l) => l.split(',').every((v) => Number(v) >= 0 && Number(v) <= 1)));
    });
  }
});

describe('esmm data inspect on the samples', { skip }, () => {
  it('counts the Taobao sample as its README states (10,000 rows, 533 clicks, 4 buys) and its NULLs as missing', () => {
    const r = JSON.parse(esmm('data', 'inspect', '--config', 'examples/taobao-easyrec.config', '--data', join(data, 'taobao-easyrec/taobao_test_data'), '--json'));
    assert.equal(r.rowsUsed, 10_000);
    assert.equal(r.clicks, 533);
    assert.equal(r.buys, 4);
    const lines = readFileSync(join(data, 'taobao-easyrec/taobao_test_data'), 'utf8').trim().split('\n');
    // brand is column 8 (index 7): empty or NULL counts as missing
    const missingBrand = lines.filter((l) => ['', 'NULL'].includes(l.split(',')[7])).length;
    assert.equal(r.features.find((f: { name: string }) => f.name === 'brand').missing, missingBrand);
    assert.equal(r.features.find((f: { name: string }) => f.name === 'user_id').distinct, new Set(lines.map((l) => l.split(',')[8])).size);
  });

  it('infers a config from a CSV header when none is given', () => {
    const r = JSON.parse(esmm('data', 'inspect', '--data', join(data, 'aliexpress/aliexpress_train_sample.csv'), '--buy', 'conversion', '--json'));
    assert.equal(r.rowsUsed, 100);
    assert.equal(r.features.length, 80);
  });
});

