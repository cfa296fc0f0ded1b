/**
 * The compute kernels every layer and optimizer goes through. All matrices are dense, row-major float32.
 *
 * Buffers are always obtained from the backend that runs the kernels (`allocF32` / `allocI32`): the WASM
 * backend hands out views of its own (shared) linear memory so its kernels can address them without a
 * copy, and the same views can later cross worker threads. Sub-views (`subarray`) of such buffers are
 * accepted everywhere.
 *
 * Every kernel has a plain TypeScript reference implementation (reference.ts) that the fast ones are
 * tested against.
 */

export type Activation = 'none' | 'relu' | 'prelu';

export interface Kernels {
  readonly name: 'reference' | 'wasm' | 'native';

  /** A zero-filled float32 buffer of n elements, 16-byte aligned, owned by this backend. */
  allocF32(n: number): Float32Array;
  /** A zero-filled int32 buffer of n elements, 16-byte aligned, owned by this backend. */
  allocI32(n: number): Int32Array;

  /** C(m×n) (+)= A(m×k) · B(k×n). Overwrites C unless `accumulate`. */
  gemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** C(k×n) (+)= Aᵀ · B with A(m×k), B(m×n): the weight gradient dW = Xᵀ·dY. */
  gemmTN(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** C(m×k) (+)= A · Bᵀ with A(m×n), B(k×n): the input gradient dX = dY·Wᵀ. */
  gemmNT(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;

  /**
   * out(m×n) = act(x + bias) per row; x is left untouched (it is the pre-activation the backward needs).
   * `alpha` (n) holds PReLU's per-unit negative slopes and is ignored for other activations.
   * x and out may be the same buffer only when act is 'none'.
   */
  biasActForward(m: number, n: number, x: Float32Array, bias: Float32Array, act: Activation, alpha: Float32Array | null, out: Float32Array): void;
  /**
   * Backward of biasActForward. From dOut and the pre-activation `pre` (= x + bias, i.e. recomputed by the
   * caller or kept), writes dPre(m×n) (may alias dOut), and ACCUMULATES dBias(n) += Σrows dPre and, for
   * PReLU, dAlpha(n) += Σrows dOut·min(pre, 0).
   */
  biasActBackward(
    m: number, n: number, pre: Float32Array, dOut: Float32Array, act: Activation, alpha: Float32Array | null,
    dPre: Float32Array, dBias: Float32Array, dAlpha: Float32Array | null,
  ): void;

  /** Σ x[i]² over n elements (accumulated in float64 where the backend can). */
  sumSquares(n: number, x: Float32Array): number;
  /** y[i] += a · x[i]. */
  axpy(n: number, a: number, x: Float32Array, y: Float32Array): void;

  /**
   * Dense Adam step over n parameters: g = grad + l2·param; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
   * param −= lrT · m / (√v + eps), where lrT = lr·√(1−β2^t)/(1−β1^t) is passed in already bias-corrected.
   */
  adam(n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    lrT: number, beta1: number, beta2: number, eps: number, l2: number): void;

  /**
   * Lazy (sparse) Adam over `count` distinct rows of an embedding table of row width `dim`: for j < count,
   * row r = rows[j] is updated with the gradient grads[j·dim .. (j+1)·dim), exactly like `adam` but
   * touching only those rows of param, m and v. Rows must be distinct.
   */
  lazyAdamRows(dim: number, count: number, rows: Int32Array, grads: Float32Array, table: Float32Array,
    m: Float32Array, v: Float32Array, lrT: number, beta1: number, beta2: number, eps: number, l2: number): void;

  /**
   * Adagrad over `count` distinct rows: g = grad + l2·param; acc += g²; param −= lr · g / (√acc + eps).
   */
  adagradRows(dim: number, count: number, rows: Int32Array, grads: Float32Array, table: Float32Array,
    acc: Float32Array, lr: number, eps: number, l2: number): void;

  /**
   * Pools n id bags of a table (tableRows × dim): the ids of bag i are ids[offsets[i] .. offsets[i+1]) and
   * out[i·stride + col .. + dim) = Σ w·table[id], divided by Σ w when `mean` (weights null: all 1). An empty
   * bag gives zeros. An offset outside [0, ids.length] or an id outside [0, tableRows) is a RangeError.
   */
  embeddingPool(dim: number, tableRows: number, n: number, ids: Int32Array, offsets: Int32Array, weights: Float32Array | null,
    table: Float32Array, out: Float32Array, stride: number, col: number, mean: boolean): void;
  /**
   * Backward of embeddingPool into a sparse gradient of `count` rows (rows[j], grads[j·dim ..]): every id of
   * every bag gets w·dOut[i·stride + col ..] (w / Σw for mean) added to its row, found through slotOf
   * (tableRows entries, −1 for rows not yet present, which are appended). Returns the new count; rows and
   * grads need room for min(count + ids.length, tableRows) rows.
   */
  embeddingPoolBackward(dim: number, tableRows: number, n: number, ids: Int32Array, offsets: Int32Array, weights: Float32Array | null,
    dOut: Float32Array, stride: number, col: number, mean: boolean,
    slotOf: Int32Array, rows: Int32Array, grads: Float32Array, count: number): number;
  /**
   * Adds the rows j < count of one sparse gradient (rows, grads) whose row id r has r mod modulus = residue
   * into another (slotOf, outRows, outGrads, outCount) as above; returns its new count. The out buffers
   * need room for min(outCount + count, tableRows) rows.
   */
  accumulateRows(dim: number, tableRows: number, count: number, rows: Int32Array, grads: Float32Array, modulus: number, residue: number,
    slotOf: Int32Array, outRows: Int32Array, outGrads: Float32Array, outCount: number): number;
}
