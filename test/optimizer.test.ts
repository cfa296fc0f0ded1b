/**
 * The optimizers: Adam with bias correction against a direct float64 computation, and the lazy embedding
 * updates touching exactly the rows of the batch (never a dense update of a table).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../src/data/batch.js';
import { createKernels } from '../src/engine/backend.js';
import { referenceKernels } from '../src/engine/reference.js';
import { EsmmModel, type ModelSpec } from '../src/model/esmm.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { Rng } from '../src/util/rng.js';

const spec: ModelSpec = {
  kind: 'esmm',
  features: [{ name: 'user', rows: 50, pooling: 'sum' }, { name: 'tags', rows: 30, pooling: 'mean' }],
  embeddingDim: 4, hidden: [6], activation: 'relu', dropout: 0,
  ctrWeight: 1, ctcvrWeight: 1, l2Tower: 0.01, l2Embedding: 0.01, embeddingInitStd: 0.3, denseInit: 'he_uniform',
};

function batch(): Batch {
  return {
    size: 3,
    click: Float32Array.of(1, 0, 1),
    buy: Float32Array.of(1, 0, 0),
    fields: [
      { ids: Int32Array.of(4, 9, 4), offsets: Int32Array.of(0, 1, 2, 3), weights: null },
      { ids: Int32Array.of(1, 2, 2, 7), offsets: Int32Array.of(0, 2, 2, 4), weights: null },
    ],
    dense: new Float32Array(0),
    denseWidth: 0,
  };
}

describe('optimizers', () => {
  for (const embeddingOptimizer of ['adam', 'adagrad'] as const) {
    it(`${embeddingOptimizer}: updates only the embedding rows the batch touches`, async () => {
      for (const k of [referenceKernels, await createKernels('auto')]) {
        const model = new EsmmModel(k, spec, 8);
        model.init(new Rng(1));
        const opt = new Optimizer(k, model.denseParams(), model.embeddingParams(), {
          learningRate: 0.01, embeddingOptimizer, embeddingLearningRate: 0.05, l2Tower: 0.01, l2Embedding: 0.01,
        });
        const before = model.embeddingParams().map((e) => Float32Array.from(e.table.data));
        const slotsBefore = new Map([...opt.slots].map(([n, s]) => [n, Float32Array.from(s)]));
        model.trainStep(batch(), null);
        opt.apply();
        const touched = [new Set([4, 9]), new Set([1, 2, 7])];
        model.embeddingParams().forEach((e, f) => {
          for (let r = 0; r < e.table.rows; r++) {
            const row = (a: Float32Array) => Array.from(a.subarray(r * 4, r * 4 + 4));
            const changed = row(e.table.data).some((v, d) => v !== row(before[f])[d]);
            assert.equal(changed, touched[f].has(r), `${k.name} ${e.name} row ${r}`);
            for (const [name, slot] of opt.slots) {
              if (!name.startsWith(e.name + '.')) continue;
              const slotChanged = row(slot).some((v, d) => v !== row(slotsBefore.get(name)!)[d]);
              assert.equal(slotChanged, touched[f].has(r), `${k.name} ${name} row ${r}`);
            }
          }
        });
      }
    });
  }

  it('Adam with bias correction and L2 matches a direct computation', () => {
    const k = referenceKernels;
    const data = k.allocF32(3), grad = k.allocF32(3);
    data.set([0.5, -1, 2]);
    const param = { name: 'w', shape: [3], data, grad, decay: true };
    const opt = new Optimizer(k, [param], [], { learningRate: 0.1, embeddingOptimizer: 'adam', embeddingLearningRate: 0.1, l2Tower: 0.2, l2Embedding: 0 });
    const w = [0.5, -1, 2], m = [0, 0, 0], v = [0, 0, 0];
    const grads = [[0.3, -0.2, 0.1], [-0.1, 0.4, 0.05]];
    grads.forEach((g, t) => {
      grad.set(g);
      opt.apply();
      for (let i = 0; i < 3; i++) {
        const gi = g[i] + 0.2 * w[i];
        m[i] = 0.9 * m[i] + 0.1 * gi;
        v[i] = 0.999 * v[i] + 0.001 * gi * gi;
        const mHat = m[i] / (1 - 0.9 ** (t + 1)), vHat = v[i] / (1 - 0.999 ** (t + 1));
        w[i] -= (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8 * Math.sqrt(1 / (1 - 0.999 ** (t + 1))));
      }
    });
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(data[i] - w[i]) < 1e-5, `w[${i}] ${data[i]} vs ${w[i]}`);
  });
});
