/**
 * Plain TypeScript kernels: the obviously-correct definition every faster backend is tested against.
 * Sums are accumulated in float64 (JS numbers) and rounded to float32 once, when stored.
 */

import {
  badBag, checkBiasActBackward, checkBiasActForward, checkElementwise, checkGemm, checkGemmNT, checkGemmTN, checkPool, checkRows,
  checkSparseRoom, checkSparseSource,
} from './kernel-args.js';
import type { Activation, Kernels } from './kernels.js';

/** Shared, so that reference buffers can cross worker threads like the WASM ones. */
function allocF32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

function allocI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

/** Writes (or adds) one row of float64 sums into C. */
function storeRow(c: Float32Array, start: number, sums: Float64Array, accumulate: boolean): void {
  for (let j = 0; j < sums.length; j++) c[start + j] = accumulate ? c[start + j] + sums[j] : sums[j];
}

function gemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void {
  checkGemm(m, n, k, a, b, c);
  const sums = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    sums.fill(0);
    // Row i of C = Σp A[i,p]·(row p of B): the same sums as the dot products, walked along rows.
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      const bRow = p * n;
      for (let j = 0; j < n; j++) sums[j] += aip * b[bRow + j];
    }
    storeRow(c, i * n, sums, accumulate);
  }
}

function gemmTN(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void {
  checkGemmTN(m, n, k, a, b, c);
  const sums = new Float64Array(n);
  for (let p = 0; p < k; p++) {
    sums.fill(0);
    // Row p of C = Σi A[i,p]·(row i of B).
    for (let i = 0; i < m; i++) {
      const aip = a[i * k + p];
      const bRow = i * n;
      for (let j = 0; j < n; j++) sums[j] += aip * b[bRow + j];
    }
    storeRow(c, p * n, sums, accumulate);
  }
}

function gemmNT(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void {
  checkGemmNT(m, n, k, a, b, c);
  const sums = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    // C[i,p] = row i of A · row p of B.
    const aRow = i * n;
    for (let p = 0; p < k; p++) {
      const bRow = p * n;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += a[aRow + j] * b[bRow + j];
      sums[p] = sum;
    }
    storeRow(c, i * k, sums, accumulate);
  }
}

function activate(pre: number, act: Activation, alpha: number): number {
  if (act === 'none' || pre > 0) return pre;
  return act === 'relu' ? 0 : alpha * pre;
}

/** d act(pre) / d pre; at pre = 0 the negative side's slope is used. */
function activationSlope(pre: number, act: Activation, alpha: number): number {
  if (act === 'none' || pre > 0) return 1;
  return act === 'relu' ? 0 : alpha;
}

function biasActForward(m: number, n: number, x: Float32Array, bias: Float32Array, act: Activation, alpha: Float32Array | null, out: Float32Array): void {
  checkBiasActForward(m, n, x, bias, act, alpha, out);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      out[i * n + j] = activate(x[i * n + j] + bias[j], act, alpha === null ? 0 : alpha[j]);
    }
  }
}

function biasActBackward(
  m: number, n: number, pre: Float32Array, dOut: Float32Array, act: Activation, alpha: Float32Array | null,
  dPre: Float32Array, dBias: Float32Array, dAlpha: Float32Array | null,
): void {
  checkBiasActBackward(m, n, pre, dOut, act, alpha, dPre, dBias, dAlpha);
  for (let j = 0; j < n; j++) {
    const slopeNegative = alpha === null ? 0 : alpha[j];
    let biasSum = 0;
    let alphaSum = 0;
    for (let i = 0; i < m; i++) {
      const x = pre[i * n + j];
      const d = dOut[i * n + j];
      const g = d * activationSlope(x, act, slopeNegative);
      dPre[i * n + j] = g;
      biasSum += g;
      alphaSum += d * Math.min(x, 0);
    }
    dBias[j] += biasSum;
    if (act === 'prelu' && dAlpha !== null) dAlpha[j] += alphaSum;
  }
}

function sumSquares(n: number, x: Float32Array): number {
  checkElementwise('sumSquares', n, { x });
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] * x[i];
  return sum;
}

function axpy(n: number, a: number, x: Float32Array, y: Float32Array): void {
  checkElementwise('axpy', n, { x, y });
  for (let i = 0; i < n; i++) y[i] += a * x[i];
}

/** One Adam step of parameter `pi` with gradient element `gi`. */
function adamAt(
  param: Float32Array, pi: number, grad: Float32Array, gi: number, m: Float32Array, v: Float32Array,
  lrT: number, beta1: number, beta2: number, eps: number, l2: number,
): void {
  const g = grad[gi] + l2 * param[pi];
  m[pi] = beta1 * m[pi] + (1 - beta1) * g;
  v[pi] = beta2 * v[pi] + (1 - beta2) * g * g;
  param[pi] -= (lrT * m[pi]) / (Math.sqrt(v[pi]) + eps);
}

function adam(n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
  lrT: number, beta1: number, beta2: number, eps: number, l2: number): void {
  checkElementwise('adam', n, { param, grad, m, v });
  for (let i = 0; i < n; i++) adamAt(param, i, grad, i, m, v, lrT, beta1, beta2, eps, l2);
}

function lazyAdamRows(dim: number, count: number, rows: Int32Array, grads: Float32Array, table: Float32Array,
  m: Float32Array, v: Float32Array, lrT: number, beta1: number, beta2: number, eps: number, l2: number): void {
  checkRows('lazyAdamRows', dim, count, rows, grads, { table, m, v });
  for (let j = 0; j < count; j++) {
    const row = rows[j] * dim;
    for (let d = 0; d < dim; d++) adamAt(table, row + d, grads, j * dim + d, m, v, lrT, beta1, beta2, eps, l2);
  }
}

