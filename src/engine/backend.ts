/** Picks a kernel backend by name; 'auto' takes the fastest one that loads here. */

import type { Kernels } from './kernels.js';
import { referenceKernels } from './reference.js';
import { createWasmKernels } from './wasm.js';

export type BackendName = 'auto' | 'wasm' | 'reference';

export async function createKernels(name: BackendName = 'auto'): Promise<Kernels> {
  switch (name) {
    case 'reference':
      return referenceKernels;
    case 'wasm':
      return createWasmKernels();
    case 'auto':
      try {
        return await createWasmKernels();
      } catch (error) {
        process.emitWarning(`WASM kernels unavailable, using the reference kernels: ${(error as Error).message}`);
        return referenceKernels;
      }
    default:
      throw new TypeError(`unknown kernel backend ${String(name)} (expected auto, wasm or reference)`);
  }
}
