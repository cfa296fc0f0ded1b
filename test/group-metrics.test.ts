import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { calibration } from '../src/metrics/calibration.js';
import { groupAuc } from '../src/metrics/gauc.js';

/** AUC by counting pairs: P(score of a positive > score of a negative), ties one half. */
function pairAuc(s: number[], y: number[]): number | null {
  let pairs = 0, wins = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (y[i] !== 1 || y[j] !== 0) continue;
    pairs++;
    wins += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
  }
  return pairs > 0 ? wins / pairs : null;
}

const row = fc.record({ s: fc.integer({ min: 0, max: 8 }).map((v) => v / 8), y: fc.integer({ min: 0, max: 1 }), g: fc.integer({ min: 0, max: 5 }), m: fc.boolean() });

describe('group AUC', () => {
  test('equals the row-weighted mean of brute-force per-group AUCs, groups with one label left out', () => {
    fc.assert(fc.property(fc.array(row, { maxLength: 80 }), fc.boolean(), (rows, masked) => {
      const use = rows.map((r) => !masked || r.m);
      const r = groupAuc(Float64Array.from(rows, (x) => x.s), rows.map((x) => x.y), rows.map((x) => x.g), masked ? { mask: use.map(Number) } : undefined);
      let sum = 0, weight = 0, groups = 0;
      for (const g of new Set(rows.map((x) => x.g))) {
        const members = rows.filter((x, i) => x.g === g && use[i]);
        const auc = pairAuc(members.map((x) => x.s), members.map((x) => x.y));
        if (auc === null) continue;
        sum += auc * members.length;
        weight += members.length;
        groups++;
      }
      assert.equal(r.groups, groups);
      assert.equal(r.rows, weight);
      if (weight === 0) assert.equal(r.gauc, null);
      else assert.ok(Math.abs(r.gauc! - sum / weight) < 1e-12);
    }), { numRuns: 300 });
  });
});

describe('calibration', () => {
  test('overall and per-bucket means agree with a direct computation on equal-count buckets', () => {
    const p = [0.9, 0.1, 0.4, 0.2, 0.8, 0.3, 0.5, 0.7, 0.6, 0.05];
    const y = [1, 0, 0, 0, 1, 0, 1, 1, 0, 0];
    const c = calibration(p, y, 5)!;
    assert.equal(c.rows, 10);
    assert.ok(Math.abs(c.meanPredicted - 0.455) < 1e-12);
    assert.equal(c.observedRate, 0.4);
    assert.ok(Math.abs(c.ratio! - 0.455 / 0.4) < 1e-12);
    // sorted: .05 .1 | .2 .3 | .4 .5 | .6 .7 | .8 .9
    assert.deepEqual(c.buckets.map((b) => b.rows), [2, 2, 2, 2, 2]);
    assert.deepEqual(c.buckets.map((b) => b.observedRate), [0, 0, 0.5, 0.5, 1]);
    assert.ok(c.buckets.every((b, i) => Math.abs(b.meanPredicted - [0.075, 0.25, 0.45, 0.65, 0.85][i]) < 1e-12));
    assert.equal(calibration([0.2], [0], 3)!.ratio, null);
    assert.equal(calibration([], [], 3), null);
  });

  test('buckets partition the selected rows in prediction order', () => {
    fc.assert(fc.property(fc.array(row, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (rows, k) => {
      const c = calibration(rows.map((x) => x.s), rows.map((x) => x.y), k)!;
      assert.equal(c.buckets.reduce((n, b) => n + b.rows, 0), rows.length);
      for (let i = 1; i < c.buckets.length; i++) assert.ok(c.buckets[i - 1].maxPredicted <= c.buckets[i].minPredicted);
      const positives = c.buckets.reduce((n, b) => n + b.observedRate * b.rows, 0);
      assert.ok(Math.abs(positives - rows.filter((x) => x.y === 1).length) < 1e-9);
    }), { numRuns: 200 });
  });
});
