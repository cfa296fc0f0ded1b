/**
 * Argument checks shared by every kernel backend, one per kernel, so that a wrong shape or row id fails
 * loudly and the same way everywhere (in WASM an out-of-range write would silently corrupt a neighbouring
 * buffer). Buffers may be longer than needed (e.g. allocated for the largest batch).
 */

import type { Activation } from './kernels.js';

function dims(kernel: string, ...values: number[]): void {
  for (const d of values) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${kernel}: dimension ${d} is not a non-negative integer`);
  }
}

function length(kernel: string, name: string, buffer: ArrayLike<number>, needed: number): void {
  if (buffer.length < needed) {
    throw new RangeError(`${kernel}: ${name} has ${buffer.length} elements, needs at least ${needed}`);
  }
}

function gemmShapes(kernel: string, m: number, n: number, k: number,
  a: Float32Array, aSize: number, b: Float32Array, bSize: number, c: Float32Array, cSize: number): void {
  dims(kernel, m, n, k);
  length(kernel, 'a', a, aSize);
  length(kernel, 'b', b, bSize);
  length(kernel, 'c', c, cSize);
}

export function checkGemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  gemmShapes('gemm', m, n, k, a, m * k, b, k * n, c, m * n);
}

export function checkGemmTN(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  gemmShapes('gemmTN', m, n, k, a, m * k, b, m * n, c, k * n);
}

export function checkGemmNT(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  gemmShapes('gemmNT', m, n, k, a, m * n, b, k * n, c, m * k);
}

function activation(kernel: string, n: number, act: Activation, alpha: Float32Array | null): void {
  if (act === 'prelu') {
    if (alpha === null) throw new TypeError(`${kernel}: PReLU needs alpha`);
    length(kernel, 'alpha', alpha, n);
  } else if (act !== 'none' && act !== 'relu') {
    throw new TypeError(`${kernel}: unknown activation ${String(act)}`);
  }
}

export function checkBiasActForward(m: number, n: number, x: Float32Array, bias: Float32Array, act: Activation,
  alpha: Float32Array | null, out: Float32Array): void {
  const kernel = 'biasActForward';
  dims(kernel, m, n);
  activation(kernel, n, act, alpha);
  length(kernel, 'x', x, m * n);
  length(kernel, 'bias', bias, n);
  length(kernel, 'out', out, m * n);
}

export function checkBiasActBackward(m: number, n: number, pre: Float32Array, dOut: Float32Array, act: Activation,
  alpha: Float32Array | null, dPre: Float32Array, dBias: Float32Array, dAlpha: Float32Array | null): void {
  const kernel = 'biasActBackward';
  dims(kernel, m, n);
  activation(kernel, n, act, alpha);
  length(kernel, 'pre', pre, m * n);
  length(kernel, 'dOut', dOut, m * n);
  length(kernel, 'dPre', dPre, m * n);
  length(kernel, 'dBias', dBias, n);
  if (act === 'prelu' && dAlpha !== null) length(kernel, 'dAlpha', dAlpha, n);
}

/** For the element-wise kernels (sumSquares, axpy, adam): n and every buffer's length. */
export function checkElementwise(kernel: string, n: number, buffers: Record<string, Float32Array>): void {
  dims(kernel, n);
  for (const [name, buffer] of Object.entries(buffers)) length(kernel, name, buffer, n);
}

/** For the sparse row updates: grads hold `count` rows of `dim` and every row id indexes all the tables. */
export function checkRows(kernel: string, dim: number, count: number, rows: Int32Array, grads: Float32Array,
  tables: Record<string, Float32Array>): void {
  dims(kernel, dim, count);
  length(kernel, 'rows', rows, count);
  length(kernel, 'grads', grads, count * dim);
  let tableRows = Infinity;
  for (const table of Object.values(tables)) tableRows = Math.min(tableRows, Math.floor(table.length / Math.max(dim, 1)));
  for (let j = 0; j < count; j++) {
    const r = rows[j];
    if (r < 0 || r >= tableRows) throw new RangeError(`${kernel}: row id ${r} outside the table of ${tableRows} rows`);
  }
}

/** For embeddingPool and its backward (ids and offsets are checked by the kernels themselves, once). */
export function checkPool(kernel: string, dim: number, tableRows: number, n: number, ids: Int32Array, offsets: Int32Array,
  weights: Float32Array | null, table: Float32Array | null, out: Float32Array, stride: number, col: number): void {
  dims(kernel, dim, tableRows, n, stride, col);
  length(kernel, 'offsets', offsets, n + 1);
  if (weights) length(kernel, 'weights', weights, ids.length);
  if (table) length(kernel, 'table', table, tableRows * dim);
  if (col + dim > stride) throw new RangeError(`${kernel}: columns ${col}..${col + dim} exceed the row stride ${stride}`);
  if (n > 0) length(kernel, 'out', out, (n - 1) * stride + col + dim);
}

/**
 * For the sparse-gradient side of embeddingPoolBackward and accumulateRows: room for `adding` more rows
 * (never more than the table's rows: a row gets one slot).
 */
export function checkSparseRoom(kernel: string, dim: number, tableRows: number, slotOf: Int32Array, rows: Int32Array,
  grads: Float32Array, count: number, adding: number): void {
  dims(kernel, count, adding);
  if (count > tableRows) throw new RangeError(`${kernel}: ${count} gradient rows for a table of ${tableRows}`);
  const room = Math.min(count + adding, tableRows);
  length(kernel, 'slotOf', slotOf, tableRows);
  length(kernel, 'rows', rows, room);
  length(kernel, 'grads', grads, room * dim);
}

/** For the source of accumulateRows: `count` rows and their gradients (row ids are checked by the kernels). */
export function checkSparseSource(kernel: string, dim: number, count: number, rows: Int32Array, grads: Float32Array,
  modulus: number, residue: number): void {
  dims(kernel, dim, count, modulus, residue);
  if (modulus < 1 || residue >= modulus) throw new RangeError(`${kernel}: residue ${residue} modulo ${modulus} is not valid`);
  length(kernel, 'rows', rows, count);
  length(kernel, 'grads', grads, count * dim);
}

export function badBag(kernel: string, bag: number, tableRows: number): RangeError {
  return new RangeError(`${kernel}: bag ${bag} has offsets out of order or an id outside the table of ${tableRows} rows`);
}
