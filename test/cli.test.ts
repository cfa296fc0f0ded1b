/**
 * The `esmm` CLI end to end, as a user runs it: synth → init → train (with eval and checkpoints) → eval →
 * predict, resume, reproducibility, and clear errors for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { nativeStatus } from '../src/engine/native.js';
import { packageRoot } from './helpers.js';

const BIN = join(packageRoot(), 'bin', 'esmm.js');

function esmm(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): string {
  const r = esmm(...args);
  assert.equal(r.code, 0, `esmm ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

describe('esmm CLI', () => {
  let dir = '';
  let data = '';
  let config = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'esmm-cli-'));
    data = join(dir, 'data');
    ok('synth', '--rows', '30000', '--seed', '3', '--out', data);
    const cfg = parse(ok('init', '--data', join(data, 'train.csv'), '--click', 'click', '--buy', 'buy'));
    cfg.model = { ...cfg.model, embedding_dim: 4, hidden_units: [16, 8] };
    cfg.train = { ...cfg.train, batch_size: 256, epochs: 2, seed: 7 };
    config = join(dir, 'config.yaml');
    writeFileSync(config, stringify(cfg));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('synth writes train, test and aligned truth files', () => {
    const test = readFileSync(join(data, 'test.csv'), 'utf8').trim().split('\n');
    const truth = readFileSync(join(data, 'test_truth.csv'), 'utf8').trim().split('\n');
    assert.equal(test[0].split(',').slice(0, 2).join(','), 'click,buy');
    assert.equal(truth.length, test.length);
  });

  it('init infers list columns', () => {
    const cfg = parse(ok('init', '--data', join(data, 'train.csv'), '--click', 'click', '--buy', 'buy'));
    const lists = cfg.features.filter((f: { type: string }) => f.type === 'id_list');
    assert.ok(lists.length >= 1);
    assert.ok(cfg.features.every((f: { name: string }) => f.name !== 'click' && f.name !== 'buy'));
  });

  it('trains, evaluates and predicts', () => {
    const out = join(dir, 'model');
    const summary = JSON.parse(ok('train', '--config', config, '--train', join(data, 'train.csv'), '--eval', join(data, 'test.csv'), '--out', out, '--json'));
    assert.equal(summary.epochs.length, 2);
    assert.ok(summary.metrics.ctr_auc > 0.6, `ctr_auc ${summary.metrics.ctr_auc}`);
    assert.ok(readdirSync(join(out, 'checkpoints')).length >= 1);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'esmm-model');
    assert.ok(existsSync(join(out, manifest.weights.file)));

    const evalJson = JSON.parse(ok('eval', '--model', out, '--data', join(data, 'test.csv'), '--json'));
    for (const key of ['rows', 'ctr_auc', 'cvr_auc', 'ctcvr_auc', 'ctr_logloss', 'ctcvr_logloss']) assert.equal(typeof evalJson[key], 'number', key);
    // the same numbers as the last epoch's evaluation during training
    assert.equal(evalJson.ctr_auc, summary.metrics.ctr_auc);
    assert.equal(evalJson.cvr_auc, summary.metrics.cvr_auc);
    assert.match(ok('eval', '--model', out, '--data', join(data, 'test.csv')), /CVR AUC \(clicked rows\)/);

    const preds = join(dir, 'preds.csv');
    ok('predict', '--model', out, '--data', join(data, 'test.csv'), '--out', preds);
    const lines = readFileSync(preds, 'utf8').trim().split('\n');
    const rows = readFileSync(join(data, 'test.csv'), 'utf8').trim().split('\n').length - 1;
    assert.equal(lines[0], 'pctr,pcvr,pctcvr');
    assert.equal(lines.length - 1, rows);
    // label columns are optional for scoring, and a click=0, buy=1 row is scored, not dropped
    const unlabeled = join(dir, 'unlabeled.csv');
    const testRows = readFileSync(join(data, 'test.csv'), 'utf8').trim().split('\n');
    writeFileSync(unlabeled, `${testRows.map((l) => l.split(',').slice(2).join(',')).join('\n')}\n`);
    ok('predict', '--model', out, '--data', unlabeled, '--out', join(dir, 'preds2.csv'));
    assert.equal(readFileSync(join(dir, 'preds2.csv'), 'utf8'), readFileSync(preds, 'utf8'));
    for (const line of lines.slice(1, 50)) {
      const [ctr, cvr, ctcvr] = line.split(',').map(Number);
      assert.ok(ctr > 0 && ctr < 1 && cvr > 0 && cvr < 1);
      assert.ok(Math.abs(ctcvr - ctr * cvr) < 1e-8);
    }

    // GAUC and calibration against an independent computation from the predictions and the raw file
    const detail = JSON.parse(ok('eval', '--model', out, '--data', join(data, 'test.csv'), '--gauc-by', 'user_id', '--report', join(dir, 'eval-report'), '--json'));
    assert.ok(readFileSync(join(dir, 'eval-report', 'report.html'), 'utf8').includes('<svg'));
    const header = testRows[0].split(',');
    const userAt = header.indexOf('user_id');
    const trainUsers = new Set(readFileSync(join(data, 'train.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[userAt]));
    const pctr = lines.slice(1).map((l) => Number(l.split(',')[0]));
    const clicks = testRows.slice(1).map((l) => Number(l.split(',')[0]));
    const byUser = new Map<string, number[]>();
    testRows.slice(1).forEach((l, i) => {
      const u = l.split(',')[userAt];
      if (trainUsers.has(u)) byUser.set(u, [...(byUser.get(u) ?? []), i]);
    });
    let sum = 0, weight = 0;
    for (const rows of byUser.values()) {
      let pairs = 0, wins = 0;
      for (const i of rows) for (const j of rows) {
        if (clicks[i] !== 1 || clicks[j] !== 0) continue;
        pairs++;
        wins += pctr[i] > pctr[j] ? 1 : pctr[i] === pctr[j] ? 0.5 : 0;
      }
      if (pairs > 0) { sum += (wins / pairs) * rows.length; weight += rows.length; }
    }
    // predictions are printed to 9 digits: ties may differ from the float32 scores in rare cases
    assert.ok(Math.abs(detail.gauc.ctr.gauc - sum / weight) < 1e-3, `${detail.gauc.ctr.gauc} vs ${sum / weight}`);
    assert.equal(detail.gauc.ctr.rows, weight);
    const meanCtr = pctr.reduce((a, b) => a + b, 0) / pctr.length;
    assert.ok(Math.abs(detail.calibration.ctr.meanPredicted - meanCtr) < 1e-6);
    assert.equal(detail.calibration.ctr.buckets.length, 10);
  });

  it('is reproducible: same seed, data and backend give identical model files', () => {
    const args = (out: string) => ['train', '--config', config, '--train', join(data, 'train.csv'), '--out', out, '--epochs', '1', '--progress', 'quiet'];
    ok(...args(join(dir, 'r1')));
    ok(...args(join(dir, 'r2')));
    const files = (d: string) => readdirSync(d).filter((f) => f !== 'checkpoints').sort();
    assert.deepEqual(files(join(dir, 'r1')), files(join(dir, 'r2')));
    for (const f of files(join(dir, 'r1'))) assert.ok(readFileSync(join(dir, 'r1', f)).equals(readFileSync(join(dir, 'r2', f))), `${f} differs`);
    ok(...args(join(dir, 'r3')), '--seed', '8');
    const m1 = JSON.parse(readFileSync(join(dir, 'r1', 'manifest.json'), 'utf8')), m3 = JSON.parse(readFileSync(join(dir, 'r3', 'manifest.json'), 'utf8'));
    assert.notEqual(m1.weights.sha256, m3.weights.sha256, 'another seed gives another model');
  });

  it('resumes from the latest checkpoint and ends where an uninterrupted run ends', () => {
    const full = join(dir, 'full'), part = join(dir, 'part');
    const base = ['--config', config, '--train', join(data, 'train.csv'), '--progress', 'quiet'];
    ok('train', ...base, '--out', full, '--epochs', '2');
    ok('train', ...base, '--out', part, '--epochs', '1');
    const resumed = esmm('train', ...base, '--out', part, '--epochs', '2', '--resume', '--progress', 'lines');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from .*epoch-0001/);
    const hash = (d: string) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')).weights.sha256;
    assert.equal(hash(part), hash(full));
  });

  it('refuses a truncated or altered weights file with a clear error', () => {
    const bad = join(dir, 'bad-model');
    cpSync(join(dir, 'model'), bad, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(bad, 'manifest.json'), 'utf8'));
    truncateSync(join(bad, manifest.weights.file), manifest.weights.bytes - 100);
    let r = esmm('eval', '--model', bad, '--data', join(data, 'test.csv'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /truncated|does not match/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    // an edit that keeps every tensor shape (pooling) must not load silently either
    const edited = readFileSync(join(dir, 'model', 'manifest.json'), 'utf8').replace('"pooling": "mean"', '"pooling": "sum"');
    assert.notEqual(edited, readFileSync(join(dir, 'model', 'manifest.json'), 'utf8'));
    writeFileSync(join(bad, 'manifest.json'), edited);
    r = esmm('eval', '--model', bad, '--data', join(data, 'test.csv'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /manifest was altered/);
    writeFileSync(join(bad, 'manifest.json'), '{"format": "esmm-mod');
    r = esmm('eval', '--model', bad, '--data', join(data, 'test.csv'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /manifest\.json: not valid JSON/);
  });

  it('names file, line and column of a malformed row, or skips and counts it', () => {
    const lines = readFileSync(join(data, 'train.csv'), 'utf8').split('\n').slice(0, 2001);
    lines[10] = lines[10].replace(/^\d,/, '7,'); // a click label that is not 0/1, on line 11
    lines.push('0,1' + lines[5].slice(3)); // click=0, buy=1: dropped and counted
    const badFile = join(dir, 'bad.csv');
    writeFileSync(badFile, `${lines.join('\n')}\n`);
    const r = esmm('train', '--config', config, '--train', badFile, '--out', join(dir, 'm-bad'), '--progress', 'quiet');
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${badFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:11 column "click"`));
    const skipped = JSON.parse(ok('train', '--config', config, '--train', badFile, '--out', join(dir, 'm-skip'), '--on-bad-row', 'skip', '--epochs', '1', '--json'));
    assert.equal(skipped.train.skippedBadRows, 1);
    assert.equal(skipped.train.droppedClick0Buy1, 1);
  });

  it('demo simulates, trains the three models and prints the comparison', () => {
    const out = join(dir, 'demo');
    const table = ok('demo', '--rows', '20000', '--epochs', '1', '--seeds', '1', '--out', out, '--progress', 'quiet');
    for (const label of ['BASE (CVR on clicks)', 'ESMM-NS', 'ESMM', 'CVR AUC (clicked)', 'rank corr. true pCVR']) assert.ok(table.includes(label), label);
    for (const kind of ['base', 'esmm-ns', 'esmm']) assert.ok(existsSync(join(out, 'models', `${kind}-seed1`, 'manifest.json')), kind);
    const json = JSON.parse(ok('demo', '--rows', '20000', '--epochs', '1', '--seeds', '2', '--out', out, '--json'));
    assert.equal(json.runs.length, 6);
    for (const r of json.runs) assert.equal(typeof r.metrics.es_cvr_auc, 'number');
    assert.ok(readFileSync(json.report, 'utf8').includes(' ± '), 'the report shows mean ± std');
  });

  it('early stopping stops when the watched metric stops improving and writes the best epoch\'s model', () => {
    const cfg = parse(readFileSync(config, 'utf8'));
    cfg.train = { ...cfg.train, epochs: 8, learning_rate: 0.02, early_stopping: { metric: 'ctr_logloss', patience: 1 } };
    const esConfig = join(dir, 'early.yaml');
    writeFileSync(esConfig, stringify(cfg));
    const out = join(dir, 'early');
    const summary = JSON.parse(ok('train', '--config', esConfig, '--train', join(data, 'train.csv'), '--eval', join(data, 'test.csv'), '--out', out, '--json'));
    const losses: number[] = summary.epochs.map((e: { eval: { ctr_logloss: number } }) => e.eval.ctr_logloss);
    assert.ok(losses.length < 8, `trained all ${losses.length} epochs`);
    const best = losses.indexOf(Math.min(...losses));
    // stopped after exactly `patience` evaluations without a new best
    assert.equal(losses.length - 1 - best, 1);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.training.best_epoch, best + 1);
    assert.ok(existsSync(join(out, 'best', 'manifest.json')));
    // the model written is the best epoch's: evaluating it gives that epoch's numbers exactly
    const evaluated = JSON.parse(ok('eval', '--model', out, '--data', join(data, 'test.csv'), '--json'));
    assert.equal(evaluated.ctr_logloss, losses[best]);
    assert.deepEqual(summary.metrics, summary.epochs[best].eval);
    const bad = esmm('train', '--config', esConfig, '--train', join(data, 'train.csv'), '--out', join(dir, 'early2'));
    assert.match(bad.stderr, /early_stopping watches an evaluation metric: give --eval/);
  });

  it('embed exports tables with their original ids and the pooled vectors of data rows', () => {
    const model = join(dir, 'model');
    const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
    const userTable = manifest.encoder.features.find((f: { name: string }) => f.name === 'user_id').table;
    const tablePath = join(dir, 'user_id.csv');
    ok('embed', '--model', model, '--field', 'user_id', '--out', tablePath);
    const table = readFileSync(tablePath, 'utf8').trim().split('\n');
    assert.equal(table.length - 1, userTable.vocab.length + 1);
    assert.equal(table[1].split(',')[1], '<oov>');
    assert.deepEqual(table.slice(2).map((l) => l.split(',')[1]), userTable.vocab);
    // per-row vectors of a list feature are the mean of its ids' rows, computed here from the exported table
    const listFeature = manifest.encoder.features.find((f: { type: string }) => f.type === 'id_list');
    const listTable = join(dir, 'list.csv');
    ok('embed', '--model', model, '--field', listFeature.name, '--out', listTable);
    const vectors = new Map(readFileSync(listTable, 'utf8').trim().split('\n').slice(1).map((l) => {
      const [, id, ...v] = l.split(',');
      return [id, v.map(Number)] as const;
    }));
    const rowsPath = join(dir, 'rows.csv');
    ok('embed', '--model', model, '--field', listFeature.name, '--data', join(data, 'test.csv'), '--out', rowsPath);
    const rowVectors = readFileSync(rowsPath, 'utf8').trim().split('\n').slice(1, 200).map((l) => l.split(',').slice(1).map(Number));
    const header = readFileSync(join(data, 'test.csv'), 'utf8').split('\n', 1)[0].split(',');
    const at = header.indexOf(listFeature.column);
    readFileSync(join(data, 'test.csv'), 'utf8').trim().split('\n').slice(1, 200).forEach((line, i) => {
      const ids = line.split(',')[at].split('|').filter((x) => x !== '');
      const dim = rowVectors[i].length;
      const expected = Array.from({ length: dim }, (_, d) => (ids.length === 0 ? 0 : ids.reduce((sum, id) => sum + (vectors.get(id) ?? vectors.get('<oov>')!)[d], 0) / ids.length));
      rowVectors[i].forEach((v, d) => assert.ok(Math.abs(v - expected[d]) < 1e-6, `row ${i} dim ${d}: ${v} vs ${expected[d]}`));
    });
    const bad = esmm('embed', '--model', model, '--field', 'nope', '--out', join(dir, 'x.csv'));
    assert.match(bad.stderr, /no embedding for "nope"/);
  });

  it('compare trains each kind for each seed and summarises mean ± std per metric', () => {
    const out = join(dir, 'compare');
    const r = JSON.parse(ok('compare', '--config', config, '--train', join(data, 'train.csv'), '--eval', join(data, 'test.csv'),
      '--truth', join(data, 'test_truth.csv'), '--models', 'base,esmm', '--seeds', '2', '--epochs', '1', '--out', out, '--report', join(out, 'report'), '--json'));
    const html = readFileSync(join(out, 'report', 'report.html'), 'utf8');
    assert.ok(html.includes('<svg') && html.includes('ESMM') && html.includes(r.summary.esmm.cvr_auc.mean.toFixed(4)));
    assert.deepEqual(r.kinds, ['base', 'esmm']);
    assert.equal(r.runs.length, 4);
    for (const kind of ['base', 'esmm']) {
      const aucs = r.runs.filter((x: { kind: string }) => x.kind === kind).map((x: { metrics: { cvr_auc: number } }) => x.metrics.cvr_auc);
      const mean = (aucs[0] + aucs[1]) / 2;
      const std = Math.abs(aucs[0] - aucs[1]) / Math.SQRT2; // sample std of two values
      assert.ok(Math.abs(r.summary[kind].cvr_auc.mean - mean) < 1e-12);
      assert.ok(Math.abs(r.summary[kind].cvr_auc.std - std) < 1e-12);
      assert.equal(r.summary[kind].es_cvr_auc.n, 2);
    }
    assert.ok(existsSync(join(out, 'esmm-seed2', 'manifest.json')));
    const bad = esmm('compare', '--config', config, '--train', join(data, 'train.csv'), '--eval', join(data, 'test.csv'), '--models', 'esmm,nope', '--out', out);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--models: unknown kind nope/);
  });

  it('exits non-zero with a message on bad usage and bad config', () => {
    assert.notEqual(esmm('train', '--config', config).code, 0);
    assert.notEqual(esmm('train', '--config', config, '--train', 'x.csv', '--out', join(dir, 'o'), '--batch-size', 'zero').code, 0);
    const badCfg = join(dir, 'bad.yaml');
    writeFileSync(badCfg, 'features:\n  - name: user_id\n    typo_key: 1\n');
    const r = esmm('train', '--config', badCfg, '--train', join(data, 'train.csv'), '--out', join(dir, 'o'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /features\.0/);
    const missing = esmm('eval', '--model', join(dir, 'nope'), '--data', join(data, 'test.csv'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not a model directory/);
    assert.equal(esmm('--help').code, 0);
    for (const cmd of ['synth', 'init', 'train', 'eval', 'predict', 'demo', 'info']) assert.equal(esmm(cmd, '--help').code, 0, cmd);
  });
});


describe('esmm info', () => {
  it('prints the version, cores and the backends, and which one auto picks', () => {
    const info = JSON.parse(ok('info', '--json'));
    assert.equal(info.version, JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
    assert.equal(info.node, process.version);
    assert.ok(Number.isInteger(info.cores) && info.cores >= 1);
    const byName = Object.fromEntries(info.backends.map((b: { name: string }) => [b.name, b]));
    assert.deepEqual(Object.keys(byName), ['native', 'wasm', 'reference']);
    assert.equal(byName.wasm.loaded, true);
    assert.equal(info.auto, nativeStatus().loaded ? 'native' : 'wasm');
    if (byName.native.loaded) assert.equal(byName.native.openblas.threads, 1);
    else assert.match(byName.native.reason, /esmm_native\.node/);

    const text = ok('info');
    assert.match(text, new RegExp(`^esmm ${info.version}\n`));
    assert.match(text, new RegExp(`backend auto: ${info.auto}\n`));
    assert.match(text, byName.native.loaded ? /native +loaded: OpenBLAS/ : /native +not loaded: /);
  });
});
