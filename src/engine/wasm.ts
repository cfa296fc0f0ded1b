/**
 * The WASM SIMD backend: loads build/kernels-relaxed.wasm or build/kernels.wasm (compiled from assembly/kernels.ts), gives it a shared
 * memory whose buffers it hands out, and checks every call's arguments before the kernel runs.
 */

import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import {
  badBag, checkBiasActBackward, checkBiasActForward, checkElementwise, checkGemm, checkGemmNT, checkGemmTN, checkPool, checkRows,
  checkSparseRoom, checkSparseSource,
} from './kernel-args.js';
import type { Activation, Kernels } from './kernels.js';
import { INITIAL_PAGES, MAX_PAGES, WasmArena } from './wasm-arena.js';

export interface WasmKernels extends Kernels {
  /** The shared memory holding every buffer; pass it to createWasmKernels in a worker to share them. */
  readonly memory: WebAssembly.Memory;
}

export interface WasmKernelOptions {
  /** Attach to the memory of an existing WASM backend (e.g. from another thread) instead of a new one. */
  memory?: WebAssembly.Memory;
}

/** The exports of assembly/kernels.ts; pointers are byte offsets, booleans 0/1. */
interface KernelExports {
  gemm(m: number, n: number, k: number, a: number, b: number, c: number, accumulate: number): void;
  gemmTN(m: number, n: number, k: number, a: number, b: number, c: number, accumulate: number): void;
  gemmNT(m: number, n: number, k: number, a: number, b: number, c: number, accumulate: number): void;
  biasActForward(m: number, n: number, x: number, bias: number, act: number, alpha: number, out: number): void;
  biasActBackward(m: number, n: number, pre: number, dOut: number, act: number, alpha: number, dPre: number, dBias: number, dAlpha: number): void;
  sumSquares(n: number, x: number): number;
  axpy(n: number, a: number, x: number, y: number): void;
  adam(n: number, param: number, grad: number, m: number, v: number,
    lrT: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, eps: number, l2: number): void;
  lazyAdamRows(dim: number, count: number, rows: number, grads: number, table: number, m: number, v: number,
    lrT: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, eps: number, l2: number): void;
  adagradRows(dim: number, count: number, rows: number, grads: number, table: number, acc: number, lr: number, eps: number, l2: number): void;
  embeddingPool(dim: number, tableRows: number, n: number, nnz: number, ids: number, offsets: number, weights: number,
    table: number, out: number, stride: number, col: number, mean: number): number;
  embeddingPoolBackward(dim: number, tableRows: number, n: number, nnz: number, ids: number, offsets: number, weights: number,
    dOut: number, stride: number, col: number, mean: number, slotOf: number, rows: number, grads: number, count: number): number;
  accumulateRows(dim: number, tableRows: number, count: number, rows: number, grads: number, modulus: number, residue: number,
    slotOf: number, outRows: number, outGrads: number, outCount: number): number;
}

const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, prelu: 2 };

