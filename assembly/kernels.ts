// WASM SIMD kernels (AssemblyScript). Every pointer is a byte offset into the imported shared memory; every
// matrix is dense, row-major float32. Nothing here allocates: src/engine/wasm.ts owns the memory, checks
// the arguments and calls these exports. The semantics are those of src/engine/kernels.ts.

// ---------------------------------------------------------------------------------------------------------
// Small helpers

@inline function zero(): v128 {
  return f32x4.splat(0);
}

@inline function storeVec(ptr: usize, value: v128, accumulate: bool): void {
  v128.store(ptr, accumulate ? f32x4.add(v128.load(ptr), value) : value);
}

@inline function storeScalar(ptr: usize, value: f32, accumulate: bool): void {
  store<f32>(ptr, accumulate ? load<f32>(ptr) + value : value);
}

/** The four lane sums of v0..v3, as one vector. */
@inline function sum4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const t01 = f32x4.add(v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), v128.shuffle<f32>(v0, v1, 2, 6, 3, 7));
  const t23 = f32x4.add(v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), v128.shuffle<f32>(v2, v3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t01, t23, 0, 1, 4, 5), v128.shuffle<f32>(t01, t23, 2, 3, 6, 7));
}

@inline function sum1(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 2)) + (f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 3));
}

/** Four floats `stride` bytes apart. */
@inline function gather4(ptr: usize, stride: usize): v128 {
  let v = f32x4.splat(load<f32>(ptr));
  v = f32x4.replace_lane(v, 1, load<f32>(ptr + stride));
  v = f32x4.replace_lane(v, 2, load<f32>(ptr + 2 * stride));
  return f32x4.replace_lane(v, 3, load<f32>(ptr + 3 * stride));
}

@inline function madd(acc: v128, x: v128, y: v128): v128 {
  // Built twice (package.json build:wasm): with relaxed SIMD this is one fused multiply-add.
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, y, acc);
  return f32x4.add(acc, f32x4.mul(x, y));
}

// ---------------------------------------------------------------------------------------------------------
// Broadcast GEMM: C(rows×cols) (+)= Σ_{p<depth} A(r,p)·B(p,j), with A(r,p) at a + r·aRow + p·aStep and B(p,j)
// at b + p·ldb + 4j. Vectorised along the columns of B and C, A broadcast. With A row-major (aRow = 4k,
// aStep = 4) it is C = A·B; with A read by columns (aRow = 4, aStep = 4k) it is C = Aᵀ·B.

// Keeps the A and B panels of one depth block in L2 when the depth is the batch (Aᵀ·B); 128 measured a
// little faster than 256 for Aᵀ·B and no slower for A·B.
const DEPTH_BLOCK: i32 = 128;
// Rows of C per block (a multiple of 4): 64 rows of a 200-wide layer are 51 KB.
const ROW_BLOCK: i32 = 64;

// Tiles of 4×8 floats of C live in 8 accumulators: V8 has 15 usable XMM registers on x64, and 4×16 would
// spill.

@inline function tile4x8(a: usize, aRow: usize, aStep: usize, b: usize, ldb: usize, c: usize, ldc: usize, depth: i32, accumulate: bool): void {
  let c00 = zero(), c01 = zero(), c10 = zero(), c11 = zero();
  let c20 = zero(), c21 = zero(), c30 = zero(), c31 = zero();
  let pa = a;
  let pb = b;
  for (let p = 0; p < depth; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(c00, x, b0);
    c01 = madd(c01, x, b1);
    x = v128.load32_splat(pa + aRow);
    c10 = madd(c10, x, b0);
    c11 = madd(c11, x, b1);
    x = v128.load32_splat(pa + 2 * aRow);
    c20 = madd(c20, x, b0);
    c21 = madd(c21, x, b1);
    x = v128.load32_splat(pa + 3 * aRow);
    c30 = madd(c30, x, b0);
    c31 = madd(c31, x, b1);
    pa += aStep;
    pb += ldb;
  }
  storeVec(c, c00, accumulate);
  storeVec(c + 16, c01, accumulate);
  storeVec(c + ldc, c10, accumulate);
  storeVec(c + ldc + 16, c11, accumulate);
  storeVec(c + 2 * ldc, c20, accumulate);
  storeVec(c + 2 * ldc + 16, c21, accumulate);
  storeVec(c + 3 * ldc, c30, accumulate);
  storeVec(c + 3 * ldc + 16, c31, accumulate);
}

