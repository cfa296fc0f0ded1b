/**
 * The synthetic benchmark: the benchmark model of DESIGN.md (17 fields, ~1M embedding rows, dim 18, towers
 * 306→200→80→1) trained on random skewed batches, batch 1024 and 4096: training and inference samples/s
 * and peak RSS per backend and thread count (worker threads sharing the model, as `esmm train` runs),
 * each measured in a child process of its own (so peak RSS is per case), and the PyTorch peer
 * (../shared/bench/torch_esmm.py --synthetic) on 1 and 2 threads in the same run when /usr/bin/python3 has
 * torch. Prints numbers, never fails on time. `--json` prints one JSON object a line.
 *
 *   node dist/bench/bench.js [--json] [--backends native,wasm] [--threads 1,2] [--batches 1024,4096] [--steps 40]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Batch } from '../src/data/batch.js';
import { createKernels, type BackendName } from '../src/engine/backend.js';
import { EsmmModel } from '../src/model/esmm.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { openRunner } from '../src/train/parallel/pool.js';
import { packageRoot } from '../src/util/package-root.js';
import { Rng } from '../src/util/rng.js';

/** The PyTorch peer, in ../shared beside the package. */
const PEER_SCRIPT = join(packageRoot(), '..', 'shared', 'bench', 'torch_esmm.py');

/** The peer's synthetic vocabularies (torch_esmm.py), so both train the same model. */
const VOCABS = [400000, 400000, 100000, 50000, 20000, 10000, 10000, 5000, 2000, 1000, 1000, 500, 200, 100, 50, 20, 10];

interface Result {
  name: string;
  backend: string;
  threads: number;
  batch: number;
  samples_per_s: number;
  peak_rss_mb: number;
  peer?: string;
  [key: string]: unknown;
}

/** Random batches with ids skewed toward the head (u³), CTR 4%, CVR 12.5% — as the peer draws them. */
function randomBatch(rng: Rng, size: number): Batch {
  const fields = VOCABS.map((v) => ({
    ids: Int32Array.from({ length: size }, () => Math.min(v - 1, Math.floor(v * rng.uniform() ** 3))),
    offsets: Int32Array.from({ length: size + 1 }, (_, i) => i),
    weights: null,
  }));
  const click = Float32Array.from({ length: size }, () => (rng.uniform() < 0.04 ? 1 : 0));
  const buy = Float32Array.from(click, (c) => (c && rng.uniform() < 0.125 ? 1 : 0));
  return { size, click, buy, fields, dense: new Float32Array(0), denseWidth: 0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** One case, in this process: training steps then inference passes; samples/s is the median over rounds. */
async function runCase(backend: BackendName, threads: number, batch: number, steps: number): Promise<Result[]> {
  const k = await createKernels(backend);
  const model = new EsmmModel(k, {
    kind: 'esmm', features: VOCABS.map((rows, i) => ({ name: `f${i}`, rows, pooling: 'sum' as const })),
    embeddingDim: 18, hidden: [200, 80], activation: 'relu', dropout: 0, ctrWeight: 1, ctcvrWeight: 1,
    l2Tower: 0, l2Embedding: 0, embeddingInitStd: 0.1, denseInit: 'he_uniform',
  }, batch);
  model.init(new Rng(1));
  const opt = new Optimizer(k, model.denseParams(), model.embeddingParams(), {
    learningRate: 1e-3, embeddingOptimizer: 'adam', embeddingLearningRate: 1e-3, l2Tower: 0, l2Embedding: 0,
  });
  const runner = await openRunner({ kernels: k, model, optimizer: opt, threads });
  const rng = new Rng(7), dropout = new Rng(3);
  const batches = Array.from({ length: 8 }, () => randomBatch(rng, batch));
  for (let i = 0; i < 3; i++) await runner.trainStep(batches[i % 8], dropout);
  const rounds = 5, perRound = Math.max(1, Math.round(steps / rounds));
  const trainRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < perRound; i++) await runner.trainStep(batches[i % 8], dropout);
    trainRates.push((perRound * batch) / ((performance.now() - t) / 1000));
  }
  // inference in blocks of 4 batches, as eval and predict score their chunks
  const block = randomBatch(rng, 4 * batch);
  const pctr = new Float32Array(block.size), pcvr = new Float32Array(block.size);
  const inferRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < Math.max(1, perRound / 2); i++) await runner.predict(block, pctr, pcvr);
    inferRates.push((Math.max(1, perRound / 2) * block.size) / ((performance.now() - t) / 1000));
  }
  await runner.close();
  const rss = Math.round(process.resourceUsage().maxRSS / 1024);
  const common = { backend: k.name, threads: runner.threads, batch, peak_rss_mb: rss };
  return [
    { name: 'train', ...common, samples_per_s: Math.round(median(trainRates)) },
    { name: 'inference', ...common, samples_per_s: Math.round(median(inferRates)) },
  ];
}

