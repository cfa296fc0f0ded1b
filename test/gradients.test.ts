/**
 * Every gradient of the engine against central finite differences: the loss w.r.t. the logits, and the full
 * ESMM objective (embeddings with sum/mean/weighted pooling and per-feature widths, dense numeric inputs,
 * feature groups with and without DNNs, ReLU and PReLU towers of their own sizes, dropout, both L2 terms)
 * w.r.t. every tower and group DNN parameter and every embedding row a batch touches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../src/data/batch.js';
import { esmmLoss } from '../src/engine/loss.js';
import { referenceKernels } from '../src/engine/reference.js';
import { EsmmModel, type ModelSpec } from '../src/model/esmm.js';
import { Rng } from '../src/util/rng.js';
import { groupSpec, tinyBatch, tinySpec } from './model-fixtures.js';

/** Central difference of f w.r.t. buf[i], restoring the value afterwards. */
function numericGrad(buf: Float32Array, i: number, h: number, f: () => number): number {
  const old = buf[i];
  buf[i] = old + h;
  const up = f();
  buf[i] = old - h;
  const down = f();
  buf[i] = old;
  return (up - down) / (2 * h);
}

function close(analytic: number, numeric: number): boolean {
  return Math.abs(analytic - numeric) <= 3e-4 + 2e-2 * Math.max(Math.abs(analytic), Math.abs(numeric));
}

function assertClose(analytic: number, numeric: number, what: string): void {
  assert.ok(close(analytic, numeric), `${what}: analytic ${analytic} vs numeric ${numeric}`);
}

/**
 * Steps for the model's objective, computed in float32, and the absolute error each tolerates besides a
 * relative 3e-3: a central difference with step h carries float32 rounding noise of about 1e-8/h (the
 * objective is O(1)) and a truncation error of O(h²). The first step is the most accurate; the smaller
 * ones are only for coordinates where a ReLU/PReLU kink lies within a step of some pre-activation.
 */
const STEPS: Array<[h: number, abs: number]> = [[1e-2, 3e-6], [1e-3, 3e-5], [2e-4, 1.5e-4]];

function assertGradient(analytic: number, buf: Float32Array, i: number, f: () => number, what: string): void {
  const tried: string[] = [];
  for (const [h, abs] of STEPS) {
    const numeric = numericGrad(buf, i, h, f);
    if (Math.abs(analytic - numeric) <= abs + 3e-3 * Math.max(Math.abs(analytic), Math.abs(numeric))) return;
    tried.push(`${numeric} (h=${h})`);
  }
  assert.fail(`${what}: analytic ${analytic} vs numeric ${tried.join(', ')}`);
}