@inline function tile4x4(a: usize, aRow: usize, aStep: usize, b: usize, ldb: usize, c: usize, ldc: usize, depth: i32, accumulate: bool): void {
  let c0 = zero(), c1 = zero(), c2 = zero(), c3 = zero();
  let pa = a;
  let pb = b;
  for (let p = 0; p < depth; p++) {
    const b0 = v128.load(pb);
    c0 = madd(c0, v128.load32_splat(pa), b0);
    c1 = madd(c1, v128.load32_splat(pa + aRow), b0);
    c2 = madd(c2, v128.load32_splat(pa + 2 * aRow), b0);
    c3 = madd(c3, v128.load32_splat(pa + 3 * aRow), b0);
    pa += aStep;
    pb += ldb;
  }
  storeVec(c, c0, accumulate);
  storeVec(c + ldc, c1, accumulate);
  storeVec(c + 2 * ldc, c2, accumulate);
  storeVec(c + 3 * ldc, c3, accumulate);
}

@inline function tile1x16(a: usize, aStep: usize, b: usize, ldb: usize, c: usize, depth: i32, accumulate: bool): void {
  let c0 = zero(), c1 = zero(), c2 = zero(), c3 = zero();
  let pa = a;
  let pb = b;
  for (let p = 0; p < depth; p++) {
    const x = v128.load32_splat(pa);
    c0 = madd(c0, x, v128.load(pb));
    c1 = madd(c1, x, v128.load(pb, 16));
    c2 = madd(c2, x, v128.load(pb, 32));
    c3 = madd(c3, x, v128.load(pb, 48));
    pa += aStep;
    pb += ldb;
  }
  storeVec(c, c0, accumulate);
  storeVec(c + 16, c1, accumulate);
  storeVec(c + 32, c2, accumulate);
  storeVec(c + 48, c3, accumulate);
}

@inline function tile1x4(a: usize, aStep: usize, b: usize, ldb: usize, c: usize, depth: i32, accumulate: bool): void {
  let c0 = zero();
  let pa = a;
  let pb = b;
  for (let p = 0; p < depth; p++) {
    c0 = madd(c0, v128.load32_splat(pa), v128.load(pb));
    pa += aStep;
    pb += ldb;
  }
  storeVec(c, c0, accumulate);
}

@inline function dotStrided(a: usize, aStep: usize, b: usize, ldb: usize, depth: i32): f32 {
  let sum: f32 = 0;
  for (let p = 0; p < depth; p++) sum += load<f32>(a + <usize>p * aStep) * load<f32>(b + <usize>p * ldb);
  return sum;
}

function broadcastRows4(cols: i32, depth: i32, a: usize, aRow: usize, aStep: usize, b: usize, ldb: usize, c: usize, ldc: usize, accumulate: bool): void {
  let j = 0;
  for (; j + 8 <= cols; j += 8) tile4x8(a, aRow, aStep, b + 4 * j, ldb, c + 4 * j, ldc, depth, accumulate);
  for (; j + 4 <= cols; j += 4) tile4x4(a, aRow, aStep, b + 4 * j, ldb, c + 4 * j, ldc, depth, accumulate);
  for (; j < cols; j++) {
    for (let r = 0; r < 4; r++) {
      const value = dotStrided(a + <usize>r * aRow, aStep, b + 4 * j, ldb, depth);
      storeScalar(c + <usize>r * ldc + 4 * j, value, accumulate);
    }
  }
}

function broadcastRow1(cols: i32, depth: i32, a: usize, aStep: usize, b: usize, ldb: usize, c: usize, accumulate: bool): void {
  let j = 0;
  for (; j + 16 <= cols; j += 16) tile1x16(a, aStep, b + 4 * j, ldb, c + 4 * j, depth, accumulate);
  for (; j + 4 <= cols; j += 4) tile1x4(a, aStep, b + 4 * j, ldb, c + 4 * j, depth, accumulate);
  for (; j < cols; j++) storeScalar(c + 4 * j, dotStrided(a, aStep, b + 4 * j, ldb, depth), accumulate);
}

function zeroRows(rows: i32, cols: i32, c: usize, ldc: usize): void {
  for (let r = 0; r < rows; r++) memory.fill(c + <usize>r * ldc, 0, <usize>cols * 4);
}

