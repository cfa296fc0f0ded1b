import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createKernels } from '../src/engine/backend.js';
import type { Activation, Kernels } from '../src/engine/kernels.js';
import { referenceKernels as ref } from '../src/engine/reference.js';
import { createNativeKernels, nativeStatus } from '../src/engine/native.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWasmKernels, createWasmKernelsSync, instantiate, wasmVariant, type WasmKernels } from '../src/engine/wasm.js';
import { nativeTestOptions, packageRoot, seededRandom } from './helpers.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers



type Rng = () => number;

/**
 * A buffer of n random values in [-1, 1) from `kernels`; with `offset` > 0 it is a sub-view starting that
 * many elements into a larger allocation, so kernels also see byte offsets that are not 16-byte aligned.
 */
function randomF32(kernels: Kernels, n: number, rng: Rng, offset = 0): Float32Array {
  const view = kernels.allocF32(n + offset + 3).subarray(offset, offset + n);
  for (let i = 0; i < n; i++) view[i] = rng() * 2 - 1;
  return view;
}

/** Random id bags in CSR form (some empty), with weights when asked (one bag's weights sum to 0). */
function randomBags(n: number, tableRows: number, weighted: boolean, rng: () => number) {
  const offsets = new Int32Array(n + 1);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = i % 4 === 3 ? 0 : 1 + Math.floor(rng() * 4);
    for (let j = 0; j < len; j++) ids.push(Math.floor(rng() * tableRows));
    offsets[i + 1] = ids.length;
  }
  const weights = weighted ? Float32Array.from(ids, () => 0.25 + rng()) : null;
  if (weights && n > 1 && offsets[2] - offsets[1] === 2) { weights[offsets[1]] = 0.5; weights[offsets[1] + 1] = -0.5; }
  return { ids: Int32Array.from(ids), offsets, weights };
}

function copyI32(kernels: Kernels, x: Int32Array): Int32Array {
  const y = kernels.allocI32(x.length);
  y.set(x);
  return y;
}

/** The same values in a buffer of another backend. */
function copyTo(kernels: Kernels, x: Float32Array): Float32Array {
  const y = kernels.allocF32(x.length);
  y.set(x);
  return y;
}

/** Asserts |actual − expected| ≤ rtol·scale + atol element-wise; scale defaults to |expected|. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, label: string,
  scale: ArrayLike<number> = Array.from(expected, Math.abs)): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= rtol * Math.abs(scale[i]) + atol)) {
      assert.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]} (error ${error}, scale ${scale[i]})`);
    }
  }
}

/** C = A(m×k)·B(k×n) in float64, from scratch. */
function naiveMatmul(m: number, n: number, k: number, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}

function transpose(rows: number, cols: number, x: ArrayLike<number>): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

type GemmShape = 'gemm' | 'gemmTN' | 'gemmNT';

/** Element counts of A, B and C for a shape with the interface's (m, n, k). */
function gemmSizes(shape: GemmShape, m: number, n: number, k: number): [number, number, number] {
  if (shape === 'gemm') return [m * k, k * n, m * n];
  if (shape === 'gemmTN') return [m * k, m * n, k * n];
  return [m * n, k * n, m * k];
}

const abs = (x: Float32Array) => Float32Array.from(x, Math.abs);

// ---------------------------------------------------------------------------------------------------------
// The reference itself

