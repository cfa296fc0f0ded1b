import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rocAuc, rocCurve } from '../src/metrics/auc.js';
import { logLoss, LOGLOSS_EPSILON } from '../src/metrics/logloss.js';
import { evaluatePredictions } from '../src/metrics/esmm-metrics.js';
import { EsmmError } from '../src/errors.js';
import { seededRandom } from './helpers.js';

/** Independent reference: count every (positive, negative) pair, a tie counting ½. */
function bruteForceAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, use: (i: number) => boolean = () => true): number | null {
  let wins = 0, pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!use(i) || labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (!use(j) || labels[j] !== 0) continue;
      pairs++;
      if (scores[i] > scores[j]) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return pairs === 0 ? null : wins / pairs;
}

function directLogLoss(p: ArrayLike<number>, y: ArrayLike<number>, use: (i: number) => boolean = () => true): number | null {
  let sum = 0, n = 0;
  for (let i = 0; i < p.length; i++) {
    if (!use(i)) continue;
    const q = Math.min(Math.max(p[i], 1e-7), 1 - 1e-7);
    sum += -(y[i] * Math.log(q) + (1 - y[i]) * Math.log(1 - q));
    n++;
  }
  return n === 0 ? null : sum / n;
}



const closeTo = (actual: number | null, expected: number | null, tol = 1e-12) => {
  if (expected === null) return assert.equal(actual, null);
  assert.notEqual(actual, null);
  assert.ok(Math.abs(actual! - expected) <= tol, `${actual} vs ${expected}`);
};

test('AUC matches brute-force pair counting on random data with many ties (seeded)', () => {
  const random = seededRandom(12345);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(random() * 300);
    const levels = 1 + Math.floor(random() * 12); // few distinct scores → many ties
    const positiveRate = random();
    const scores = new Float32Array(n), labels = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      scores[i] = Math.floor(random() * levels) / levels;
      labels[i] = random() < positiveRate ? 1 : 0;
    }
    closeTo(rocAuc(scores, labels), bruteForceAuc(scores, labels));
    const f64 = Float64Array.from(scores, (s) => s + (random() < 0.5 ? 0 : 1e-12)); // distinct only in float64
    closeTo(rocAuc(f64, labels), bruteForceAuc(f64, labels));
  }
});

test('AUC matches brute force with a mask and with an index subset (fast-check)', () => {
  const row = fc.record({ score: fc.integer({ min: 0, max: 6 }), label: fc.integer({ min: 0, max: 1 }), keep: fc.boolean() });
  fc.assert(
    fc.property(fc.array(row, { maxLength: 120 }), (data) => {
      const scores = Float64Array.from(data, (d) => d.score / 6 - 0.5);
      const labels = Uint8Array.from(data, (d) => d.label);
      const mask = Uint8Array.from(data, (d) => (d.keep ? 1 : 0));
      const indices = Int32Array.from(data.flatMap((d, i) => (d.keep ? [i] : [])));
      const expected = bruteForceAuc(scores, labels, (i) => mask[i] === 1);
      closeTo(rocAuc(scores, labels, { mask }), expected);
      closeTo(rocAuc(scores, labels, { indices }), expected);
      closeTo(rocAuc(scores, labels), bruteForceAuc(scores, labels));
    }),
    { numRuns: 300, seed: 7 },
  );
});

test('AUC hand example', () => {
  // positives 0.8, 0.4, 0.4; negatives 0.4, 0.1.
  // pairs: 0.8>0.4 1, 0.8>0.1 1, 0.4=0.4 ½, 0.4>0.1 1, 0.4=0.4 ½, 0.4>0.1 1 → 5 / 6
  const scores = new Float32Array([0.8, 0.4, 0.4, 0.4, 0.1]);
  const labels = [1, 1, 0, 1, 0];
  closeTo(rocAuc(scores, labels), 5 / 6);
  closeTo(rocAuc(new Float32Array([0.1, 0.9]), [0, 1]), 1);
  closeTo(rocAuc(new Float32Array([0.1, 0.9]), [1, 0]), 0);
  closeTo(rocAuc(new Float32Array([0.5, 0.5, 0.5]), [1, 0, 0]), 0.5);
  closeTo(rocAuc(new Float64Array([-0, 0]), [1, 0]), 0.5); // -0 and +0 are one tie group
});

