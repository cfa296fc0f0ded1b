/**
 * The native backend beyond its kernels (those are in kernels.test.ts): its memory is the WASM backend's,
 * shared with backends attached to it (also in a worker thread); bad calls fail before reaching OpenBLAS,
 * and the addon checks again on its own; a model trains on it as on WASM.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { backendReport, createKernels } from '../src/engine/backend.js';
import type { Kernels } from '../src/engine/kernels.js';
import { createNativeKernels, nativeStatus, type NativeKernels } from '../src/engine/native.js';
import { createWasmKernels } from '../src/engine/wasm.js';
import { EsmmModel } from '../src/model/esmm.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { Rng } from '../src/util/rng.js';
import { nativeTestOptions } from './helpers.js';
import { tinyBatch, tinySpec } from './model-fixtures.js';

it('the native backend loads (required under ESMM_REQUIRE_NATIVE=1)', nativeTestOptions(), () => {
  const status = nativeStatus();
  assert.ok(status.loaded, status.loaded ? '' : status.reason);
});

describe('native backend', nativeTestOptions(), () => {
  let kernels!: NativeKernels;
  before(async () => {
    kernels = await createNativeKernels();
  });

  it('is what auto picks, and reports its OpenBLAS at one thread per call', async () => {
    assert.equal((await createKernels('auto')).name, 'native');
    const report = await backendReport();
    assert.equal(report.auto, 'native');
    const native = report.backends.find((b) => b.name === 'native')!;
    assert.equal(native.loaded, true);
    assert.match(native.openblas!.config, /OpenBLAS/);
    assert.equal(native.openblas!.threads, 1);
  });

  it('shares buffers with a native backend attached to its memory', async () => {
    const other = await createKernels('native', { memory: kernels.memory });
    assert.equal(other.name, 'native');
    const a = kernels.allocF32(4).fill(1);
    const b = other.allocF32(4).fill(2);
    const c = other.allocF32(4);
    // structuredClone gives views over a new buffer object of the same memory, as postMessage does.
    other.gemm(2, 2, 2, structuredClone(a), b, c, false);
    assert.deepEqual(Array.from(c), [4, 4, 4, 4]);
    kernels.gemmTN(2, 2, 2, a, c, b, true);
    assert.deepEqual(Array.from(b), [10, 10, 10, 10]);
  });

  it('runs gemm in two worker threads at once, attached to the same memory', async () => {
    const [m, n, k] = [256, 200, 306];
    const rng = new Rng(3);
    const random = (size: number) => {
      const x = kernels.allocF32(size);
      for (let i = 0; i < size; i++) x[i] = rng.uniform() - 0.5;
      return x;
    };
    const a = random(m * k);
    const b = random(k * n);
    const expected = kernels.allocF32(m * n);
    kernels.gemm(m, n, k, a, b, expected, false);
    // Each worker repeats the product into its own C, so OpenBLAS is called from both threads concurrently.
    const code = `
      const { parentPort, workerData: w } = require('node:worker_threads');
      import(w.url).then(async ({ createNativeKernels }) => {
        const kernels = await createNativeKernels({ memory: w.memory });
        for (let i = 0; i < 200; i++) kernels.gemm(w.m, w.n, w.k, w.a, w.b, w.c, false);
        parentPort.postMessage(kernels.name);
      });`;
    const url = new URL('../src/engine/native.js', import.meta.url).href;
    const outputs = [kernels.allocF32(m * n), kernels.allocF32(m * n)];
    const names = await Promise.all(outputs.map(async (c) => {
      const worker = new Worker(code, { eval: true, workerData: { url, memory: kernels.memory, m, n, k, a, b, c } });
      try {
        return await new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      } finally {
        await worker.terminate();
      }
    }));
    assert.deepEqual(names, ['native', 'native']);
    for (const c of outputs) {
      for (let i = 0; i < m * n; i++) assert.ok(Math.abs(c[i] - expected[i]) <= 1e-5, `element ${i}: ${c[i]} vs ${expected[i]}`);
    }
  });

  it('rejects bad shapes and foreign buffers before the native call', () => {
    const whole = kernels.allocF32(16).fill(7);
    const x = kernels.allocF32(4).fill(1);
    for (const shape of ['gemm', 'gemmTN', 'gemmNT'] as const) {
      assert.throws(() => kernels[shape](2, 2, 2, x, x, whole.subarray(0, 3), false), RangeError, `${shape}: short c`);
      assert.throws(() => kernels[shape](2, 2, 1.5, x, x, whole, false), RangeError, `${shape}: fractional k`);
      assert.throws(() => kernels[shape](-1, 2, 2, x, x, whole, false), RangeError, `${shape}: negative m`);
      assert.throws(() => kernels[shape](2, 2, 2, new Float32Array(4), x, whole, false), /not a buffer of this WASM backend/);
    }
    assert.deepEqual(Array.from(whole), Array(16).fill(7), 'nothing was written');
  });

  it('the addon itself refuses short or non-float32 arrays', () => {
    const status = nativeStatus();
    assert.ok(status.loaded);
    const addon = createRequire(import.meta.url)(status.path) as {
      gemm(m: number, n: number, k: number, a: unknown, b: unknown, c: unknown, accumulate: boolean): void;
    };
    const four = new Float32Array(4).fill(1);
    assert.throws(() => addon.gemm(2, 2, 2, four, four, new Float32Array(3), false), RangeError);
    assert.throws(() => addon.gemm(2, 2, 2, four, four, new Float64Array(4), false), TypeError);
    assert.throws(() => addon.gemm(2, 2, 0.5, four, four, four, false), RangeError);
    // Plain (non-shared) arrays work too: the addon reads any Float32Array in place.
    const c = new Float32Array(4);
    addon.gemm(2, 2, 2, four, four, c, false);
    assert.deepEqual(Array.from(c), [2, 2, 2, 2]);
  });

  it('trains a model to the same losses as the WASM backend', async () => {
    const spec = tinySpec({ embeddingDim: 8, hidden: [64, 32], activation: 'prelu' });
    const batchSize = 48;
    const run = (k: Kernels) => {
      const model = new EsmmModel(k, spec, batchSize);
      model.init(new Rng(5));
      const opt = new Optimizer(k, model.denseParams(), model.embeddingParams(), {
        learningRate: 0.01, embeddingOptimizer: 'adam', embeddingLearningRate: 0.02, l2Tower: 1e-4, l2Embedding: 1e-4,
      });
      const batch = tinyBatch(new Rng(9), batchSize);
      const losses: number[] = [];
      for (let step = 0; step < 15; step++) {
        losses.push(model.trainStep(batch, null).objective);
        opt.apply();
      }
      return losses;
    };
    const native = run(kernels);
    const wasm = run(await createWasmKernels());
    assert.ok(native.at(-1)! < native[0], `the loss goes down: ${native[0]} → ${native.at(-1)}`);
    native.forEach((loss, step) => {
      assert.ok(Math.abs(loss - wasm[step]) <= 1e-4 * Math.abs(wasm[step]), `step ${step}: native ${loss} vs wasm ${wasm[step]}`);
    });
  });
});
