/**
 * Data-parallel training on worker threads: one thread reproduces the in-process step bit for bit; several
 * threads split each batch and reduce their gradients to the same update up to float rounding, including
 * embedding rows touched by several threads, empty shares and the baselines' row weights; scoring on the
 * pool equals the model's own; a failure in one thread rejects the step instead of hanging the others.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../src/data/batch.js';
import { createWasmKernels } from '../src/engine/wasm.js';
import { EsmmModel, type ModelSpec } from '../src/model/esmm.js';
import { Optimizer, type OptimizerOptions } from '../src/optim/optimizer.js';
import { LocalRunner, WorkerPool, type ModelRunner } from '../src/train/parallel/pool.js';
import { scoreLines } from '../src/util/format.js';
import { prefetch } from '../src/util/prefetch.js';
import { Rng } from '../src/util/rng.js';
import { tinyBatch, tinySpec } from './model-fixtures.js';

const OPTIONS: OptimizerOptions = { learningRate: 0.05, embeddingOptimizer: 'adam', embeddingLearningRate: 0.05, l2Tower: 0.01, l2Embedding: 0.01 };

interface Setup {
  model: EsmmModel;
  optimizer: Optimizer;
  runner: ModelRunner;
}

async function setup(spec: ModelSpec, threads: number | 'local', opts: OptimizerOptions = OPTIONS, maxBatch = 64): Promise<Setup> {
  const k = await createWasmKernels();
  const model = new EsmmModel(k, spec, maxBatch);
  model.init(new Rng(1));
  const optimizer = new Optimizer(k, model.denseParams(), model.embeddingParams(), opts);
  const runner = threads === 'local' ? new LocalRunner(model, optimizer) : await WorkerPool.start({ kernels: k, model, optimizer, threads });
  return { model, optimizer, runner };
}

/** Every parameter and optimizer slot, copied. */
function snapshot(s: Setup): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  s.model.paramBuffers.forEach((b, i) => out.set(`param ${i}`, b.slice()));
  for (const [name, slot] of s.optimizer.slots) out.set(name, slot.slice());
  return out;
}

async function trainSteps(s: Setup, batches: Batch[], seed = 5): Promise<number[]> {
  const rng = new Rng(seed);
  const losses: number[] = [];
  for (const b of batches) losses.push(await s.runner.trainStep(b, rng));
  return losses;
}

function batches(count: number, size: number, seed = 2): Batch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => tinyBatch(rng, size));
}

function maxRelativeDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1e-3 + Math.abs(x[i])));
  }
  return worst;
}

async function compare(spec: ModelSpec, threads: number, data: Batch[], opts = OPTIONS) {
  const local = await setup(spec, 'local', opts);
  const pool = await setup(spec, threads, opts);
  try {
    const lossLocal = await trainSteps(local, data);
    const lossPool = await trainSteps(pool, data);
    return { lossLocal, lossPool, local: snapshot(local), pool: snapshot(pool) };
  } finally {
    await pool.runner.close();
  }
}

