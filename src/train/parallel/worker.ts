/**
 * A training / scoring worker thread. It attaches to the main thread's WASM memory and builds a replica of
 * the model over the very same parameter buffers (workspaces and gradients of its own). A training step:
 * forward and backward of this thread's share of the batch, a barrier, then this thread's part of the
 * reduction and update — a slice of every dense tensor (summing the threads' gradients over it) and the
 * embedding rows it owns (row % threads), merged from every thread's sparse gradient.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from '../../data/batch.js';
import { SparseGrad } from '../../engine/embedding.js';
import type { Kernels } from '../../engine/kernels.js';
import { createKernels } from '../../engine/backend.js';
import { EsmmModel } from '../../model/esmm.js';
import { Optimizer } from '../../optim/optimizer.js';
import { scoreLines } from '../../util/format.js';
import { Rng } from '../../util/rng.js';
import { Barrier } from './barrier.js';
import { DIRECTORY, sliceOf, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;

class TrainingThread {
  private readonly barrier: Barrier;
  /** Byte offsets reach 4 GiB in a full WASM memory: unsigned. */
  private readonly directory: Uint32Array;
  private readonly optimizer: Optimizer | null;
  private readonly merged: SparseGrad[];
  private peers: Float32Array[][] = [];

  constructor(private readonly k: Kernels, readonly model: EsmmModel) {
    const control = new Int32Array(init.control);
    this.barrier = new Barrier(control.subarray(0, Barrier.CELLS), init.threads);
    this.directory = new Uint32Array(init.control, DIRECTORY * 4);
    const o = init.optimizer;
    this.optimizer = o ? new Optimizer(k, model.denseParams(), model.embeddingParams(), o.opts, new Map(o.slots)) : null;
    this.merged = init.threads > 1 && o ? model.embeddingParams().map((e) => new SparseGrad(k, e.table.rows, e.table.dim)) : [];
  }

  get denseGrads(): Float32Array[] {
    return this.optimizer?.dense.map((p) => p.grad) ?? [];
  }

  setPeers(grads: Float32Array[][]): void {
    this.peers = grads;
  }

  step(m: Extract<ToWorker, { type: 'step' }>): FromWorker {
    const opt = this.optimizer;
    if (!opt) throw new Error('this worker pool only scores');
    const { index, threads } = init;
    const rng = m.rngState ? Rng.fromState(m.rngState) : new Rng(m.seed, index);
    let objective = this.model.trainStep(m.batch, rng, m.share ?? undefined).objective;
    opt.step = m.step;
    opt.learningRate = m.learningRate;
    opt.embeddingLearningRate = m.embeddingLearningRate;
    const correction = opt.biasCorrection();
    if (threads > 1) {
      // counted once, before any thread starts updating
      if (index === 0) objective += this.model.denseL2Penalty();
      this.publishSparse(opt);
      this.barrier.wait();
    }
    opt.dense.forEach((p, i) => {
      const [lo, hi] = sliceOf(p.data.length, index, threads);
      for (let v = 0; v < threads; v++) {
        if (v !== index) this.k.axpy(hi - lo, 1, this.peers[v][i].subarray(lo, hi), p.grad.subarray(lo, hi));
      }
      opt.updateDense(i, lo, hi, correction);
    });
    const l2e = this.model.spec.l2Embedding;
    opt.embeddings.forEach((e, t) => {
      const g = threads > 1 ? this.mergeOwnedRows(t, e.table.dim) : e.grad;
      if (threads > 1 && l2e > 0) objective += 0.5 * l2e * e.table.rowSquares(g.rows, g.count);
      opt.updateRows(t, g.rows, g.grads, g.count, correction);
    });
    return { type: 'done', objective, rngState: m.rngState ? rng.state() : null };
  }

  score(batch: Batch): { pctr: Float32Array; pcvr: Float32Array } {
    const pctr = new Float32Array(batch.size), pcvr = new Float32Array(batch.size);
    this.model.predict(batch, pctr, pcvr);
    return { pctr, pcvr };
  }

  /** Writes where this thread's sparse gradients are, for the other threads to merge from. */
  private publishSparse(opt: Optimizer): void {
    const tables = opt.embeddings.length;
    opt.embeddings.forEach(({ grad }, t) => {
      const at = (init.index * tables + t) * 3;
      this.directory[at] = grad.rows.byteOffset;
      this.directory[at + 1] = grad.grads.byteOffset;
      this.directory[at + 2] = grad.count;
    });
  }

  /** The sum over all threads' sparse gradients of table t, restricted to the rows this thread owns. */
  private mergeOwnedRows(t: number, dim: number): SparseGrad {
    const { index, threads } = init;
    const merged = this.merged[t];
    merged.reset();
    const tables = this.merged.length;
    const buffer = init.memory.buffer;
    for (let v = 0; v < threads; v++) {
      const at = (v * tables + t) * 3;
      const count = this.directory[at + 2];
      const rows = new Int32Array(buffer, this.directory[at], count);
      const grads = new Float32Array(buffer, this.directory[at + 1], count * dim);
      merged.accumulate({ rows, grads, count }, threads, index);
    }
    return merged;
  }
}

async function main(): Promise<void> {
  const k = await createKernels(init.backend, { memory: init.memory });
  const model = new EsmmModel(k, init.spec, init.maxBatch, init.params);
  const thread = new TrainingThread(k, model);
  const reply = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  port.on('message', (m: ToWorker) => {
    try {
      switch (m.type) {
        case 'peers': thread.setPeers(m.grads); break;
        case 'step': reply(thread.step(m)); break;
        case 'score': {
          const { pctr, pcvr } = thread.score(m.batch);
          if (m.text) reply({ type: 'lines', text: scoreLines(pctr, pcvr, m.batch.size) });
          else reply({ type: 'scored', pctr, pcvr }, [pctr.buffer as ArrayBuffer, pcvr.buffer as ArrayBuffer]);
          break;
        }
      }
    } catch (e) {
      reply({ type: 'error', message: (e as Error).message, stack: (e as Error).stack });
    }
  });
  reply({ type: 'ready', grads: thread.denseGrads });
}

main().catch((e) => port.postMessage({ type: 'error', message: (e as Error).message, stack: (e as Error).stack } satisfies FromWorker));
