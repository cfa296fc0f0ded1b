/**
 * GFLOP/s of the three GEMM shapes of the benchmark model's dense layers (306→200→80→1) at batch 1024 and
 * 4096, one column per kernel backend, and native's speed-up over WASM. Prints numbers only.
 *
 *   node --import tsx bench/gemm.ts [backend ...]     (default: reference wasm native, native when built)
 */

import { createKernels, type BackendName } from '../src/engine/backend.js';
import type { Kernels } from '../src/engine/kernels.js';
import { nativeStatus } from '../src/engine/native.js';

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

const SHAPES: Array<[Shape, string]> = [['gemm', 'Y=X·W'], ['gemmTN', 'dW=Xᵀ·dY'], ['gemmNT', 'dX=dY·Wᵀ']];

/** "wall (cpu)" GFLOP/s of one shape of one layer. */
function benchShape(kernels: Kernels, shape: Shape, batch: number, inputs: number, outputs: number): { text: string; perCpu: number } {
  const x = kernels.allocF32(batch * inputs);
  const w = kernels.allocF32(inputs * outputs);
  const y = kernels.allocF32(batch * outputs);
  const dX = kernels.allocF32(batch * inputs);
  const dW = kernels.allocF32(inputs * outputs);
  for (const buffer of [x, w, y]) randomFill(buffer);
  const run = {
    gemm: () => kernels.gemm(batch, outputs, inputs, x, w, y, false),
    gemmTN: () => kernels.gemmTN(batch, outputs, inputs, x, y, dW, false),
    gemmNT: () => kernels.gemmNT(batch, outputs, inputs, y, w, dX, false),
  }[shape];
  const gflop = (2 * batch * inputs * outputs) / 1e9;
  const { cpu, wallMedian } = timePerCall(run);
  return { text: `${(gflop / wallMedian).toFixed(1)} (${(gflop / cpu).toFixed(1)})`, perCpu: gflop / cpu };
}

async function main(): Promise<void> {
  const requested = (process.argv.length > 2 ? process.argv.slice(2) : ['reference', 'wasm', 'native']) as BackendName[];
  const backends: Kernels[] = [];
  const native = nativeStatus();
  for (const name of requested) {
    // Named on the command line, a missing native backend is an error; by default it is left out.
    if (name === 'native' && !native.loaded && process.argv.length <= 2) {
      console.log(`native skipped: ${native.reason}`);
      continue;
    }
    backends.push(await createKernels(name));
  }
  const names = backends.map((k) => k.name);
  const ratio = names.includes('native') && names.includes('wasm');
  // The ratio uses CPU time, which other processes on a busy machine disturb less than wall-clock time.
  console.log(`GFLOP/s, single thread: median call (per CPU-second)${ratio ? '; native/wasm per CPU-second' : ''}`);
  console.log(`batch  layer     shape            ${names.map((n) => n.padStart(13)).join('  ')}${ratio ? '  native/wasm' : ''}`);
  for (const batch of BATCHES) {
    for (const [inputs, outputs] of LAYERS) {
      for (const [shape, formula] of SHAPES) {
        const results = backends.map((k) => benchShape(k, shape, batch, inputs, outputs));
        const perCpu = Object.fromEntries(names.map((n, i) => [n, results[i].perCpu]));
        console.log(
          `${String(batch).padStart(5)}  ${`${inputs}→${outputs}`.padEnd(8)}  ${`${shape} ${formula}`.padEnd(15)}  ` +
            `${results.map((r) => r.text.padStart(13)).join('  ')}${ratio ? `  ${(perCpu.native / perCpu.wasm).toFixed(2).padStart(10)}×` : ''}`,
        );
      }
    }
  }
}

await main();
