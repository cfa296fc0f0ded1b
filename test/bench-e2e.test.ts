/** Smoke test of the end-to-end benchmark at tiny sizes, ours only: the fields it prints, never its times. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from './helpers.js';

const E2E = join(packageRoot(), 'dist', 'bench', 'e2e.js');
// the data cache lives in the OS tmp dir: point it at a scratch dir of this test
const scratch = mkdtempSync(join(tmpdir(), 'esmm-e2e-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function e2e(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [E2E, '--rows', '3000', '--predict-rows', '1000', '--no-peer', '--threads', '1', '--backends', 'wasm', ...args],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TMPDIR: scratch, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('e2e --json prints settings, a train and a predict result with samples/s, peak RSS and AUCs', () => {
  const lines = e2e(['--json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const settings = lines.find((l) => l.kind === 'settings')!;
  assert.equal(settings.rows, 3000);
  assert.equal(settings.predict_rows, 1000);
  assert.ok(lines.some((l) => l.kind === 'note' && /peer/.test(String(l.text))), 'says the peer was not run');
  const results = lines.filter((l) => l.kind === 'result');
  const train = results.find((l) => l.phase === 'train' && l.who === 'ours')!;
  const predict = results.find((l) => l.phase === 'predict' && l.who === 'ours')!;
  assert.equal(train.rows, 3000);
  assert.equal(predict.rows, 1000);
  for (const r of [train, predict]) {
    assert.equal(r.threads, 1);
    assert.equal(typeof r.backend, 'string');
    for (const k of ['wall_s', 'wall_samples_per_s', 'peak_rss_mb', 'cpu_s']) assert.ok((r[k] as number) > 0, `${r.phase} ${k}`);
  }
  assert.ok((train.own_samples_per_s as number) > 0);
  for (const k of ['ctr_auc', 'cvr_auc', 'ctcvr_auc']) assert.equal(typeof train[k], 'number', k);
  assert.ok(!lines.some((l) => l.kind === 'ratio'), 'no ratio without the peer');
});

test('e2e text table (peak RSS by the probe when GNU time is missing)', () => {
  const out = e2e([], { ESMM_BENCH_NO_GNU_TIME: '1' });
  assert.match(out, /samples\/s wall.*samples\/s own.*peak RSS MB/);
  const train = out.split('\n').find((l) => /^train\s+ours/.test(l));
  const predict = out.split('\n').find((l) => /^predict\s+ours/.test(l));
  assert.ok(train && predict, out);
  assert.match(out, /peak RSS from an RSS probe/);
  // the peak RSS column (10th) is a number for both runs
  for (const line of [train, predict]) assert.match(line.trim().split(/\s{2,}/)[9], /^\d+$/, line);
});