function gemmBroadcast(rows: i32, cols: i32, depth: i32, a: usize, aRow: usize, aStep: usize, b: usize, ldb: usize, c: usize, ldc: usize, accumulate: bool): void {
  if (depth == 0) {
    if (!accumulate) zeroRows(rows, cols, c, ldc);
    return;
  }
  // Row blocks outside the depth blocks: a block's rows of C stay in cache across the depth blocks
  // instead of all of C (the batch × the layer's width) being streamed once per depth block. Each element
  // still sums its depth blocks in order, so the result does not depend on the blocking.
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const rEnd = min(rows, r0 + ROW_BLOCK);
    for (let p0 = 0; p0 < depth; p0 += DEPTH_BLOCK) {
      const len = min(DEPTH_BLOCK, depth - p0);
      const acc = accumulate || p0 > 0;
      const ap = a + <usize>p0 * aStep;
      const bp = b + <usize>p0 * ldb;
      let r = r0;
      for (; r + 4 <= rEnd; r += 4) broadcastRows4(cols, len, ap + <usize>r * aRow, aRow, aStep, bp, ldb, c + <usize>r * ldc, ldc, acc);
      for (; r < rEnd; r++) broadcastRow1(cols, len, ap + <usize>r * aRow, aStep, bp, ldb, c + <usize>r * ldc, acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Dot-product GEMM: C(m×k) (+)= A(m×n)·B(k×n)ᵀ. Both operands are read along their contiguous rows, lane
// partial sums are reduced horizontally once per tile.

@inline function tileDot2x4(a: usize, b: usize, ld: usize, n: i32, c: usize, ldc: usize, accumulate: bool): void {
  let s00 = zero(), s01 = zero(), s02 = zero(), s03 = zero();
  let s10 = zero(), s11 = zero(), s12 = zero(), s13 = zero();
  const nv = n & ~3;
  for (let j = 0; j < nv; j += 4) {
    const off = <usize>j * 4;
    const a0 = v128.load(a + off);
    const a1 = v128.load(a + ld + off);
    const b0 = v128.load(b + off);
    const b1 = v128.load(b + ld + off);
    const b2 = v128.load(b + 2 * ld + off);
    const b3 = v128.load(b + 3 * ld + off);
    s00 = madd(s00, a0, b0);
    s01 = madd(s01, a0, b1);
    s02 = madd(s02, a0, b2);
    s03 = madd(s03, a0, b3);
    s10 = madd(s10, a1, b0);
    s11 = madd(s11, a1, b1);
    s12 = madd(s12, a1, b2);
    s13 = madd(s13, a1, b3);
  }
  let r0 = sum4(s00, s01, s02, s03);
  let r1 = sum4(s10, s11, s12, s13);
  for (let j = nv; j < n; j++) {
    const off = <usize>j * 4;
    const bj = gather4(b + off, ld);
    r0 = madd(r0, v128.load32_splat(a + off), bj);
    r1 = madd(r1, v128.load32_splat(a + ld + off), bj);
  }
  storeVec(c, r0, accumulate);
  storeVec(c + ldc, r1, accumulate);
}

@inline function tileDot1x4(a: usize, b: usize, ld: usize, n: i32, c: usize, accumulate: bool): void {
  let s0 = zero(), s1 = zero(), s2 = zero(), s3 = zero();
  const nv = n & ~3;
  for (let j = 0; j < nv; j += 4) {
    const off = <usize>j * 4;
    const a0 = v128.load(a + off);
    s0 = madd(s0, a0, v128.load(b + off));
    s1 = madd(s1, a0, v128.load(b + ld + off));
    s2 = madd(s2, a0, v128.load(b + 2 * ld + off));
    s3 = madd(s3, a0, v128.load(b + 3 * ld + off));
  }
  let r0 = sum4(s0, s1, s2, s3);
  for (let j = nv; j < n; j++) {
    const off = <usize>j * 4;
    r0 = madd(r0, v128.load32_splat(a + off), gather4(b + off, ld));
  }
  storeVec(c, r0, accumulate);
}

@inline function dot(a: usize, b: usize, n: i32): f32 {
  let s0 = zero(), s1 = zero();
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const off = <usize>j * 4;
    s0 = madd(s0, v128.load(a + off), v128.load(b + off));
    s1 = madd(s1, v128.load(a + off, 16), v128.load(b + off, 16));
  }
  for (; j + 4 <= n; j += 4) s0 = madd(s0, v128.load(a + <usize>j * 4), v128.load(b + <usize>j * 4));
  let sum = sum1(f32x4.add(s0, s1));
  for (; j < n; j++) sum += load<f32>(a + <usize>j * 4) * load<f32>(b + <usize>j * 4);
  return sum;
}

function gemmDot(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const ld = <usize>n * 4;
  const ldc = <usize>k * 4;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const ai = a + <usize>i * ld;
    const ci = c + <usize>i * ldc;
    let p = 0;
    for (; p + 4 <= k; p += 4) tileDot2x4(ai, b + <usize>p * ld, ld, n, ci + 4 * p, ldc, accumulate);
    for (; p < k; p++) {
      const bp = b + <usize>p * ld;
      storeScalar(ci + 4 * p, dot(ai, bp, n), accumulate);
      storeScalar(ci + ldc + 4 * p, dot(ai + ld, bp, n), accumulate);
    }
  }
  for (; i < m; i++) {
    const ai = a + <usize>i * ld;
    const ci = c + <usize>i * ldc;
    let p = 0;
    for (; p + 4 <= k; p += 4) tileDot1x4(ai, b + <usize>p * ld, ld, n, ci + 4 * p, accumulate);
    for (; p < k; p++) storeScalar(ci + 4 * p, dot(ai, b + <usize>p * ld, n), accumulate);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The three GEMM shapes

/** C(m×n) (+)= A(m×k)·B(k×n). */
export function gemm(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  // One output column: m dot products with the column of B, which is contiguous.
  if (n == 1) gemmDot(m, k, 1, a, b, c, accumulate);
  else gemmBroadcast(m, n, k, a, <usize>k * 4, 4, b, <usize>n * 4, c, <usize>n * 4, accumulate);
}

/** C(k×n) (+)= Aᵀ·B with A(m×k), B(m×n). */
export function gemmTN(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  // One output column: Cᵀ(1×k) = Bᵀ(1×m)·A, a single broadcast row vectorised along k.
  if (n == 1) gemmBroadcast(1, k, m, b, 0, 4, a, <usize>k * 4, c, 0, accumulate);
  else gemmBroadcast(k, n, m, a, 4, <usize>k * 4, b, <usize>n * 4, c, <usize>n * 4, accumulate);
}

/** C(m×k) (+)= A·Bᵀ with A(m×n), B(k×n). */
export function gemmNT(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  // Depth one: the outer product A(m×1)·Bᵀ(1×k), vectorised along k.
  if (n == 1) gemmBroadcast(m, k, 1, a, 4, 4, b, 0, c, <usize>k * 4, accumulate);
  else gemmDot(m, n, k, a, b, c, accumulate);
}

// ---------------------------------------------------------------------------------------------------------
// Bias and activation

const ACT_NONE: i32 = 0;
const ACT_RELU: i32 = 1;
const ACT_PRELU: i32 = 2;

@inline function activateVec(pre: v128, act: i32, alpha: v128): v128 {
  if (act == ACT_NONE) return pre;
  const positive = f32x4.gt(pre, zero());
  // NaN and ±0 take the negative branch, as in the reference (pre > 0 ? pre : …).
  return act == ACT_RELU ? v128.and(pre, positive) : v128.bitselect(pre, f32x4.mul(alpha, pre), positive);
}

@inline function activateScalar(pre: f32, act: i32, alpha: f32): f32 {
  if (act == ACT_NONE || pre > 0) return pre;
  return act == ACT_RELU ? 0 : alpha * pre;
}

/** out(m×n) = act(x + bias); act: 0 none, 1 relu, 2 prelu (alpha per unit). */
export function biasActForward(m: i32, n: i32, x: usize, bias: usize, act: i32, alpha: usize, out: usize): void {
  const nv = n & ~3;
  for (let i = 0; i < m; i++) {
    const row = <usize>i * <usize>n * 4;
    for (let j = 0; j < nv; j += 4) {
      const off = <usize>j * 4;
      const pre = f32x4.add(v128.load(x + row + off), v128.load(bias + off));
      v128.store(out + row + off, activateVec(pre, act, act == ACT_PRELU ? v128.load(alpha + off) : zero()));
    }
    for (let j = nv; j < n; j++) {
      const off = <usize>j * 4;
      const pre = load<f32>(x + row + off) + load<f32>(bias + off);
      store<f32>(out + row + off, activateScalar(pre, act, act == ACT_PRELU ? load<f32>(alpha + off) : 0));
    }
  }
}

@inline function slopeVec(pre: v128, dOut: v128, act: i32, alpha: v128): v128 {
  if (act == ACT_NONE) return dOut;
  const positive = f32x4.gt(pre, zero());
  return act == ACT_RELU ? v128.and(dOut, positive) : v128.bitselect(dOut, f32x4.mul(alpha, dOut), positive);
}

/**
 * dPre = dOut·act'(pre) (dPre may alias dOut); dBias += column sums of dPre; for PReLU with a dAlpha (≠ 0),
 * dAlpha += column sums of dOut·min(pre, 0). Walks 4 columns at a time down all rows so the column sums
 * stay in registers.
 */
export function biasActBackward(m: i32, n: i32, pre: usize, dOut: usize, act: i32, alpha: usize, dPre: usize, dBias: usize, dAlpha: usize): void {
  const ld = <usize>n * 4;
  const wantAlpha = act == ACT_PRELU && dAlpha != 0;
  const nv = n & ~3;
  for (let j = 0; j < nv; j += 4) {
    const col = <usize>j * 4;
    const alphaJ = act == ACT_PRELU ? v128.load(alpha + col) : zero();
    let biasSum = zero();
    let alphaSum = zero();
    for (let i = 0; i < m; i++) {
      const off = <usize>i * ld + col;
      const x = v128.load(pre + off);
      const d = v128.load(dOut + off);
      const g = slopeVec(x, d, act, alphaJ);
      v128.store(dPre + off, g);
      biasSum = f32x4.add(biasSum, g);
      if (wantAlpha) alphaSum = madd(alphaSum, d, f32x4.min(x, zero()));
    }
    v128.store(dBias + col, f32x4.add(v128.load(dBias + col), biasSum));
    if (wantAlpha) v128.store(dAlpha + col, f32x4.add(v128.load(dAlpha + col), alphaSum));
  }
  for (let j = nv; j < n; j++) {
    const col = <usize>j * 4;
    const alphaJ: f32 = act == ACT_PRELU ? load<f32>(alpha + col) : 0;
    let biasSum: f32 = 0;
    let alphaSum: f32 = 0;
    for (let i = 0; i < m; i++) {
      const off = <usize>i * ld + col;
      const x = load<f32>(pre + off);
      const d = load<f32>(dOut + off);
      const g = act == ACT_NONE || x > 0 ? d : act == ACT_RELU ? <f32>0 : alphaJ * d;
      store<f32>(dPre + off, g);
      biasSum += g;
      alphaSum += d * min<f32>(x, 0);
    }
    store<f32>(dBias + col, load<f32>(dBias + col) + biasSum);
    if (wantAlpha) store<f32>(dAlpha + col, load<f32>(dAlpha + col) + alphaSum);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Vector reductions and updates

/** Σ x², accumulated in float64. */
export function sumSquares(n: i32, x: usize): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + <usize>i * 4);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(s0, s1);
  let sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + <usize>i * 4);
    sum += v * v;
  }
  return sum;
}

/** y += a·x. */
export function axpy(n: i32, a: f32, x: usize, y: usize): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i * 4;
    v128.store(y + off, madd(v128.load(y + off), av, v128.load(x + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i * 4;
    store<f32>(y + off, load<f32>(y + off) + a * load<f32>(x + off));
  }
}

/**
 * Adam over n consecutive parameters (see kernels.ts); 1−β1 and 1−β2 come in precomputed because
 * 1 − f32(0.999) is 1.3e-5 away from f32(0.001).
 */
export function adam(n: i32, param: usize, grad: usize, m: usize, v: usize,
  lrT: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, eps: f32, l2: f32): void {
  const lrV = f32x4.splat(lrT), b1 = f32x4.splat(beta1), c1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(oneMinusBeta2), epsV = f32x4.splat(eps), l2V = f32x4.splat(l2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i * 4;
    const p = v128.load(param + off);
    const g = madd(v128.load(grad + off), l2V, p);
    const mi = f32x4.add(f32x4.mul(b1, v128.load(m + off)), f32x4.mul(c1, g));
    const vi = f32x4.add(f32x4.mul(b2, v128.load(v + off)), f32x4.mul(f32x4.mul(c2, g), g));
    v128.store(m + off, mi);
    v128.store(v + off, vi);
    v128.store(param + off, f32x4.sub(p, f32x4.div(f32x4.mul(lrV, mi), f32x4.add(f32x4.sqrt(vi), epsV))));
  }
  for (; i < n; i++) {
    const off = <usize>i * 4;
    const p = load<f32>(param + off);
    const g = load<f32>(grad + off) + l2 * p;
    const mi = beta1 * load<f32>(m + off) + oneMinusBeta1 * g;
    const vi = beta2 * load<f32>(v + off) + oneMinusBeta2 * g * g;
    store<f32>(m + off, mi);
    store<f32>(v + off, vi);
    store<f32>(param + off, p - (lrT * mi) / (sqrt<f32>(vi) + eps));
  }
}

/** Adam on rows[j] of table/m/v with gradient row j, for j < count. */
export function lazyAdamRows(dim: i32, count: i32, rows: usize, grads: usize, table: usize, m: usize, v: usize,
  lrT: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, eps: f32, l2: f32): void {
  const rowBytes = <usize>dim * 4;
  for (let j = 0; j < count; j++) {
    const row = <usize>load<i32>(rows + <usize>j * 4) * rowBytes;
    adam(dim, table + row, grads + <usize>j * rowBytes, m + row, v + row, lrT, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, l2);
  }
}

/** Adagrad on rows[j] of table/acc with gradient row j, for j < count. */
export function adagradRows(dim: i32, count: i32, rows: usize, grads: usize, table: usize, acc: usize, lr: f32, eps: f32, l2: f32): void {
  const rowBytes = <usize>dim * 4;
  const lrV = f32x4.splat(lr), epsV = f32x4.splat(eps), l2V = f32x4.splat(l2);
  for (let j = 0; j < count; j++) {
    const row = <usize>load<i32>(rows + <usize>j * 4) * rowBytes;
    const t = table + row;
    const s = acc + row;
    const gr = grads + <usize>j * rowBytes;
    let d = 0;
    for (; d + 4 <= dim; d += 4) {
      const off = <usize>d * 4;
      const p = v128.load(t + off);
      const g = madd(v128.load(gr + off), l2V, p);
      const a = madd(v128.load(s + off), g, g);
      v128.store(s + off, a);
      v128.store(t + off, f32x4.sub(p, f32x4.div(f32x4.mul(lrV, g), f32x4.add(f32x4.sqrt(a), epsV))));
    }
    for (; d < dim; d++) {
      const off = <usize>d * 4;
      const p = load<f32>(t + off);
      const g = load<f32>(gr + off) + l2 * p;
      const a = load<f32>(s + off) + g * g;
      store<f32>(s + off, a);
      store<f32>(t + off, p - (lr * g) / (sqrt<f32>(a) + eps));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Embedding bags: pooling, its sparse backward, and the merge of sparse gradients. Ids and offsets are
// validated here (a bad one would read or write outside its table); errors come back as return codes.

/** dst[0..dim) = w · src[0..dim), or += with `accumulate`. */
@inline function scaledRow(dim: i32, w: f32, src: usize, dst: usize, accumulate: bool): void {
  const wv = f32x4.splat(w);
  let d = 0;
  for (; d + 4 <= dim; d += 4) {
    const off = <usize>d * 4;
    storeVec(dst + off, f32x4.mul(wv, v128.load(src + off)), accumulate);
  }
  for (; d < dim; d++) {
    const off = <usize>d * 4;
    storeScalar(dst + off, w * load<f32>(src + off), accumulate);
  }
}

/** Rows in the sparse gradient being filled (a global is per instance, i.e. per thread). */
let sparseCount: i32 = 0;

/** The gradient row of `row` in a sparse gradient, creating it (zeroed) when new. */
@inline function slotFor(row: i32, dim: i32, slotOf: usize, rows: usize, grads: usize): usize {
  let s = load<i32>(slotOf + <usize>row * 4);
  if (s < 0) {
    s = sparseCount++;
    store<i32>(slotOf + <usize>row * 4, s);
    store<i32>(rows + <usize>s * 4, row);
    memory.fill(grads + <usize>s * <usize>dim * 4, 0, <usize>dim * 4);
  }
  return grads + <usize>s * <usize>dim * 4;
}

/** Whether bag i's offsets are in order within [0, nnz) and its ids within [0, tableRows). */
@inline function bagValid(i: i32, ids: usize, offsets: usize, nnz: i32, tableRows: i32): bool {
  const lo = load<i32>(offsets + <usize>i * 4), hi = load<i32>(offsets + <usize>(i + 1) * 4);
  if (lo < 0 || hi < lo || hi > nnz) return false;
  for (let p = lo; p < hi; p++) {
    const id = load<i32>(ids + <usize>p * 4);
    if (id < 0 || id >= tableRows) return false;
  }
  return true;
}

/** Returns −1, or the first bag whose offsets or ids are invalid (nothing is written from it on). */
export function embeddingPool(dim: i32, tableRows: i32, n: i32, nnz: i32, ids: usize, offsets: usize, weights: usize,
  table: usize, out: usize, stride: i32, col: i32, mean: bool): i32 {
  const rowBytes = <usize>dim * 4;
  for (let i = 0; i < n; i++) {
    if (!bagValid(i, ids, offsets, nnz, tableRows)) return i;
    const o = out + (<usize>i * <usize>stride + <usize>col) * 4;
    const lo = load<i32>(offsets + <usize>i * 4), hi = load<i32>(offsets + <usize>(i + 1) * 4);
    if (hi == lo) {
      memory.fill(o, 0, rowBytes);
      continue;
    }
    let wsum: f32 = 0;
    for (let p = lo; p < hi; p++) {
      const w: f32 = weights ? load<f32>(weights + <usize>p * 4) : 1;
      wsum += w;
      scaledRow(dim, w, table + <usize>load<i32>(ids + <usize>p * 4) * rowBytes, o, p > lo);
    }
    if (mean && wsum != 0 && wsum != 1) scaledRow(dim, 1 / wsum, o, o, false);
  }
  return -1;
}

/** Returns the new count of the sparse gradient, or −1 − i for the first invalid bag i. */
export function embeddingPoolBackward(dim: i32, tableRows: i32, n: i32, nnz: i32, ids: usize, offsets: usize, weights: usize,
  dOut: usize, stride: i32, col: i32, mean: bool, slotOf: usize, rows: usize, grads: usize, count: i32): i32 {
  sparseCount = count;
  for (let i = 0; i < n; i++) {
    if (!bagValid(i, ids, offsets, nnz, tableRows)) return -1 - i;
    const lo = load<i32>(offsets + <usize>i * 4), hi = load<i32>(offsets + <usize>(i + 1) * 4);
    if (hi == lo) continue;
    let scale: f32 = 1;
    if (mean) {
      let wsum: f32 = 0;
      for (let p = lo; p < hi; p++) wsum += weights ? load<f32>(weights + <usize>p * 4) : 1;
      if (wsum == 0) continue;
      scale = 1 / wsum;
    }
    const o = dOut + (<usize>i * <usize>stride + <usize>col) * 4;
    for (let p = lo; p < hi; p++) {
      const w: f32 = (weights ? load<f32>(weights + <usize>p * 4) : 1) * scale;
      scaledRow(dim, w, o, slotFor(load<i32>(ids + <usize>p * 4), dim, slotOf, rows, grads), true);
    }
  }
  return sparseCount;
}

/** Adds rows j < count with rows[j] mod modulus = residue into another sparse gradient; its new count, or −1 − j. */
export function accumulateRows(dim: i32, tableRows: i32, count: i32, rows: usize, grads: usize, modulus: i32, residue: i32,
  slotOf: usize, outRows: usize, outGrads: usize, outCount: i32): i32 {
  sparseCount = outCount;
  const rowBytes = <usize>dim * 4;
  for (let j = 0; j < count; j++) {
    const r = load<i32>(rows + <usize>j * 4);
    if (r < 0 || r >= tableRows) return -1 - j;
    if (r % modulus != residue) continue;
    scaledRow(dim, 1, grads + <usize>j * rowBytes, slotFor(r, dim, slotOf, outRows, outGrads), true);
  }
  return sparseCount;
}