describe('esmmLoss', () => {
  it('matches finite differences w.r.t. both logits for every label combination', () => {
    const h = 2 ** -10;
    const logits = [-6, -1.5, -0.25, 0, 0.75, 2, 5];
    for (const [y, z] of [[0, 0], [1, 0], [1, 1]]) {
      for (const a0 of logits) {
        for (const b0 of logits) {
          const a = Float32Array.of(a0), b = Float32Array.of(b0);
          const click = Float32Array.of(y), buy = Float32Array.of(z);
          const dA = new Float32Array(1), dB = new Float32Array(1), scratch = new Float32Array(1);
          const w = { ctr: 0.7, ctcvr: 1.3 };
          esmmLoss(1, a, b, click, buy, w, dA, dB);
          const f = () => esmmLoss(1, a, b, click, buy, w, scratch, scratch).total;
          assertClose(dA[0], numericGrad(a, 0, h, f), `dA y=${y} z=${z} a=${a0} b=${b0}`);
          assertClose(dB[0], numericGrad(b, 0, h, f), `dB y=${y} z=${z} a=${a0} b=${b0}`);
        }
      }
    }
  });

  it('equals the naive formula for moderate logits', () => {
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    const a = Float32Array.of(0.3, -1.2, 2.5), b = Float32Array.of(-0.7, 0.4, 1.1);
    const click = Float32Array.of(1, 0, 1), buy = Float32Array.of(1, 0, 0);
    const d = new Float32Array(3);
    const got = esmmLoss(3, a, b, click, buy, { ctr: 1, ctcvr: 1 }, d, d);
    let ctr = 0, ctcvr = 0;
    for (let i = 0; i < 3; i++) {
      const p = s(a[i]), q = s(a[i]) * s(b[i]), yz = click[i] * buy[i];
      ctr -= click[i] * Math.log(p) + (1 - click[i]) * Math.log(1 - p);
      ctcvr -= yz * Math.log(q) + (1 - yz) * Math.log(1 - q);
    }
    assert.ok(Math.abs(got.ctr - ctr / 3) < 1e-6);
    assert.ok(Math.abs(got.ctcvr - ctcvr / 3) < 1e-6);
  });

  it('stays finite when the product underflows or saturates', () => {
    for (const [a0, b0] of [[-800, -800], [-60, -60], [800, 800], [60, 60], [800, -800], [-800, 800], [40, -3]]) {
      for (const [y, z] of [[0, 0], [1, 0], [1, 1]]) {
        const dA = new Float32Array(1), dB = new Float32Array(1);
        const r = esmmLoss(1, Float32Array.of(a0), Float32Array.of(b0), Float32Array.of(y), Float32Array.of(z), { ctr: 1, ctcvr: 1 }, dA, dB);
        for (const v of [r.total, r.ctr, r.ctcvr, dA[0], dB[0]]) assert.ok(Number.isFinite(v), `a=${a0} b=${b0} y=${y} z=${z}: ${v}`);
        assert.ok(Math.abs(dA[0]) <= 2 && Math.abs(dB[0]) <= 1, `gradients bounded at a=${a0} b=${b0}`);
      }
    }
    // −log(1 − σ(800)²) ≈ 800 − log 2: the exact value, not a clipped one
    const d = new Float32Array(1);
    const r = esmmLoss(1, Float32Array.of(800), Float32Array.of(800), Float32Array.of(1), Float32Array.of(0), { ctr: 0, ctcvr: 1 }, d, d);
    assert.ok(Math.abs(r.ctcvr - (800 - Math.LN2)) < 1e-9);
  });
});

/**
 * Checks the analytic gradient of the full objective against finite differences for every dense parameter
 * coordinate and every coordinate of every embedding row the batch touches (and that untouched rows do not
 * influence it). Returns the number of coordinates checked.
 */
function checkModelGradients(spec: ModelSpec, batch: Batch): { checked: number; names: string[] } {
  const model = new EsmmModel(referenceKernels, spec, 8);
  model.init(new Rng(3));
  // non-zero biases: a zero bias on a row whose inputs are all zero sits exactly on ReLU's kink
  const biasRng = new Rng(4);
  for (const p of model.denseParams()) if (p.name.endsWith('.bias')) p.data.forEach((_, i) => { p.data[i] = 0.2 * biasRng.normal(); });
  const dropState = new Rng(99).state();
  // the same draws (dropout masks, AMAN's negatives) at every evaluation
  const objective = () => model.trainStep(batch, Rng.fromState(dropState)).objective;
  objective();
  // snapshot the analytic gradients (the objective calls below overwrite them)
  const dense = model.denseParams().map((p) => ({ p, g: Float64Array.from(p.grad, (g, i) => g + (p.decay ? spec.l2Tower * p.data[i] : 0)) }));
  const sparse = model.embeddingParams().map((e) => ({
    e,
    rows: Array.from(e.grad.rows.subarray(0, e.grad.count)),
    g: Float64Array.from(e.grad.grads.subarray(0, e.grad.count * e.table.dim)),
  }));
  let checked = 0;
  for (const { p, g } of dense) {
    for (let i = 0; i < p.data.length; i++) {
      assertGradient(g[i], p.data, i, objective, `${p.name}[${i}]`);
      checked++;
    }
  }
  for (const { e, rows, g } of sparse) {
    const dim = e.table.dim;
    rows.forEach((r, j) => {
      for (let d = 0; d < dim; d++) {
        const analytic = g[j * dim + d] + spec.l2Embedding * e.table.data[r * dim + d];
        assertGradient(analytic, e.table.data, r * dim + d, objective, `${e.name}[${r}][${d}]`);
        checked++;
      }
    });
    // rows the batch did not touch must not influence the objective
    const untouched = Array.from({ length: e.table.rows }, (_, r) => r).filter((r) => !rows.includes(r));
    for (const r of untouched) assert.equal(numericGrad(e.table.data, r * dim, 1e-3, objective), 0, `${e.name} row ${r} untouched`);
  }
  return { checked, names: [...dense.map((d) => d.p.name), ...sparse.map((s) => s.e.name)] };
}

