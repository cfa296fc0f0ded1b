/** Tiny models for the serve tests, trained through the CLI on a small simulated data set. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { FeatureValues } from '../src/serve/scoring.js';
import { packageRoot } from './helpers.js';

export const BIN = join(packageRoot(), 'bin', 'esmm.js');

export function esmm(...args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `esmm ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export interface ServeFixtures {
  data: string;
  /** Two models of the same features (seeds 1 and 2). */
  modelA: string;
  modelB: string;
  /** A model without the item_brand feature: other requests. */
  modelOther: string;
}

/**
 * Data from the simulator, with `position` as a standardised numeric feature so numbers are covered
 * too; models of width 4 and towers 8-4, one epoch.
 */
export function trainServeModels(dir: string): ServeFixtures {
  const data = join(dir, 'data');
  esmm('synth', '--rows', '4000', '--seed', '3', '--out', data);
  const cfg = parse(esmm('init', '--data', join(data, 'train.csv'), '--click', 'click', '--buy', 'buy'));
  cfg.features = cfg.features.map((f: { name: string }) => (f.name === 'position' ? { name: 'position', type: 'numeric', normalization: 'standard' } : f));
  cfg.model = { ...cfg.model, embedding_dim: 4, hidden_units: [8, 4] };
  cfg.train = { ...cfg.train, batch_size: 256, epochs: 1 };
  const train = (name: string, c: object) => {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, stringify(c));
    const out = join(dir, name);
    esmm('train', '--config', config, '--train', join(data, 'train.csv'), '--out', out, '--progress', 'quiet');
    return out;
  };
  return {
    data,
    modelA: train('model-a', { ...cfg, train: { ...cfg.train, seed: 1 } }),
    modelB: train('model-b', { ...cfg, train: { ...cfg.train, seed: 2 } }),
    modelOther: train('model-other', { ...cfg, features: cfg.features.filter((f: { name: string }) => f.name !== 'item_brand') }),
  };
}

/** The first `n` rows of a CSV file as records of raw strings (label columns left out). */
export function csvRecords(path: string, n: number): FeatureValues[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const names = head.split(',');
  return lines.slice(0, n).map((l) => {
    const v = l.split(',');
    return Object.fromEntries(names.map((name, i) => [name, v[i]]).filter(([name]) => name !== 'click' && name !== 'buy'));
  });
}

/** The predictions `esmm predict` writes for the first `n` rows of `csv`, as the text it prints (pctr,pcvr,pctcvr lines). */
export function predictLines(dir: string, model: string, csv: string, n: number): string[] {
  const head = readFileSync(csv, 'utf8').split('\n').slice(0, n + 1).join('\n');
  const rows = join(dir, `rows-${n}.csv`);
  writeFileSync(rows, `${head}\n`);
  const out = join(dir, `preds-${n}.csv`);
  // the service under test scores on WASM, whose kernels give every row the same bits whatever the batch
  // (OpenBLAS's do not: its small-matrix path sums in another order)
  esmm('predict', '--model', model, '--data', rows, '--out', out, '--backend', 'wasm');
  return readFileSync(out, 'utf8').trimEnd().split('\n').slice(1);
}

/** The lines a /v1/score response's scores print as, in predict's format. */
export function scoreLines(scores: Array<{ pctr: number; pcvr: number; pctcvr: number }>): string[] {
  return scores.map((s) => `${s.pctr},${s.pcvr},${s.pctcvr}`);
}
