/** Picks a kernel backend by name; 'auto' takes the fastest one that loads here. */

import type { Kernels } from './kernels.js';
import { createNativeKernels, nativeStatus } from './native.js';
import { referenceKernels } from './reference.js';
import { createWasmKernels, wasmVariant } from './wasm.js';

export type BackendName = 'auto' | 'native' | 'wasm' | 'reference';

export interface BackendOptions {
  /**
   * Attach a native or WASM backend to this existing memory (another thread's `kernels.memory`), so both
   * see the same buffers. A worker passes its parent's `kernels.name` with it to get the same kind.
   */
  memory?: WebAssembly.Memory;
}

export async function createKernels(name: BackendName = 'auto', options: BackendOptions = {}): Promise<Kernels> {
  switch (name) {
    case 'reference':
      if (options.memory) throw new TypeError('the reference kernels cannot attach to a WASM memory');
      return referenceKernels;
    case 'native':
      return createNativeKernels(options);
    case 'wasm':
      return createWasmKernels(options);
    case 'auto':
      try {
        return nativeStatus().loaded ? await createNativeKernels(options) : await createWasmKernels(options);
      } catch (error) {
        if (options.memory) throw error;
        process.emitWarning(`WASM kernels unavailable, using the reference kernels: ${(error as Error).message}`);
        return referenceKernels;
      }
    default:
      throw new TypeError(`unknown kernel backend ${String(name)} (expected auto, native, wasm or reference)`);
  }
}

export interface BackendStatus {
  name: 'native' | 'wasm' | 'reference';
  loaded: boolean;
  /** Why it does not load. */
  reason?: string;
  /** What it runs on: the OpenBLAS build and threads per call, the WASM features. */
  detail?: string;
  /** The native backend's OpenBLAS: openblas_get_config() and its threads per call. */
  openblas?: { config: string; threads: number };
}

export interface BackendReport {
  /** What createKernels('auto') picks here. */
  auto: BackendStatus['name'];
  backends: BackendStatus[];
}

/** Which backends load here, why not, and what they run on (for `esmm info`). */
export async function backendReport(): Promise<BackendReport> {
  let wasm: BackendStatus;
  try {
    await createWasmKernels();
    wasm = { name: 'wasm', loaded: true, detail: `WASM SIMD128${wasmVariant() === 'relaxed' ? ' with relaxed (fused) multiply-add' : ''}, shared memory` };
  } catch (error) {
    wasm = { name: 'wasm', loaded: false, reason: (error as Error).message };
  }
  const addon = nativeStatus();
  let native: BackendStatus;
  if (!addon.loaded) native = { name: 'native', loaded: false, reason: addon.reason };
  else if (!wasm.loaded) native = { name: 'native', loaded: false, reason: `it runs on the WASM backend, which does not load: ${wasm.reason}` };
  else {
    native = {
      name: 'native', loaded: true, detail: `${addon.openblasConfig}; OpenBLAS threads per call: ${addon.threads}`,
      openblas: { config: addon.openblasConfig, threads: addon.threads },
    };
  }
  const backends = [native, wasm, { name: 'reference', loaded: true, detail: 'plain TypeScript' } satisfies BackendStatus];
  return { auto: backends.find((b) => b.loaded)!.name, backends };
}