describe('worker-thread training', () => {
  for (const [name, spec, opts] of [
    ['esmm with dropout and L2', tinySpec({ dropout: 0.3, l2Tower: 0.01, l2Embedding: 0.01 }), OPTIONS],
    ['aman (rows sampled with the rng)', tinySpec({ kind: 'aman', amanNegativeRate: 0.5 }), OPTIONS],
    ['base with adagrad embeddings', tinySpec({ kind: 'base' }), { ...OPTIONS, embeddingOptimizer: 'adagrad' as const }],
  ] as const) {
    it(`one thread is bit-identical to the in-process step: ${name}`, async () => {
      const r = await compare(spec, 1, batches(6, 16), opts);
      assert.deepEqual(r.lossPool, r.lossLocal);
      for (const [key, x] of r.local) assert.deepEqual(r.pool.get(key), x, key);
    });
  }

  for (const threads of [2, 3]) {
    for (const [name, spec] of [['esmm', tinySpec({ l2Tower: 0.01, l2Embedding: 0.01 })], ['base', tinySpec({ kind: 'base' })], ['oversampling', tinySpec({ kind: 'oversampling', oversamplingFactor: 3 })]] as const) {
      it(`${threads} threads give the same updates up to rounding: ${name}`, async () => {
        // 4 tiny tables: every thread touches the same embedding rows, so the merge is exercised
        const r = await compare(spec, threads, batches(5, 17));
        assert.ok(maxRelativeDifference(r.local, r.pool) < 1e-4, `max relative difference ${maxRelativeDifference(r.local, r.pool)}`);
        r.lossLocal.forEach((l, i) => assert.ok(Math.abs(l - r.lossPool[i]) < 1e-5 * Math.max(1, Math.abs(l)), `step ${i}: ${l} vs ${r.lossPool[i]}`));
        // a real update happened (the comparison is not of two untouched models)
        assert.ok(maxRelativeDifference(r.local, (await setupSnapshot(spec))) > 1e-3);
      });
    }
  }

  it('handles batches smaller than the thread count (a thread with no rows)', async () => {
    const r = await compare(tinySpec(), 3, [...batches(2, 1), ...batches(2, 2, 9)]);
    assert.ok(maxRelativeDifference(r.local, r.pool) < 1e-4);
  });

  it('the same seed and thread count give identical runs', async () => {
    const a = await setup(tinySpec({ dropout: 0.2 }), 2), b = await setup(tinySpec({ dropout: 0.2 }), 2);
    try {
      await trainSteps(a, batches(4, 20));
      await trainSteps(b, batches(4, 20));
      for (const [key, x] of snapshot(a)) assert.deepEqual(snapshot(b).get(key), x, key);
    } finally {
      await a.runner.close();
      await b.runner.close();
    }
  });

  it('scores on the pool exactly as the model does, in row order', async () => {
    const s = await setup(tinySpec(), 2, OPTIONS, 8);
    try {
      await trainSteps(s, batches(2, 8));
      const b = batches(1, 37, 4)[0];
      const want = { pctr: new Float32Array(37), pcvr: new Float32Array(37) };
      s.model.predict(b, want.pctr, want.pcvr);
      const pctr = new Float32Array(40).fill(-1), pcvr = new Float32Array(40).fill(-1);
      await s.runner.predict(b, pctr, pcvr, 3);
      assert.deepEqual(pctr.subarray(3), want.pctr);
      assert.deepEqual(pcvr.subarray(3), want.pcvr);
      assert.deepEqual(Array.from(pctr.subarray(0, 3)), [-1, -1, -1]);
      assert.equal(await s.runner.predictLines(b), scoreLines(want.pctr, want.pcvr, 37));
    } finally {
      await s.runner.close();
    }
  });

  it('a failing thread rejects the step with its error and never leaves the others waiting', async () => {
    const s = await setup(tinySpec(), 2);
    try {
      const bad = batches(1, 9)[0];
      bad.fields = bad.fields.slice(0, 2);
      await assert.rejects(s.runner.trainStep(bad, new Rng(1)), /embedded fields/);
    } finally {
      await s.runner.close();
    }
  });
});

async function setupSnapshot(spec: ModelSpec): Promise<Map<string, Float32Array>> {
  const s = await setup(spec, 'local');
  return snapshot(s);
}

describe('prefetch', () => {
  async function* numbers(n: number, log: string[]) {
    try {
      for (let i = 0; i < n; i++) {
        log.push(`make ${i}`);
        yield i;
      }
    } finally {
      log.push('closed');
    }
  }

  it('yields every item in order and asks for the next one while the consumer waits', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const x of prefetch(numbers(3, log))) {
      log.push(`use ${x}`);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(x);
    }
    assert.deepEqual(seen, [0, 1, 2]);
    // item 1 is made while item 0 is being used
    assert.ok(log.indexOf('make 1') < log.indexOf('use 1') && log.indexOf('make 1') > log.indexOf('use 0'), log.join(', '));
  });

  it('closes the source when the consumer stops early, and passes errors on', async () => {
    const log: string[] = [];
    for await (const x of prefetch(numbers(10, log))) if (x === 1) break;
    assert.equal(log.at(-1), 'closed');
    async function* failing() {
      yield 1;
      throw new Error('bad row');
    }
    await assert.rejects(async () => { for await (const _ of prefetch(failing())) await new Promise((r) => setTimeout(r, 2)); }, /bad row/);
  });
});
