/**
 * GFLOP/s of the three GEMM shapes of the benchmark model's dense layers (306→200→80→1) at batch 1024 and
 * 4096, for each kernel backend. Prints numbers only.
 *
 *   node --import tsx bench/gemm.ts [backend ...]     (default: reference wasm)
 */

import { createKernels, type BackendName } from '../src/engine/backend.js';
import type { Kernels } from '../src/engine/kernels.js';

const BATCHES = [1024, 4096];
const LAYERS: Array<[inputs: number, outputs: number]> = [[306, 200], [200, 80], [80, 1]];
const MIN_SECONDS = 0.5;
const MIN_CALLS = 3;

type Shape = 'gemm' | 'gemmTN' | 'gemmNT';

function randomFill(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.random() * 2 - 1;
}

/**
 * Seconds per call of `run` after a warm-up call (which also lets V8 tier the WASM code up): per CPU-second
 * of this process (so time slices lost to other processes on a busy machine do not count) and the median
 * wall-clock call.
 */
function timePerCall(run: () => void): { cpu: number; wallMedian: number } {
  run();
  const times: number[] = [];
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (times.length < MIN_CALLS || performance.now() - start < MIN_SECONDS * 1000) {
    const t0 = performance.now();
    run();
    times.push((performance.now() - t0) / 1000);
  }
  const cpu = process.cpuUsage(cpuStart);
  times.sort((x, y) => x - y);
  return { cpu: (cpu.user + cpu.system) / 1e6 / times.length, wallMedian: times[Math.floor(times.length / 2)] };
}

function benchLayer(kernels: Kernels, batch: number, inputs: number, outputs: number): Record<Shape, string> {
  const x = kernels.allocF32(batch * inputs);
  const w = kernels.allocF32(inputs * outputs);
  const y = kernels.allocF32(batch * outputs);
  const dX = kernels.allocF32(batch * inputs);
  const dW = kernels.allocF32(inputs * outputs);
  for (const buffer of [x, w, y]) randomFill(buffer);
  const gflop = (2 * batch * inputs * outputs) / 1e9;
  const rate = (run: () => void) => {
    const { cpu, wallMedian } = timePerCall(run);
    return `${(gflop / cpu).toFixed(1)} (${(gflop / wallMedian).toFixed(1)})`;
  };
  return {
    gemm: rate(() => kernels.gemm(batch, outputs, inputs, x, w, y, false)),
    gemmTN: rate(() => kernels.gemmTN(batch, outputs, inputs, x, y, dW, false)),
    gemmNT: rate(() => kernels.gemmNT(batch, outputs, inputs, y, w, dX, false)),
  };
}

async function main(): Promise<void> {
  const names = (process.argv.length > 2 ? process.argv.slice(2) : ['reference', 'wasm']) as BackendName[];
  console.log('GFLOP/s, single thread: per CPU-second (per wall-clock second, median call)');
  console.log('backend    batch  layer       gemm Y=X·W   gemmTN dW=Xᵀ·dY  gemmNT dX=dY·Wᵀ');
  for (const name of names) {
    const kernels = await createKernels(name);
    for (const batch of BATCHES) {
      for (const [inputs, outputs] of LAYERS) {
        const r = benchLayer(kernels, batch, inputs, outputs);
        console.log(
          `${kernels.name.padEnd(10)} ${String(batch).padStart(5)}  ${`${inputs}→${outputs}`.padEnd(8)}` +
            `  ${r.gemm.padStart(13)}  ${r.gemmTN.padStart(15)}  ${r.gemmNT.padStart(15)}`,
        );
      }
    }
  }
}

await main();
