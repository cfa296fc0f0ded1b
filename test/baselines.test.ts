/**
 * The paper's baselines: their losses against brute-force definitions (copying conversions k times,
 * clicked rows only, sampled negatives), equivalences between kinds, and DIVISION's pCVR = pCTCVR / pCTR.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../src/data/batch.js';
import { softplus, weightedSecondTaskLoss } from '../src/engine/loss.js';
import { referenceKernels } from '../src/engine/reference.js';
import { EsmmModel, type ModelSpec } from '../src/model/esmm.js';
import { Rng } from '../src/util/rng.js';

const bce = (logit: number, label: number) => softplus(logit) - label * logit;

describe('baseline losses', () => {
  const a = Float32Array.of(0.2, -1, 0.5, 1.5, -0.3, 0.8);
  const b = Float32Array.of(-0.4, 0.9, -1.2, 0.1, 0.6, -2);
  const click = Float32Array.of(1, 0, 1, 1, 0, 1);
  const buy = Float32Array.of(1, 0, 0, 1, 0, 0);
  const second = (r: number[]) => {
    const d = new Float32Array(6);
    return weightedSecondTaskLoss(6, a, b, click, buy, Float32Array.from(r), { ctr: 1, second: 1 }, d, new Float32Array(6)).second;
  };
  const meanBce = (pairs: Array<[number, number]>) => pairs.reduce((s, [l, y]) => s + bce(l, y), 0) / pairs.length;

  it('BASE: the CVR term is the mean BCE over clicked rows', () => {
    const clicked = [0, 2, 3, 5].map((i) => [b[i], buy[i]] as [number, number]);
    assert.ok(Math.abs(second(Array.from(click)) - meanBce(clicked)) < 1e-12);
  });

  it('OVERSAMPLING: the same as copying each clicked conversion k times', () => {
    const k = 4;
    const copies: Array<[number, number]> = [];
    for (const i of [0, 2, 3, 5]) for (let c = 0; c < (buy[i] ? k : 1); c++) copies.push([b[i], buy[i]]);
    const r = Array.from(click, (y, i) => y * (1 + (k - 1) * buy[i]));
    assert.ok(Math.abs(second(r) - meanBce(copies)) < 1e-12);
  });

  it('AMAN and DIVISION: sampled or all unclicked rows enter with label 0', () => {
    const withRow4 = [0, 2, 3, 4, 5].map((i) => [b[i], click[i] * buy[i]] as [number, number]);
    assert.ok(Math.abs(second([1, 0, 1, 1, 1, 1]) - meanBce(withRow4)) < 1e-12);
    const all = [0, 1, 2, 3, 4, 5].map((i) => [b[i], click[i] * buy[i]] as [number, number]);
    assert.ok(Math.abs(second([1, 1, 1, 1, 1, 1]) - meanBce(all)) < 1e-12);
  });
});

describe('baseline kinds', () => {
  const spec = (over: Partial<ModelSpec>): ModelSpec => ({
    kind: 'base', features: [{ name: 'u', rows: 6, pooling: 'sum' }, { name: 'i', rows: 6, pooling: 'sum' }],
    embeddingDim: 3, hidden: [4], activation: 'relu', dropout: 0, ctrWeight: 1, ctcvrWeight: 1, l2Tower: 0, l2Embedding: 0,
    embeddingInitStd: 0.5, denseInit: 'he_uniform', ...over,
  });
  const batch: Batch = {
    size: 6,
    click: Float32Array.of(1, 0, 1, 0, 0, 1),
    buy: Float32Array.of(1, 0, 0, 0, 0, 0),
    fields: [0, 1].map((f) => ({ ids: Int32Array.of(1, 2, 3, 4, 5, f), offsets: Int32Array.of(0, 1, 2, 3, 4, 5, 6), weights: null })),
    dense: new Float32Array(0),
    denseWidth: 0,
  };
  const grads = (over: Partial<ModelSpec>) => {
    const m = new EsmmModel(referenceKernels, spec(over), 8);
    m.init(new Rng(2));
    m.trainStep(batch, new Rng(3));
    return m.denseParams().map((p) => Array.from(p.grad));
  };

  it('AMAN with rate 0 is BASE, with rate 1 it trains like DIVISION', () => {
    assert.deepEqual(grads({ kind: 'aman', amanNegativeRate: 0 }), grads({ kind: 'base' }));
    assert.deepEqual(grads({ kind: 'aman', amanNegativeRate: 1 }), grads({ kind: 'division' }));
    assert.notDeepEqual(grads({ kind: 'base' }), grads({ kind: 'division' }));
    assert.deepEqual(grads({ kind: 'oversampling', oversamplingFactor: 1 }), grads({ kind: 'base' }));
  });

  it('DIVISION predicts pCVR = pCTCVR / pCTR, clipped to 1', () => {
    const m = new EsmmModel(referenceKernels, spec({ kind: 'division' }), 8);
    m.init(new Rng(2));
    const pctr = new Float32Array(6), pcvr = new Float32Array(6);
    m.predict(batch, pctr, pcvr);
    const { ctr, cvr } = m.forward(batch, null);
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(pcvr[i] - Math.min(1, s(cvr[i]) / s(ctr[i]))) < 1e-6);
    // push the CTCVR tower's output above pCTR: pCVR must clip at 1
    const last = m.cvr.layers.at(-1)!;
    last.bias[0] = 30;
    m.predict(batch, pctr, pcvr);
    assert.ok(Array.from(pcvr).every((v) => v === 1));
  });
});
