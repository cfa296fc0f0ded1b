/** Small models and batches shared by the model tests (gradients, groups). */
import type { Batch } from '../src/data/batch.js';
import type { ModelSpec } from '../src/model/esmm.js';
import type { Rng } from '../src/util/rng.js';

/** Fields: a single id (5 rows), a list (6 rows), a weighted list (4 rows), then `extraWeighted` more weighted lists (3 rows). */
export function tinyBatch(rng: Rng, n: number, denseWidth = 0, extraWeighted = 0): Batch {
  const single = (rows: number) => ({
    ids: Int32Array.from({ length: n }, () => rng.below(rows)),
    offsets: Int32Array.from({ length: n + 1 }, (_, i) => i),
    weights: null,
  });
  const list = (rows: number, weighted: boolean) => {
    const offsets = new Int32Array(n + 1);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const len = i === 2 ? 0 : 1 + rng.below(3); // row 2 has an empty bag
      for (let j = 0; j < len; j++) ids.push(rng.below(rows));
      offsets[i + 1] = ids.length;
    }
    const weights = weighted ? Float32Array.from(ids, () => 0.5 + rng.uniform()) : null;
    return { ids: Int32Array.from(ids), offsets, weights };
  };
  const click = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const buy = Float32Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const extra = Array.from({ length: extraWeighted }, () => list(3, true));
  const dense = Float32Array.from({ length: n * denseWidth }, () => rng.normal());
  return { size: n, click, buy, fields: [single(5), list(6, false), list(4, true), ...extra], dense, denseWidth };
}

export function tinySpec(over: Partial<ModelSpec> = {}): ModelSpec {
  return {
    kind: 'esmm',
    features: [
      { name: 'user', rows: 5, pooling: 'sum' },
      { name: 'tags', rows: 6, pooling: 'mean' },
      { name: 'hist', rows: 4, pooling: 'mean' },
    ],
    embeddingDim: 3,
    hidden: [5, 4],
    activation: 'relu',
    dropout: 0,
    ctrWeight: 1,
    ctcvrWeight: 1,
    l2Tower: 0,
    l2Embedding: 0,
    embeddingInitStd: 0.5,
    denseInit: 'he_uniform',
    ...over,
  };
}

/**
 * Feature groups: per-feature widths, two dense numeric columns, a weighted list under each pooling, two
 * groups with DNNs (inputs in an order other than the config's, one mixing an embedding and a number)
 * around a pass-through group, and towers of their own sizes.
 */
export function groupSpec(over: Partial<ModelSpec> = {}): ModelSpec {
  return tinySpec({
    features: [
      { name: 'user', rows: 5, pooling: 'sum', dim: 3 },
      { name: 'tags', rows: 6, pooling: 'mean', dim: 2 },
      { name: 'hist', rows: 4, pooling: 'mean', dim: 4 },
      { name: 'spend', rows: 3, pooling: 'sum', dim: 1 },
    ],
    dense: ['age', 'price'],
    groups: [
      { name: 'user', inputs: [{ source: 'dense', index: 0 }, { source: 'embedding', index: 0 }, { source: 'embedding', index: 3 }], hidden: [4] },
      { name: 'tags', inputs: [{ source: 'embedding', index: 1 }], hidden: [] },
      { name: 'item', inputs: [{ source: 'embedding', index: 2 }, { source: 'dense', index: 1 }], hidden: [5, 3] },
    ],
    ctrHidden: [5, 4],
    cvrHidden: [3],
    ...over,
  });
}