describe('ESMM model gradients', () => {
  const cases: Array<[string, Partial<ModelSpec>]> = [
    ['relu', {}],
    ['prelu with L2 on towers and embeddings', { activation: 'prelu', l2Tower: 0.05, l2Embedding: 0.1 }],
    ['unequal loss weights', { ctrWeight: 0.3, ctcvrWeight: 2 }],
    ['dropout', { dropout: 0.3 }],
    ['esmm-ns (an embedding set per tower)', { kind: 'esmm-ns', l2Embedding: 0.1 }],
    ['base (CVR on clicked rows only)', { kind: 'base', ctrWeight: 0.5 }],
    ['oversampling (conversions weighted k times)', { kind: 'oversampling', oversamplingFactor: 3 }],
    ['aman (sampled unclicked negatives)', { kind: 'aman', amanNegativeRate: 0.5 }],
    ['division (CTR and CTCVR networks)', { kind: 'division', ctcvrWeight: 1.5 }],
  ];
  for (const [label, over] of cases) {
    it(`match finite differences: ${label}`, () => {
      const { checked } = checkModelGradients(tinySpec(over), tinyBatch(new Rng(11), 8));
      assert.ok(checked > 150, `checked ${checked} coordinates`);
    });
  }

  it('gives the CVR tower gradient only through the CTCVR term', () => {
    const k = referenceKernels;
    const batch = tinyBatch(new Rng(5), 8);
    const cvrGrads = (over: Partial<ModelSpec>) => {
      const model = new EsmmModel(k, tinySpec(over), 8);
      model.init(new Rng(3));
      model.trainStep(batch, null);
      return {
        cvr: model.cvr.params('cvr').map((p) => Array.from(p.grad)),
        ctr: model.ctr.params('ctr').map((p) => Array.from(p.grad)),
      };
    };
    const noCtcvr = cvrGrads({ ctcvrWeight: 0 });
    for (const g of noCtcvr.cvr) assert.ok(g.every((v) => v === 0), 'no CTCVR term → CVR tower gets exactly zero gradient');
    assert.ok(noCtcvr.ctr.some((g) => g.some((v) => v !== 0)), 'CTR tower still learns');
    // the CTR weight must not change the CVR tower's gradient at all
    const a = cvrGrads({ ctrWeight: 1 }), b = cvrGrads({ ctrWeight: 5 });
    assert.deepEqual(a.cvr, b.cvr);
    assert.ok(a.cvr.some((g) => g.some((v) => v !== 0)));
  });
});

describe('ESMM model gradients with feature groups', () => {
  const cases: Array<[string, Partial<ModelSpec>, RegExp[]]> = [
    ['esmm (shared bottom)', {}, [/^group\.user\.dense\.0\.weight$/, /^group\.item\.dense\.1\.weight$/, /^embedding\.spend$/]],
    ['esmm, prelu, dropout, L2', { activation: 'prelu', dropout: 0.25, l2Tower: 0.05, l2Embedding: 0.1 }, [/^group\.item\.dense\.1\.prelu_alpha$/]],
    ['esmm-ns (a bottom per tower)', { kind: 'esmm-ns', l2Tower: 0.05 }, [/^ctr\.group\.user\.dense\.0\.weight$/, /^cvr\.group\.item\.dense\.1\.bias$/, /^cvr\.embedding\.hist$/]],
    ['base (a bottom per network)', { kind: 'base', activation: 'prelu' }, [/^ctr\.group\.item\.dense\.0\.prelu_alpha$/, /^cvr\.group\.user\.dense\.0\.weight$/]],
  ];
  for (const [label, over, expectNames] of cases) {
    it(`match finite differences: ${label}`, () => {
      const { checked, names } = checkModelGradients(groupSpec(over), tinyBatch(new Rng(12), 8, 2, 1));
      for (const re of expectNames) assert.ok(names.some((n) => re.test(n)), `a parameter named ${re}`);
      assert.ok(!names.some((n) => /group\.tags/.test(n)), 'a pass-through group has no tensors');
      assert.ok(checked > 200, `checked ${checked} coordinates`);
    });
  }
});