describe('reference kernels', () => {
  it('gemm matches a hand-computed product', () => {
    const a = Float32Array.of(1, 2, 3, 4, 5, 6); // 2×3
    const b = Float32Array.of(7, 8, 9, 10, 11, 12); // 3×2
    const c = Float32Array.of(100, 100, 100, 100);
    ref.gemm(2, 2, 3, a, b, c, false);
    assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
    ref.gemm(2, 2, 3, a, b, c, true);
    assert.deepEqual(Array.from(c), [116, 128, 278, 308]);
  });

  it('gemmTN and gemmNT match hand-computed transposed products', () => {
    // A(3×2)ᵀ·B(3×2): columns of A against columns of B.
    const a = Float32Array.of(1, 2, 3, 4, 5, 6);
    const b = Float32Array.of(1, 0, 0, 1, 1, 1);
    const c = new Float32Array(4);
    ref.gemmTN(3, 2, 2, a, b, c, false);
    assert.deepEqual(Array.from(c), [6, 8, 8, 10]);
    // A(2×3)·B(2×3)ᵀ: rows of A against rows of B.
    const d = new Float32Array(4);
    ref.gemmNT(2, 3, 2, Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 1, 0, 1, 0), d, false);
    assert.deepEqual(Array.from(d), [4, 2, 10, 5]);
  });

  it('the three gemm shapes match a float64 matmul of explicit transposes', () => {
    const rng = seededRandom(1);
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [8, 1, 13], [17, 9, 4]]) {
      const a = randomF32(ref, m * k, rng);
      const b = randomF32(ref, k * n, rng);
      const c = ref.allocF32(m * n);
      ref.gemm(m, n, k, a, b, c, false);
      assertClose(c, naiveMatmul(m, n, k, a, b), 1e-6, 1e-7, `gemm ${m}×${n}×${k}`);

      const x = randomF32(ref, m * k, rng);
      const dy = randomF32(ref, m * n, rng);
      const dw = ref.allocF32(k * n);
      ref.gemmTN(m, n, k, x, dy, dw, false);
      assertClose(dw, naiveMatmul(k, n, m, transpose(m, k, x), dy), 1e-6, 1e-7, `gemmTN ${m}×${n}×${k}`);

      const w = randomF32(ref, k * n, rng);
      const dx = ref.allocF32(m * k);
      ref.gemmNT(m, n, k, dy, w, dx, false);
      assertClose(dx, naiveMatmul(m, k, n, dy, transpose(k, n, w)), 1e-6, 1e-7, `gemmNT ${m}×${n}×${k}`);
    }
  });

  it('biasActForward applies bias and each activation', () => {
    const x = Float32Array.of(1, -2, 0.5, -1);
    const bias = Float32Array.of(0.5, 1);
    const alpha = Float32Array.of(0.1, 0.2);
    const out = new Float32Array(4);
    ref.biasActForward(2, 2, x, bias, 'none', null, out);
    assert.deepEqual(Array.from(out), [1.5, -1, 1, 0]);
    ref.biasActForward(2, 2, x, bias, 'relu', null, out);
    assert.deepEqual(Array.from(out), [1.5, 0, 1, 0]);
    ref.biasActForward(2, 2, x, bias, 'prelu', alpha, out);
    assertClose(out, [1.5, -0.2, 1, 0], 1e-7, 0, 'prelu');
    assert.deepEqual(Array.from(x), [1, -2, 0.5, -1], 'x is left untouched');
  });

  it('biasActBackward gives dPre, and accumulates dBias and dAlpha', () => {
    const pre = Float32Array.of(2, -1, 0, 3);
    const dOut = Float32Array.of(1, 2, 3, 4);
    const dPre = new Float32Array(4);
    const dBias = Float32Array.of(10, 20);
    ref.biasActBackward(2, 2, pre, dOut, 'relu', null, dPre, dBias, null);
    assert.deepEqual(Array.from(dPre), [1, 0, 0, 4]);
    assert.deepEqual(Array.from(dBias), [11, 24]);

    const dAlpha = Float32Array.of(1, 1);
    dBias.fill(0);
    ref.biasActBackward(2, 2, pre, dOut, 'prelu', Float32Array.of(0.5, 0.25), dPre, dBias, dAlpha);
    assert.deepEqual(Array.from(dPre), [1, 0.5, 1.5, 4]);
    assert.deepEqual(Array.from(dBias), [2.5, 4.5]);
    assert.deepEqual(Array.from(dAlpha), [1, -1]); // 1 + 0, 1 + 2·(−1)

    ref.biasActBackward(2, 2, pre, dOut, 'none', null, dOut, dBias.fill(0), null);
    assert.deepEqual(Array.from(dOut), [1, 2, 3, 4], 'dPre may alias dOut');
    assert.deepEqual(Array.from(dBias), [4, 6]);
  });

  it('sumSquares and axpy', () => {
    assert.equal(ref.sumSquares(3, Float32Array.of(1, 2, 3, 100)), 14);
    const y = Float32Array.of(1, 1, 1);
    ref.axpy(3, 2, Float32Array.of(1, 2, 3), y);
    assert.deepEqual(Array.from(y), [3, 5, 7]);
  });

  it('adam takes one bias-corrected step by the formula', () => {
    const param = Float32Array.of(1, -1);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    ref.adam(2, param, Float32Array.of(0.5, 0.5), m, v, 0.1, 0.9, 0.999, 1e-8, 0.2);
    // g = 0.5 + 0.2·param = [0.7, 0.3]; m = 0.1·g; v = 0.001·g²; step = 0.1·m/(√v + eps) ≈ 0.1·√10·sign(g).
    assertClose(m, [0.07, 0.03], 1e-6, 0, 'm');
    assertClose(v, [0.00049, 0.00009], 1e-6, 0, 'v');
    const step = 0.1 * Math.sqrt(10);
    assertClose(param, [1 - step, -1 - step], 1e-6, 0, 'param');
  });

  it('lazyAdamRows equals adam on the listed rows only', () => {
    const dim = 3;
    const rng = seededRandom(2);
    const table = randomF32(ref, 4 * dim, rng);
    const m = ref.allocF32(4 * dim);
    const v = ref.allocF32(4 * dim);
    const grads = randomF32(ref, 2 * dim, rng);
    const expected = Float32Array.from(table);
    const em = new Float32Array(2 * dim);
    const ev = new Float32Array(2 * dim);
    const rows = Int32Array.of(3, 1);
    for (let j = 0; j < 2; j++) {
      const row = expected.subarray(rows[j] * dim, (rows[j] + 1) * dim);
      ref.adam(dim, row, grads.subarray(j * dim), em.subarray(j * dim), ev.subarray(j * dim), 0.01, 0.9, 0.999, 1e-8, 0.1);
    }
    ref.lazyAdamRows(dim, 2, rows, grads, table, m, v, 0.01, 0.9, 0.999, 1e-8, 0.1);
    assert.deepEqual(Array.from(table), Array.from(expected));
    assert.deepEqual(Array.from(m.subarray(3 * dim)), Array.from(em.subarray(0, dim)));
    assert.deepEqual(Array.from(m.subarray(0, dim)), [0, 0, 0], 'untouched row');
  });

  it('adagradRows follows the formula', () => {
    const table = Float32Array.of(1, 2, 3, 4);
    const acc = Float32Array.of(0, 0, 1, 1);
    ref.adagradRows(2, 1, Int32Array.of(1), Float32Array.of(1, -2), table, acc, 0.5, 0, 0);
    // acc = 1 + g²; param −= 0.5·g/√acc.
    assertClose(table, [1, 2, 3 - 0.5 / Math.sqrt(2), 4 + 1 / Math.sqrt(5)], 1e-6, 0, 'table');
    assertClose(acc, [0, 0, 2, 5], 0, 0, 'acc');
  });

  it('embeddingPool: weighted sum and mean of the bag rows, zeros for an empty bag', () => {
    // table rows: r0 = (1, 2), r1 = (10, 20), r2 = (100, 200); bags {r1·2, r2·0.5}, {}, {r0, r0}
    const table = Float32Array.of(1, 2, 10, 20, 100, 200);
    const ids = Int32Array.of(1, 2, 0, 0), offsets = Int32Array.of(0, 2, 2, 4), weights = Float32Array.of(2, 0.5, 1, 1);
    const out = new Float32Array(3 * 3).fill(7);
    ref.embeddingPool(2, 3, 3, ids, offsets, weights, table, out, 3, 1, false);
    assert.deepEqual(Array.from(out), [7, 70, 140, 7, 0, 0, 7, 2, 4]);
    ref.embeddingPool(2, 3, 3, ids, offsets, weights, table, out, 3, 1, true);
    assert.deepEqual(Array.from(out), [7, 28, 56, 7, 0, 0, 7, 1, 2]);
    // backward of the mean: row 1 gets 2/2.5·dOut, row 2 0.5/2.5·dOut, row 0 twice ½·dOut of bag 2
    const dOut = Float32Array.of(0, 1, 1, 0, 5, 5, 0, 2, 4);
    const slotOf = new Int32Array(3).fill(-1), rows = new Int32Array(3), grads = new Float32Array(6);
    const count = ref.embeddingPoolBackward(2, 3, 3, ids, offsets, weights, dOut, 3, 1, true, slotOf, rows, grads, 0);
    assert.equal(count, 3);
    assert.deepEqual(Array.from(rows), [1, 2, 0]);
    assertClose(grads, [0.8, 0.8, 0.2, 0.2, 2, 4], 1e-6, 0, 'mean backward');
  });

  it('rejects short buffers, bad row ids and PReLU without alpha', () => {
    const x = new Float32Array(4);
    assert.throws(() => ref.gemm(2, 2, 2, x, x, new Float32Array(3), false), RangeError);
    assert.throws(() => ref.gemm(2, 2, 1.5, x, x, x, false), RangeError);
    assert.throws(() => ref.biasActForward(2, 2, x, x, 'prelu', null, x), TypeError);
    assert.throws(() => ref.adagradRows(2, 1, Int32Array.of(2), x, x, x, 0.1, 0, 0), RangeError);
    assert.throws(() => ref.lazyAdamRows(2, 1, Int32Array.of(-1), x, x, x, x, 0.1, 0.9, 0.999, 0, 0), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Every backend against the reference

const GEMM_SHAPES: Array<[m: number, n: number, k: number]> = [
  [1, 1, 1], [1, 7, 1], [2, 3, 5], [4, 8, 4], [5, 9, 3], [7, 16, 13], [13, 1, 80], [33, 2, 17], [9, 19, 1],
  [64, 200, 306], [67, 80, 200], [130, 1, 80], [300, 37, 45], [3, 4, 0], [0, 5, 3],
];

function backendSuite(name: string, load: () => Promise<Kernels>, options: { skip?: string } = {}): void {
  describe(`${name} kernels against the reference`, options, () => {
    let backend!: Kernels;
    before(async () => {
      backend = await load();
    });

    for (const shape of ['gemm', 'gemmTN', 'gemmNT'] as const) {
      it(`${shape} on odd, tiny and model shapes, sub-views, accumulate on and off`, () => {
        const rng = seededRandom(10);
        for (const [m, n, k] of GEMM_SHAPES) {
          const [aSize, bSize, cSize] = gemmSizes(shape, m, n, k);
          for (const accumulate of [false, true]) {
            const offset = (m + n + k) % 4;
            const a = randomF32(backend, aSize, rng, offset);
            const b = randomF32(backend, bSize, rng, 3 - offset);
            const c = randomF32(backend, cSize, rng, 1);
            const initialC = Float32Array.from(c);
            const expected = Float32Array.from(c);
            ref[shape](m, n, k, a, b, expected, accumulate);
            // Error bound: proportional to Σ|a||b| (+|c| when accumulating).
            const scale = accumulate ? abs(initialC) : new Float32Array(cSize);
            ref[shape](m, n, k, abs(a), abs(b), scale, true);
            backend[shape](m, n, k, a, b, c, accumulate);
            assertClose(c, expected, 1e-5, 1e-30, `${shape} m=${m} n=${n} k=${k} accumulate=${accumulate}`, scale);
          }
        }
      });
    }

    it('gemm leaves the elements around C untouched', () => {
      const rng = seededRandom(11);
      const [m, n, k] = [5, 7, 9];
      const whole = randomF32(backend, m * n + 8, rng);
      const copy = Float32Array.from(whole);
      backend.gemm(m, n, k, randomF32(backend, m * k, rng), randomF32(backend, k * n, rng), whole.subarray(4, 4 + m * n), false);
      assert.deepEqual(Array.from(whole.subarray(0, 4)), Array.from(copy.subarray(0, 4)));
      assert.deepEqual(Array.from(whole.subarray(4 + m * n)), Array.from(copy.subarray(4 + m * n)));
    });

    const ACTIVATIONS: Activation[] = ['none', 'relu', 'prelu'];

    /** Pre-activations with exact zeros of both signs, where the activations branch. */
    function preActivations(n: number, rng: Rng, offset: number): Float32Array {
      const x = randomF32(backend, n, rng, offset);
      for (let i = 0; i < n; i += 5) x[i] = i % 2 === 0 ? 0 : -0;
      return x;
    }

    for (const act of ACTIVATIONS) {
      it(`biasActForward and biasActBackward with ${act}`, () => {
        const rng = seededRandom(20);
        for (const [m, n] of [[1, 1], [3, 3], [5, 18], [4, 33], [64, 200], [17, 80], [9, 1], [0, 4]]) {
          const offset = n % 3;
          const x = preActivations(m * n, rng, offset);
          const bias = randomF32(backend, n, rng, 1);
          for (let j = 0; j < n; j += 3) bias[j] = 0;
          const alpha = act === 'prelu' ? randomF32(backend, n, rng, 2) : null;
          const xCopy = Float32Array.from(x);
          const out = backend.allocF32(m * n);
          const expectedOut = new Float32Array(m * n);
          ref.biasActForward(m, n, x, bias, act, alpha, expectedOut);
          backend.biasActForward(m, n, x, bias, act, alpha, out);
          assertClose(out, expectedOut, 1e-6, 0, `forward ${act} ${m}×${n}`);
          assert.deepEqual(Array.from(x), Array.from(xCopy), 'x untouched');

          const pre = preActivations(m * n, rng, offset);
          const dOut = randomF32(backend, m * n, rng, 2);
          const dBias = randomF32(backend, n, rng);
          const dAlpha = act === 'prelu' ? randomF32(backend, n, rng, 3) : null;
          const expectedDPre = new Float32Array(m * n);
          const expectedDBias = Float32Array.from(dBias);
          const expectedDAlpha = dAlpha && Float32Array.from(dAlpha);
          const columnScale = Float32Array.from(dBias, Math.abs);
          for (let i = 0; i < m * n; i++) columnScale[i % n] += Math.abs(dOut[i]);
          ref.biasActBackward(m, n, pre, dOut, act, alpha, expectedDPre, expectedDBias, expectedDAlpha);
          // dPre aliases dOut here, as layers are allowed to do.
          backend.biasActBackward(m, n, pre, dOut, act, alpha, dOut, dBias, dAlpha);
          assertClose(dOut, expectedDPre, 1e-6, 0, `backward dPre ${act} ${m}×${n}`);
          assertClose(dBias, expectedDBias, 1e-5, 1e-30, `backward dBias ${act} ${m}×${n}`, columnScale);
          if (dAlpha !== null && expectedDAlpha !== null) {
            assertClose(dAlpha, expectedDAlpha, 1e-5, 1e-30, `backward dAlpha ${m}×${n}`, columnScale);
          }
        }
      });
    }

    it('biasActBackward with PReLU and no dAlpha leaves alpha gradients alone', () => {
      const rng = seededRandom(21);
      const [m, n] = [3, 6];
      const dBias = backend.allocF32(n);
      backend.biasActBackward(m, n, randomF32(backend, m * n, rng), randomF32(backend, m * n, rng), 'prelu', randomF32(backend, n, rng),
        backend.allocF32(m * n), dBias, null);
      assert.ok(dBias.some((g) => g !== 0));
    });

    it('embeddingPool and its sparse backward: sum and mean, weights, empty bags, strides; accumulateRows by residue', () => {
      const rng = seededRandom(50);
      for (const [dim, tableRows, n, weighted, mean] of [[18, 40, 9, false, false], [3, 7, 12, true, true], [5, 3, 6, false, true], [8, 50, 1, true, false]] as const) {
        const bags = randomBags(n, tableRows, weighted, rng);
        const table = randomF32(backend, tableRows * dim, rng, 1);
        const stride = dim + 3, col = 2;
        const ids = copyI32(backend, bags.ids), offsets = copyI32(backend, bags.offsets);
        const weights = bags.weights && copyTo(backend, bags.weights);
        const out = randomF32(backend, n * stride, rng), expected = Float32Array.from(out);
        ref.embeddingPool(dim, tableRows, n, bags.ids, bags.offsets, bags.weights, table, expected, stride, col, mean);
        backend.embeddingPool(dim, tableRows, n, ids, offsets, weights, table, out, stride, col, mean);
        assertClose(out, expected, 1e-6, 1e-7, `pool dim ${dim} n ${n}`);

        const dOut = randomF32(backend, n * stride, rng);
        const grad = (k: Kernels) => ({ slotOf: k.allocI32(tableRows).fill(-1), rows: k.allocI32(tableRows), grads: k.allocF32(tableRows * dim) });
        const want = grad(ref), got = grad(backend);
        const wantCount = ref.embeddingPoolBackward(dim, tableRows, n, bags.ids, bags.offsets, bags.weights, dOut, stride, col, mean, want.slotOf, want.rows, want.grads, 0);
        const gotCount = backend.embeddingPoolBackward(dim, tableRows, n, ids, offsets, weights, dOut, stride, col, mean, got.slotOf, got.rows, got.grads, 0);
        assert.equal(gotCount, wantCount);
        assert.deepEqual(got.rows.subarray(0, gotCount), want.rows.subarray(0, wantCount));
        assertClose(got.grads.subarray(0, gotCount * dim), want.grads.subarray(0, wantCount * dim), 1e-6, 1e-7, `backward dim ${dim}`);
        assert.equal(new Set(got.rows.subarray(0, gotCount)).size, gotCount, 'rows are distinct');

        // the rows of residue 1 mod 2, added into a gradient that already holds some rows
        const into = grad(backend), intoRef = grad(ref);
        const start = ref.embeddingPoolBackward(dim, tableRows, n, bags.ids, bags.offsets, bags.weights, dOut, stride, col, mean, intoRef.slotOf, intoRef.rows, intoRef.grads, 0);
        backend.embeddingPoolBackward(dim, tableRows, n, ids, offsets, weights, dOut, stride, col, mean, into.slotOf, into.rows, into.grads, 0);
        const wantMerged = ref.accumulateRows(dim, tableRows, wantCount, want.rows, want.grads, 2, 1, intoRef.slotOf, intoRef.rows, intoRef.grads, start);
        const gotMerged = backend.accumulateRows(dim, tableRows, gotCount, got.rows, got.grads, 2, 1, into.slotOf, into.rows, into.grads, start);
        assert.equal(gotMerged, wantMerged);
        assertClose(into.grads.subarray(0, gotMerged * dim), intoRef.grads.subarray(0, wantMerged * dim), 1e-6, 1e-7, 'accumulateRows');
      }
    });

    it('embedding kernels reject ids outside the table and offsets out of order', () => {
      const table = backend.allocF32(4 * 2), out = backend.allocF32(2 * 2);
      const offsets = copyI32(backend, Int32Array.of(0, 1, 2));
      assert.throws(() => backend.embeddingPool(2, 4, 2, copyI32(backend, Int32Array.of(1, 4)), offsets, null, table, out, 2, 0, false), /bag 1/);
      assert.throws(() => backend.embeddingPool(2, 4, 2, copyI32(backend, Int32Array.of(-1, 0)), offsets, null, table, out, 2, 0, false), /bag 0/);
      assert.throws(() => backend.embeddingPool(2, 4, 2, copyI32(backend, Int32Array.of(1, 1)), copyI32(backend, Int32Array.of(0, 2, 1)), null, table, out, 2, 0, false), /bag 1/);
      const slotOf = backend.allocI32(4).fill(-1);
      assert.throws(() => backend.embeddingPoolBackward(2, 4, 2, copyI32(backend, Int32Array.of(0, 9)), offsets, null, out, 2, 0, false,
        slotOf, backend.allocI32(4), backend.allocF32(8), 0), /bag 1/);
      assert.throws(() => backend.accumulateRows(2, 4, 1, copyI32(backend, Int32Array.of(7)), backend.allocF32(2), 1, 0,
        slotOf, backend.allocI32(4), backend.allocF32(8), 0), /row id 7/);
      assert.throws(() => backend.accumulateRows(2, 4, 0, backend.allocI32(1), backend.allocF32(2), 0, 0, slotOf, backend.allocI32(4), backend.allocF32(8), 0), RangeError);
    });

    it('sumSquares and axpy', () => {
      const rng = seededRandom(30);
      for (const n of [0, 1, 3, 4, 18, 1001]) {
        const x = randomF32(backend, n, rng, n % 4);
        const expected = ref.sumSquares(n, x);
        assert.ok(Math.abs(backend.sumSquares(n, x) - expected) <= 1e-12 * expected, `sumSquares n=${n}`);
        const y = randomF32(backend, n, rng, 1);
        const expectedY = Float32Array.from(y);
        ref.axpy(n, -0.75, x, expectedY);
        backend.axpy(n, -0.75, x, y);
        assertClose(y, expectedY, 1e-6, 1e-7, `axpy n=${n}`);
      }
    });

    it('adam over several steps, with and without l2', () => {
      const rng = seededRandom(40);
      for (const [n, l2] of [[1, 0], [18, 0.01], [37, 0], [1000, 1e-4]]) {
        const param = randomF32(backend, n, rng, n % 4);
        const m = backend.allocF32(n);
        const v = backend.allocF32(n);
        const [eParam, eM, eV] = [param, m, v].map((x) => Float32Array.from(x));
        for (let t = 1; t <= 3; t++) {
          const grad = randomF32(backend, n, rng, 1);
          const lrT = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
          ref.adam(n, eParam, grad, eM, eV, lrT, 0.9, 0.999, 1e-8, l2);
          backend.adam(n, param, grad, m, v, lrT, 0.9, 0.999, 1e-8, l2);
        }
        assertClose(param, eParam, 1e-5, 1e-7, `adam param n=${n}`);
        // m = β1·m + (1−β1)·g may cancel: its error is bounded by its terms (≲ 0.1 here), not by m.
        assertClose(m, eM, 1e-5, 1e-7, `adam m n=${n}`);
        assertClose(v, eV, 1e-5, 1e-12, `adam v n=${n}`);
      }
    });

    /** count distinct row ids out of `tableRows`, in random order. */
    function distinctRows(count: number, tableRows: number, rng: Rng): Int32Array {
      const ids = Array.from({ length: tableRows }, (_, i) => i);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [ids[i], ids[j]] = [ids[j], ids[i]];
      }
      const rows = backend.allocI32(count);
      rows.set(ids.slice(0, count));
      return rows;
    }

    it('lazyAdamRows and adagradRows touch exactly the listed rows', () => {
      const rng = seededRandom(50);
      for (const [dim, count, tableRows] of [[18, 40, 100], [1, 5, 9], [5, 7, 7], [4, 0, 3], [33, 3, 10]]) {
        const rows = distinctRows(count, tableRows, rng);
        const grads = randomF32(backend, count * dim, rng, 1);
        const table = randomF32(backend, tableRows * dim, rng, 2);
        const m = randomF32(backend, tableRows * dim, rng).map((x) => x * 0.1);
        const v = randomF32(backend, tableRows * dim, rng).map((x) => x * x * 0.01);
        const [kTable, kM, kV] = [table, m, v].map((x) => copyTo(backend, x));
        ref.lazyAdamRows(dim, count, rows, grads, table, m, v, 0.003, 0.9, 0.999, 1e-8, 0.01);
        backend.lazyAdamRows(dim, count, rows, grads, kTable, kM, kV, 0.003, 0.9, 0.999, 1e-8, 0.01);
        assertClose(kTable, table, 1e-5, 1e-7, `lazyAdamRows table dim=${dim}`);
        assertClose(kM, m, 1e-5, 1e-7, `lazyAdamRows m dim=${dim}`);
        assertClose(kV, v, 1e-5, 1e-12, `lazyAdamRows v dim=${dim}`);

        const acc = randomF32(backend, tableRows * dim, rng).map((x) => x * x);
        const [kTable2, kAcc] = [table, acc].map((x) => copyTo(backend, x));
        ref.adagradRows(dim, count, rows, grads, table, acc, 0.05, 1e-6, 0.001);
        backend.adagradRows(dim, count, rows, grads, kTable2, kAcc, 0.05, 1e-6, 0.001);
        assertClose(kTable2, table, 1e-5, 1e-7, `adagradRows table dim=${dim}`);
        assertClose(kAcc, acc, 1e-5, 1e-9, `adagradRows acc dim=${dim}`);
      }
    });

    it('rejects bad shapes and row ids before running', () => {
      const x = backend.allocF32(4);
      assert.throws(() => backend.gemmNT(2, 2, 2, x, x, backend.allocF32(3), false), RangeError);
      assert.throws(() => backend.biasActBackward(2, 2, x, x, 'prelu', null, x, x, null), TypeError);
      assert.throws(() => backend.adagradRows(2, 1, backend.allocI32(1).fill(2), x, x, x, 0.1, 0, 0), RangeError);
    });
  });
}

backendSuite(`wasm (${wasmVariant()} build)`, () => createWasmKernels());
// the other build too: the plain one is what runs where relaxed SIMD is not available
backendSuite('wasm (plain build)', async () => instantiate(new WebAssembly.Module(readFileSync(join(packageRoot(), 'build', 'kernels.wasm')))));
backendSuite('native', () => createNativeKernels(), nativeTestOptions());

describe('allocation', () => {
  for (const [name, load] of [['reference', async () => ref], ['wasm', () => createWasmKernels()]] as const) {
    it(`${name} allocates zeroed, 16-byte aligned, shared buffers`, async () => {
      const kernels = await load();
      for (const n of [0, 1, 3, 5, 1000]) {
        const f = kernels.allocF32(n);
        const i = kernels.allocI32(n);
        assert.equal(f.length, n);
        assert.equal(i.length, n);
        assert.equal(f.byteOffset % 16, 0);
        assert.equal(i.byteOffset % 16, 0);
        assert.ok(f.buffer instanceof SharedArrayBuffer);
        assert.ok(f.every((x) => x === 0) && i.every((x) => x === 0));
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// The WASM backend's memory

describe('wasm memory', () => {
  let kernels!: WasmKernels;
  before(async () => {
    kernels = await createWasmKernels();
  });

  it('rejects buffers it does not own', () => {
    const foreign = new Float32Array(16);
    const own = kernels.allocF32(16);
    assert.throws(() => kernels.gemm(4, 4, 1, foreign, own, own, false), /not a buffer of this WASM backend/);
    assert.throws(() => kernels.axpy(16, 1, own, createWasmKernelsSync().allocF32(16)), /not a buffer of this WASM backend/);
  });

  it('keeps earlier buffers valid after the memory grows', () => {
    const early = kernels.allocF32(8).fill(3);
    const pagesBefore = kernels.memory.buffer.byteLength / 65536;
    const big = kernels.allocF32(2_000_000);
    assert.ok(kernels.memory.buffer.byteLength / 65536 > pagesBefore);
    assert.ok(big.every((x) => x === 0));
    kernels.axpy(8, 2, early, early);
    assert.deepEqual(Array.from(early), Array(8).fill(9));
  });

  it('shares buffers with a second backend attached to the same memory (as a worker would)', async () => {
    const other = await createWasmKernels({ memory: kernels.memory });
    const x = kernels.allocF32(4).fill(2);
    const y = other.allocF32(4);
    assert.notEqual(y.byteOffset, x.byteOffset);
    // structuredClone gives a new buffer object over the same memory, like postMessage to a worker.
    other.axpy(4, 1, structuredClone(x), y);
    assert.deepEqual(Array.from(y), [2, 2, 2, 2]);
    kernels.axpy(4, 1, y, x);
    assert.deepEqual(Array.from(x), [4, 4, 4, 4]);
  });
});

describe('createKernels', () => {
  it('picks native for auto when it loads (else wasm), each on request, and rejects unknown names', async () => {
    assert.equal((await createKernels('auto')).name, nativeStatus().loaded ? 'native' : 'wasm');
    assert.equal((await createKernels('wasm')).name, 'wasm');
    assert.equal(await createKernels('reference'), ref);
    await assert.rejects(createKernels('gpu' as 'auto'), TypeError);
  });

  it('attaches wasm to a given memory and refuses one for the reference kernels', async () => {
    const first = await createWasmKernels();
    const second = await createKernels('wasm', { memory: first.memory });
    const x = first.allocF32(2).fill(1);
    second.axpy(2, 2, x, x);
    assert.deepEqual(Array.from(x), [3, 3]);
    await assert.rejects(createKernels('reference', { memory: first.memory }), TypeError);
  });
});