/** A file of build/, from src/engine/ (tsx) as well as from dist/src/engine/ (compiled); null if missing. */
function buildFile(name: string): string | null {
  for (const up of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(`${up}build/${name}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * The kernels are built twice (package.json build:wasm): plain SIMD, and relaxed SIMD, whose
 * multiply-adds are fused (the gemm shapes run 1.4–2× faster). Relaxed is taken when this V8 accepts it
 * (Node 20 has it behind a flag, turned on here) unless ESMM_WASM_RELAXED=0.
 */
export type WasmVariant = 'relaxed' | 'plain';

function kernelBytes(): { bytes: Uint8Array<ArrayBuffer>; variant: WasmVariant } {
  const relaxed = process.env.ESMM_WASM_RELAXED === '0' ? null : buildFile('kernels-relaxed.wasm');
  if (relaxed) {
    const bytes = new Uint8Array(readFileSync(relaxed));
    if (!WebAssembly.validate(bytes)) {
      try {
        setFlagsFromString('--experimental-wasm-relaxed-simd');
      } catch {
        // an engine without the flag: the plain build
      }
    }
    if (WebAssembly.validate(bytes)) return { bytes, variant: 'relaxed' };
  }
  const plain = buildFile('kernels.wasm');
  if (!plain) throw new Error('build/kernels.wasm not found: run `npm run build:wasm`');
  return { bytes: new Uint8Array(readFileSync(plain)), variant: 'plain' };
}

let compiled: { module: WebAssembly.Module; variant: WasmVariant } | undefined;

function compiledKernels(): { module: WebAssembly.Module; variant: WasmVariant } {
  if (!compiled) {
    const { bytes, variant } = kernelBytes();
    compiled = { module: new WebAssembly.Module(bytes), variant };
  }
  return compiled;
}

/** Which build of the kernels this process runs. */
export function wasmVariant(): WasmVariant {
  return compiledKernels().variant;
}

export async function createWasmKernels(options: WasmKernelOptions = {}): Promise<WasmKernels> {
  return instantiate(compiledKernels().module, options);
}

export function createWasmKernelsSync(options: WasmKernelOptions = {}): WasmKernels {
  return instantiate(compiledKernels().module, options);
}

/** The kernels of an already compiled build/kernels.wasm (the browser fetches and compiles it itself). */
export function instantiate(module: WebAssembly.Module, options: WasmKernelOptions = {}): WasmKernels {
  const memory = options.memory ?? new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return bindKernels(instance.exports as unknown as KernelExports, new WasmArena(memory));
}

function bindKernels(wasm: KernelExports, arena: WasmArena): WasmKernels {
  const ptr = (view: Float32Array | Int32Array, kernel: string, name: string) => arena.pointer(view, kernel, name);
  const ptrOrNull = (view: Float32Array | null, kernel: string, name: string) => (view === null ? 0 : ptr(view, kernel, name));

  return {
    name: 'wasm',
    memory: arena.memory,
    allocF32: (n) => arena.allocF32(n),
    allocI32: (n) => arena.allocI32(n),

    gemm(m, n, k, a, b, c, accumulate) {
      checkGemm(m, n, k, a, b, c);
      wasm.gemm(m, n, k, ptr(a, 'gemm', 'a'), ptr(b, 'gemm', 'b'), ptr(c, 'gemm', 'c'), accumulate ? 1 : 0);
    },
    gemmTN(m, n, k, a, b, c, accumulate) {
      checkGemmTN(m, n, k, a, b, c);
      wasm.gemmTN(m, n, k, ptr(a, 'gemmTN', 'a'), ptr(b, 'gemmTN', 'b'), ptr(c, 'gemmTN', 'c'), accumulate ? 1 : 0);
    },
    gemmNT(m, n, k, a, b, c, accumulate) {
      checkGemmNT(m, n, k, a, b, c);
      wasm.gemmNT(m, n, k, ptr(a, 'gemmNT', 'a'), ptr(b, 'gemmNT', 'b'), ptr(c, 'gemmNT', 'c'), accumulate ? 1 : 0);
    },

    biasActForward(m, n, x, bias, act, alpha, out) {
      const kernel = 'biasActForward';
      checkBiasActForward(m, n, x, bias, act, alpha, out);
      const alphaPtr = act === 'prelu' ? ptrOrNull(alpha, kernel, 'alpha') : 0;
      wasm.biasActForward(m, n, ptr(x, kernel, 'x'), ptr(bias, kernel, 'bias'), ACTIVATION_CODE[act], alphaPtr, ptr(out, kernel, 'out'));
    },
    biasActBackward(m, n, pre, dOut, act, alpha, dPre, dBias, dAlpha) {
      const kernel = 'biasActBackward';
      checkBiasActBackward(m, n, pre, dOut, act, alpha, dPre, dBias, dAlpha);
      const prelu = act === 'prelu';
      wasm.biasActBackward(m, n, ptr(pre, kernel, 'pre'), ptr(dOut, kernel, 'dOut'), ACTIVATION_CODE[act],
        prelu ? ptrOrNull(alpha, kernel, 'alpha') : 0, ptr(dPre, kernel, 'dPre'), ptr(dBias, kernel, 'dBias'),
        prelu ? ptrOrNull(dAlpha, kernel, 'dAlpha') : 0);
    },

    sumSquares(n, x) {
      checkElementwise('sumSquares', n, { x });
      return wasm.sumSquares(n, ptr(x, 'sumSquares', 'x'));
    },
    axpy(n, a, x, y) {
      checkElementwise('axpy', n, { x, y });
      wasm.axpy(n, a, ptr(x, 'axpy', 'x'), ptr(y, 'axpy', 'y'));
    },

    adam(n, param, grad, m, v, lrT, beta1, beta2, eps, l2) {
      const kernel = 'adam';
      checkElementwise(kernel, n, { param, grad, m, v });
      wasm.adam(n, ptr(param, kernel, 'param'), ptr(grad, kernel, 'grad'), ptr(m, kernel, 'm'), ptr(v, kernel, 'v'),
        lrT, beta1, 1 - beta1, beta2, 1 - beta2, eps, l2);
    },
    lazyAdamRows(dim, count, rows, grads, table, m, v, lrT, beta1, beta2, eps, l2) {
      const kernel = 'lazyAdamRows';
      checkRows(kernel, dim, count, rows, grads, { table, m, v });
      wasm.lazyAdamRows(dim, count, ptr(rows, kernel, 'rows'), ptr(grads, kernel, 'grads'), ptr(table, kernel, 'table'),
        ptr(m, kernel, 'm'), ptr(v, kernel, 'v'), lrT, beta1, 1 - beta1, beta2, 1 - beta2, eps, l2);
    },
    adagradRows(dim, count, rows, grads, table, acc, lr, eps, l2) {
      const kernel = 'adagradRows';
      checkRows(kernel, dim, count, rows, grads, { table, acc });
      wasm.adagradRows(dim, count, ptr(rows, kernel, 'rows'), ptr(grads, kernel, 'grads'), ptr(table, kernel, 'table'),
        ptr(acc, kernel, 'acc'), lr, eps, l2);
    },

    embeddingPool(dim, tableRows, n, ids, offsets, weights, table, out, stride, col, mean) {
      const kernel = 'embeddingPool';
      checkPool(kernel, dim, tableRows, n, ids, offsets, weights, table, out, stride, col);
      const bad = wasm.embeddingPool(dim, tableRows, n, ids.length, ptr(ids, kernel, 'ids'), ptr(offsets, kernel, 'offsets'),
        ptrOrNull(weights, kernel, 'weights'), ptr(table, kernel, 'table'), ptr(out, kernel, 'out'), stride, col, mean ? 1 : 0);
      if (bad >= 0) throw badBag(kernel, bad, tableRows);
    },
    embeddingPoolBackward(dim, tableRows, n, ids, offsets, weights, dOut, stride, col, mean, slotOf, rows, grads, count) {
      const kernel = 'embeddingPoolBackward';
      checkPool(kernel, dim, tableRows, n, ids, offsets, weights, null, dOut, stride, col);
      checkSparseRoom(kernel, dim, tableRows, slotOf, rows, grads, count, ids.length);
      const result = wasm.embeddingPoolBackward(dim, tableRows, n, ids.length, ptr(ids, kernel, 'ids'), ptr(offsets, kernel, 'offsets'),
        ptrOrNull(weights, kernel, 'weights'), ptr(dOut, kernel, 'dOut'), stride, col, mean ? 1 : 0,
        ptr(slotOf, kernel, 'slotOf'), ptr(rows, kernel, 'rows'), ptr(grads, kernel, 'grads'), count);
      if (result < 0) throw badBag(kernel, -1 - result, tableRows);
      return result;
    },
    accumulateRows(dim, tableRows, count, rows, grads, modulus, residue, slotOf, outRows, outGrads, outCount) {
      const kernel = 'accumulateRows';
      checkSparseSource(kernel, dim, count, rows, grads, modulus, residue);
      checkSparseRoom(kernel, dim, tableRows, slotOf, outRows, outGrads, outCount, count);
      const result = wasm.accumulateRows(dim, tableRows, count, ptr(rows, kernel, 'rows'), ptr(grads, kernel, 'grads'), modulus, residue,
        ptr(slotOf, kernel, 'slotOf'), ptr(outRows, kernel, 'outRows'), ptr(outGrads, kernel, 'outGrads'), outCount);
      if (result < 0) throw new RangeError(`${kernel}: row id ${rows[-1 - result]} outside the table of ${tableRows} rows`);
      return result;
    },
  };
}