function peer(batch: number, threads: number, steps: number): Result | null {
  const path = PEER_SCRIPT;
  if (!existsSync('/usr/bin/python3') || !existsSync(path)) return null;
  if (threads === 1 && !existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3')) {
    process.stderr.write('peer: Debian torch is using the reference BLAS (about 15× slower); apt-get install -y libopenblas0-pthread for its best\n');
  }
  const r = spawnSync('/usr/bin/python3', [path, '--synthetic', '--batch', String(batch), '--threads', String(threads), '--steps', String(steps)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return null;
  const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  return { name: 'train', backend: `pytorch ${line.torch}`, threads, batch, samples_per_s: line.samples_per_s, peak_rss_mb: line.peak_rss_mb, peer: 'pytorch' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      backends: { type: 'string', default: 'native,wasm' },
      threads: { type: 'string', default: '1,2' },
      batches: { type: 'string', default: '1024,4096' },
      steps: { type: 'string', default: '40' },
      'no-peer': { type: 'boolean', default: false },
      case: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  if (values.case) {
    const [backend, threads, batch] = values.case.split(':');
    for (const r of await runCase(backend as BackendName, Number(threads), Number(batch), steps)) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const print = (r: Result) => {
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else process.stdout.write(`${r.name.padEnd(9)} ${r.backend.padEnd(18)} threads ${r.threads}  batch ${String(r.batch).padStart(4)}  ${String(r.samples_per_s).padStart(8)} samples/s  peak RSS ${r.peak_rss_mb} MB\n`);
  };
  const ours: Result[] = [];
  for (const batch of values.batches.split(',').map(Number)) {
    for (const backend of values.backends.split(',')) {
      for (const threads of values.threads.split(',').map(Number)) {
        // a child process per case, so each peak RSS is its own
        const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', `${backend}:${threads}:${batch}`, '--steps', String(backend === 'reference' ? 2 : steps)], { encoding: 'utf8' });
        if (r.status !== 0) { process.stderr.write(`${backend}, ${threads} thread(s): ${r.stderr.trim().split('\n').at(-1)}\n`); continue; }
        for (const line of r.stdout.trim().split('\n')) { const res = JSON.parse(line); ours.push(res); print(res); }
      }
    }
    if (values['no-peer']) continue;
    for (const threads of [1, 2]) {
      const p = peer(batch, threads, steps);
      if (!p) { if (threads === 1) process.stderr.write('peer: /usr/bin/python3 with torch not found (apt-get install -y python3-torch); skipped\n'); break; }
      print(p);
      for (const o of ours.filter((x) => x.name === 'train' && x.batch === batch)) {
        const ratio = { name: 'ratio', backend: o.backend, threads: o.threads, batch, samples_per_s: o.samples_per_s, peak_rss_mb: o.peak_rss_mb, peer_threads: threads, ratio: Math.round((100 * o.samples_per_s) / p.samples_per_s) / 100 };
        if (values.json) process.stdout.write(`${JSON.stringify(ratio)}\n`);
        else process.stdout.write(`  ours/peer: ${o.backend} (${o.threads} thread${o.threads === 1 ? '' : 's'}) vs pytorch (${threads} threads): ${ratio.ratio}× samples/s, RSS ${o.peak_rss_mb} vs ${p.peak_rss_mb} MB\n`);
      }
    }
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