test('AUC is null when a class is missing, and rejects bad input', () => {
  assert.equal(rocAuc(new Float32Array([]), []), null);
  assert.equal(rocAuc(new Float32Array([0.1, 0.2]), [1, 1]), null);
  assert.equal(rocAuc(new Float32Array([0.1, 0.2]), [0, 0]), null);
  assert.equal(rocAuc(new Float32Array([0.1, 0.2]), [0, 1], { mask: [0, 1] }), null);
  assert.equal(rocAuc(new Float32Array([0.1, 0.2]), [0, 1], { indices: [] }), null);
  assert.throws(() => rocAuc(new Float32Array([0.1, NaN]), [0, 1]), EsmmError);
  assert.throws(() => rocAuc(new Float32Array([0.1, 0.2]), [0, 2]), EsmmError);
  assert.throws(() => rocAuc(new Float32Array([0.1, 0.2]), [0]), EsmmError);
  assert.throws(() => rocAuc(new Float32Array([0.1, 0.2]), [0, 1], { indices: [2] }), EsmmError);
  assert.throws(() => rocAuc(new Float32Array([0.1, 0.2]), [0, 1], { mask: [1] }), EsmmError);
});

test('ROC curve: exact vertices, endpoints, downsampling and its AUC', () => {
  const scores = new Float32Array([0.8, 0.4, 0.4, 0.4, 0.1]);
  const curve = rocCurve(scores, [1, 1, 0, 1, 0], 100)!;
  assert.equal(curve.positives, 3);
  assert.equal(curve.negatives, 2);
  assert.deepEqual(curve.points.map((p) => [p.fpr, p.tpr]), [[0, 0], [0, 1 / 3], [0.5, 1], [1, 1]]);
  assert.deepEqual(curve.points.map((p) => p.threshold), [Infinity, scores[0], scores[1], scores[4]]);
  closeTo(curve.auc, 5 / 6);

  const random = seededRandom(99);
  const n = 20000;
  const big = new Float64Array(n), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) { labels[i] = random() < 0.3 ? 1 : 0; big[i] = random() + labels[i] * 0.3; }
  for (const maxPoints of [2, 3, 10, 101]) {
    const c = rocCurve(big, labels, maxPoints)!;
    assert.ok(c.points.length <= maxPoints && c.points.length >= 2, `${c.points.length} points for max ${maxPoints}`);
    assert.deepEqual([c.points[0].fpr, c.points[0].tpr], [0, 0]);
    assert.deepEqual([c.points.at(-1)!.fpr, c.points.at(-1)!.tpr], [1, 1]);
    for (let k = 1; k < c.points.length; k++) {
      assert.ok(c.points[k].fpr >= c.points[k - 1].fpr && c.points[k].tpr >= c.points[k - 1].tpr);
      assert.ok(c.points[k].threshold < c.points[k - 1].threshold);
    }
  }
  const fine = rocCurve(big, labels, 101)!;
  assert.ok(fine.points.length >= 90, `only ${fine.points.length} points kept`);
  let trapezoid = 0;
  for (let k = 1; k < fine.points.length; k++) {
    const a = fine.points[k - 1], b = fine.points[k];
    trapezoid += (b.fpr - a.fpr) * (a.tpr + b.tpr) / 2;
  }
  assert.ok(Math.abs(trapezoid - fine.auc) < 0.01, `downsampled area ${trapezoid} vs AUC ${fine.auc}`);
  assert.equal(rocCurve(new Float32Array([0.1]), [1], 10), null);
  assert.throws(() => rocCurve(big, labels, 1), EsmmError);
});

test('log loss matches the direct formula, clips, and is null on no rows', () => {
  const random = seededRandom(3);
  const n = 1000;
  const p = new Float32Array(n), y = new Float32Array(n), mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = i % 50 === 0 ? (i % 100 === 0 ? 0 : 1) : random(); // include exact 0 and 1 → clipping
    y[i] = random() < 0.4 ? 1 : 0;
    mask[i] = random() < 0.5 ? 1 : 0;
  }
  closeTo(logLoss(p, y), directLogLoss(p, y), 1e-9);
  closeTo(logLoss(p, y, { mask }), directLogLoss(p, y, (i) => mask[i] === 1), 1e-9);
  closeTo(logLoss(new Float32Array([0]), [1]), -Math.log(LOGLOSS_EPSILON), 1e-9);
  closeTo(logLoss(new Float64Array([0.25]), [0]), -Math.log(0.75));
  closeTo(logLoss(new Float64Array([0.25]), [0.5]), -(0.5 * Math.log(0.25) + 0.5 * Math.log(0.75)));
  assert.equal(logLoss(new Float32Array([]), []), null);
  assert.equal(logLoss(new Float32Array([0.5]), [1], { mask: [0] }), null);
  assert.throws(() => logLoss(new Float32Array([NaN]), [1]), EsmmError);
  assert.throws(() => logLoss(new Float32Array([0.5]), [2]), EsmmError);
});

