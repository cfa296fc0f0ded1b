/**
 * The native backend: the WASM backend (its shared memory, arena and every non-gemm kernel) with the three
 * gemm shapes run by OpenBLAS through the addon build/esmm_native.node (native/esmm_native.c, built by
 * `npm run build:native`). The addon reads the Float32Array views in place, so buffers and worker sharing
 * via `{ memory }` work exactly as with the WASM backend.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EsmmError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';
import { checkGemm, checkGemmNT, checkGemmTN } from './kernel-args.js';
import type { Kernels } from './kernels.js';
import { WasmArena } from './wasm-arena.js';
import { createWasmKernels, createWasmKernelsSync, type WasmKernelOptions } from './wasm.js';

type GemmFn = (m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean) => void;

interface Addon {
  gemm: GemmFn;
  gemmTN: GemmFn;
  gemmNT: GemmFn;
  info(): { openblasConfig: string; threads: number };
}

export interface NativeKernels extends Kernels {
  readonly name: 'native';
  readonly memory: WebAssembly.Memory;
}

export type NativeStatus =
  | { loaded: true; path: string; openblasConfig: string; threads: number }
  | { loaded: false; path: string; reason: string };

const ADDON_PATH = join(packageRoot(import.meta.url), 'build', 'esmm_native.node');

let loaded: { addon: Addon | null; status: NativeStatus } | undefined;

function load(): { addon: Addon | null; status: NativeStatus } {
  if (loaded) return loaded;
  const path = ADDON_PATH;
  if (!existsSync(path)) {
    loaded = { addon: null, status: { loaded: false, path, reason: `${path} not found (apt-get install libopenblas-dev, then npm run build:native)` } };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    const { openblasConfig, threads } = addon.info();
    loaded = { addon, status: { loaded: true, path, openblasConfig, threads } };
  } catch (error) {
    loaded = { addon: null, status: { loaded: false, path, reason: `loading ${path} failed: ${(error as Error).message}` } };
  }
  return loaded;
}

/** Whether the addon loads here and, if it does not, why (file missing, or the loader's error). */
export function nativeStatus(): NativeStatus {
  return load().status;
}

function requireAddon(): Addon {
  const { addon, status } = load();
  // A user's choice that this machine cannot meet: a message for them, not a stack trace.
  if (addon === null || !status.loaded) throw new EsmmError(`the native backend is unavailable: ${status.loaded ? 'no addon' : status.reason}`);
  return addon;
}

export async function createNativeKernels(options: WasmKernelOptions = {}): Promise<NativeKernels> {
  const addon = requireAddon();
  return withNativeGemm(await createWasmKernels(options), addon);
}

export function createNativeKernelsSync(options: WasmKernelOptions = {}): NativeKernels {
  const addon = requireAddon();
  return withNativeGemm(createWasmKernelsSync(options), addon);
}

function withNativeGemm(wasm: Kernels & { memory: WebAssembly.Memory }, addon: Addon): NativeKernels {
  // Attaches to the same memory; used only to check that views are buffers of this backend, as WASM does.
  const arena = new WasmArena(wasm.memory);
  const own = (kernel: string, a: Float32Array, b: Float32Array, c: Float32Array) => {
    arena.pointer(a, kernel, 'a');
    arena.pointer(b, kernel, 'b');
    arena.pointer(c, kernel, 'c');
  };
  return {
    ...wasm,
    name: 'native',
    memory: wasm.memory,
    gemm(m, n, k, a, b, c, accumulate) {
      checkGemm(m, n, k, a, b, c);
      own('gemm', a, b, c);
      addon.gemm(m, n, k, a, b, c, accumulate);
    },
    gemmTN(m, n, k, a, b, c, accumulate) {
      checkGemmTN(m, n, k, a, b, c);
      own('gemmTN', a, b, c);
      addon.gemmTN(m, n, k, a, b, c, accumulate);
    },
    gemmNT(m, n, k, a, b, c, accumulate) {
      checkGemmNT(m, n, k, a, b, c);
      own('gemmNT', a, b, c);
      addon.gemmNT(m, n, k, a, b, c, accumulate);
    },
  };
}
