import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entireSpaceMetrics, spearman } from '../src/metrics/entire-space.js';
import { Rng } from '../src/util/rng.js';

/** Spearman by the textbook route: sort, assign average ranks by brute force, Pearson. */
function bruteSpearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => x.map((v) => {
    const below = x.filter((w) => w < v).length, equal = x.filter((w) => w === v).length;
    return below + (equal + 1) / 2;
  });
  const ra = rank(a), rb = rank(b);
  const m = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = m(ra), mb = m(rb);
  let c = 0, va = 0, vb = 0;
  ra.forEach((_, i) => { c += (ra[i] - ma) * (rb[i] - mb); va += (ra[i] - ma) ** 2; vb += (rb[i] - mb) ** 2; });
  return c / Math.sqrt(va * vb);
}

describe('entire-space metrics', () => {
  it('Spearman matches a brute-force computation, ties included', () => {
    const rng = new Rng(5);
    for (let t = 0; t < 50; t++) {
      const n = 2 + rng.below(60);
      const a = Array.from({ length: n }, () => rng.below(8)), b = Array.from({ length: n }, () => rng.below(8) + 0.5 * a[0]);
      const want = bruteSpearman(a, b);
      const got = spearman(a, b);
      if (Number.isNaN(want)) assert.equal(got, null);
      else assert.ok(Math.abs(got! - want) < 1e-12, `${got} vs ${want}`);
    }
    assert.equal(spearman([1, 2, 3], [3, 2, 1]), -1);
    assert.equal(spearman([1, 1, 1], [3, 2, 1]), null);
  });

  it('computes AUC on counterfactual conversions, rank correlation and the mean ratio', () => {
    const pcvr = Float32Array.of(0.1, 0.4, 0.2, 0.8);
    const truth = { pcvr: Float64Array.of(0.05, 0.3, 0.2, 0.25), buyIfClicked: Uint8Array.of(0, 1, 0, 1) };
    const m = entireSpaceMetrics(pcvr, truth);
    assert.equal(m.es_cvr_auc, 1);
    assert.ok(Math.abs(m.true_pcvr_spearman! - 0.8) < 1e-12);
    assert.ok(Math.abs(m.pcvr_mean_ratio! - (1.5 / 0.8)) < 1e-6);
  });
});