test('evaluatePredictions: CVR metrics use clicked rows only, CTCVR uses the product', () => {
  const random = seededRandom(42);
  const n = 400;
  const pctr = new Float32Array(n), pcvr = new Float32Array(n), click = new Float32Array(n), buy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    click[i] = random() < 0.3 ? 1 : 0;
    buy[i] = click[i] === 1 && random() < 0.4 ? 1 : 0;
    pctr[i] = Math.round(random() * 20) / 20;
    pcvr[i] = Math.round(random() * 20) / 20;
  }
  const m = evaluatePredictions(pctr, pcvr, click, buy);
  const clicked = (i: number) => click[i] === 1;
  const ctcvrLabel = Float32Array.from(click, (c, i) => c * buy[i]);
  const pctcvr = Float64Array.from(pctr, (p, i) => p * pcvr[i]);
  assert.equal(m.rows, n);
  assert.equal(m.clicks, click.reduce((a, b) => a + b, 0));
  assert.equal(m.conversions, ctcvrLabel.reduce((a, b) => a + b, 0));
  closeTo(m.ctr_auc, bruteForceAuc(pctr, click));
  closeTo(m.cvr_auc, bruteForceAuc(pcvr, buy, clicked));
  closeTo(m.ctcvr_auc, bruteForceAuc(pctcvr, ctcvrLabel));
  closeTo(m.ctr_logloss, directLogLoss(pctr, click), 1e-9);
  closeTo(m.cvr_logloss, directLogLoss(pcvr, buy, clicked), 1e-9);
  closeTo(m.ctcvr_logloss, directLogLoss(pctcvr, ctcvrLabel), 1e-9);

  // Changing pCVR on unclicked rows must not move the CVR metrics.
  const pcvr2 = pcvr.map((v, i) => (click[i] === 1 ? v : 1 - v));
  const m2 = evaluatePredictions(pctr, pcvr2, click, buy);
  assert.equal(m2.cvr_auc, m.cvr_auc);
  assert.equal(m2.cvr_logloss, m.cvr_logloss);
  assert.notEqual(m2.ctcvr_auc, m.ctcvr_auc);
});

test('evaluatePredictions: null where a metric is undefined', () => {
  const noClicks = evaluatePredictions(new Float32Array([0.1, 0.2]), new Float32Array([0.3, 0.4]), [0, 0], [0, 0]);
  assert.deepEqual(noClicks, {
    rows: 2, clicks: 0, conversions: 0,
    ctr_auc: null, cvr_auc: null, ctcvr_auc: null,
    ctr_logloss: noClicks.ctr_logloss, cvr_logloss: null, ctcvr_logloss: noClicks.ctcvr_logloss,
  });
  assert.equal(typeof noClicks.ctr_logloss, 'number');
  const empty = evaluatePredictions(new Float32Array(0), new Float32Array(0), [], []);
  assert.equal(empty.ctr_logloss, null);
  assert.equal(empty.ctr_auc, null);
  assert.throws(() => evaluatePredictions(new Float32Array(2), new Float32Array(1), [0, 0], [0, 0]), EsmmError);
  assert.throws(() => evaluatePredictions(new Float32Array(1), new Float32Array(1), [0.5], [0]), EsmmError);
});

/** A second independent reference for large n: the rank-sum formula with average ranks for ties. */
function rankSumAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0, rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start..end-1 are 1-based start+1..end
    for (let k = start; k < end; k++) if (labels[order[k]] === 1) { positives++; rankSum += averageRank; }
    start = end;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

test('AUC on large inputs (radix-sort path): negatives, ±0, infinities, heavy ties, both float widths', () => {
  const random = seededRandom(2024);
  const n = 150_000;
  const specials = [0, -0, Infinity, -Infinity, -1e-30, 1e-30, -3.5, 7];
  for (const ties of [true, false]) {
    const f64 = new Float64Array(n), labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = random() < 0.2 ? 1 : 0;
      const r = random();
      f64[i] = r < 0.05 ? specials[Math.floor(random() * specials.length)]
        : ties ? Math.round((random() - 0.4 + labels[i] * 0.1) * 50) / 50
        : (random() - 0.4 + labels[i] * 0.1) * 1e3;
    }
    const f32 = Float32Array.from(f64);
    closeTo(rocAuc(f64, labels), rankSumAuc(f64, labels), 1e-9);
    closeTo(rocAuc(f32, labels), rankSumAuc(f32, labels), 1e-9);
    const curve = rocCurve(f64, labels, 50)!;
    closeTo(curve.auc, rankSumAuc(f64, labels), 1e-9);
  }
  // Inputs are never reordered.
  const scores = Float32Array.from({ length: 10_000 }, () => random());
  const copy = scores.slice();
  rocAuc(scores, Uint8Array.from(scores, (s) => (s > 0.5 ? 1 : 0)));
  assert.deepEqual(scores, copy);
});