function adagradRows(dim: number, count: number, rows: Int32Array, grads: Float32Array, table: Float32Array,
  acc: Float32Array, lr: number, eps: number, l2: number): void {
  checkRows('adagradRows', dim, count, rows, grads, { table, acc });
  for (let j = 0; j < count; j++) {
    const row = rows[j] * dim;
    for (let d = 0; d < dim; d++) {
      const g = grads[j * dim + d] + l2 * table[row + d];
      acc[row + d] += g * g;
      table[row + d] -= (lr * g) / (Math.sqrt(acc[row + d]) + eps);
    }
  }
}

/** Throws unless bag i's offsets lie in order within ids and its ids within the table. */
function checkBag(kernel: string, i: number, ids: Int32Array, offsets: Int32Array, tableRows: number): void {
  const lo = offsets[i], hi = offsets[i + 1];
  let ok = lo >= 0 && hi >= lo && hi <= ids.length;
  for (let p = lo; ok && p < hi; p++) ok = ids[p] >= 0 && ids[p] < tableRows;
  if (!ok) throw badBag(kernel, i, tableRows);
}

/** The gradient row of `row`, appended (zeroed) when new; `sparse.count` counts the rows. */
function slotFor(row: number, dim: number, slotOf: Int32Array, rows: Int32Array, grads: Float32Array, sparse: { count: number }): number {
  let s = slotOf[row];
  if (s < 0) {
    s = sparse.count++;
    slotOf[row] = s;
    rows[s] = row;
    grads.fill(0, s * dim, (s + 1) * dim);
  }
  return s * dim;
}

function embeddingPool(dim: number, tableRows: number, n: number, ids: Int32Array, offsets: Int32Array, weights: Float32Array | null,
  table: Float32Array, out: Float32Array, stride: number, col: number, mean: boolean): void {
  checkPool('embeddingPool', dim, tableRows, n, ids, offsets, weights, table, out, stride, col);
  for (let i = 0; i < n; i++) {
    checkBag('embeddingPool', i, ids, offsets, tableRows);
    const o = i * stride + col;
    const sums = new Float64Array(dim);
    let wsum = 0;
    for (let p = offsets[i]; p < offsets[i + 1]; p++) {
      const w = weights ? weights[p] : 1;
      wsum += w;
      for (let d = 0; d < dim; d++) sums[d] += w * table[ids[p] * dim + d];
    }
    const scale = mean && wsum !== 0 ? 1 / wsum : 1;
    for (let d = 0; d < dim; d++) out[o + d] = sums[d] * scale;
  }
}

function embeddingPoolBackward(dim: number, tableRows: number, n: number, ids: Int32Array, offsets: Int32Array, weights: Float32Array | null,
  dOut: Float32Array, stride: number, col: number, mean: boolean, slotOf: Int32Array, rows: Int32Array, grads: Float32Array, count: number): number {
  const kernel = 'embeddingPoolBackward';
  checkPool(kernel, dim, tableRows, n, ids, offsets, weights, null, dOut, stride, col);
  checkSparseRoom(kernel, dim, tableRows, slotOf, rows, grads, count, ids.length);
  const sparse = { count };
  for (let i = 0; i < n; i++) {
    checkBag(kernel, i, ids, offsets, tableRows);
    const lo = offsets[i], hi = offsets[i + 1];
    let wsum = 0;
    for (let p = lo; p < hi; p++) wsum += weights ? weights[p] : 1;
    if (hi === lo || (mean && wsum === 0)) continue;
    const scale = mean ? 1 / wsum : 1;
    for (let p = lo; p < hi; p++) {
      const w = (weights ? weights[p] : 1) * scale;
      const g = slotFor(ids[p], dim, slotOf, rows, grads, sparse);
      for (let d = 0; d < dim; d++) grads[g + d] += w * dOut[i * stride + col + d];
    }
  }
  return sparse.count;
}

function accumulateRows(dim: number, tableRows: number, count: number, rows: Int32Array, grads: Float32Array, modulus: number, residue: number,
  slotOf: Int32Array, outRows: Int32Array, outGrads: Float32Array, outCount: number): number {
  const kernel = 'accumulateRows';
  checkSparseSource(kernel, dim, count, rows, grads, modulus, residue);
  checkSparseRoom(kernel, dim, tableRows, slotOf, outRows, outGrads, outCount, count);
  const sparse = { count: outCount };
  for (let j = 0; j < count; j++) {
    const r = rows[j];
    if (r < 0 || r >= tableRows) throw new RangeError(`${kernel}: row id ${r} outside the table of ${tableRows} rows`);
    if (r % modulus !== residue) continue;
    const g = slotFor(r, dim, slotOf, outRows, outGrads, sparse);
    for (let d = 0; d < dim; d++) outGrads[g + d] += grads[j * dim + d];
  }
  return sparse.count;
}

export const referenceKernels: Kernels = {
  name: 'reference',
  allocF32,
  allocI32,
  gemm,
  gemmTN,
  gemmNT,
  biasActForward,
  biasActBackward,
  sumSquares,
  axpy,
  adam,
  lazyAdamRows,
  adagradRows,
  embeddingPool,
  embeddingPoolBackward,
  accumulateRows,
};
