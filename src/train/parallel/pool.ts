/**
 * Data-parallel training and scoring on worker threads that share one model in a SharedArrayBuffer (the
 * WASM memory): each step splits the batch between the threads, which compute their gradients, then each
 * reduces and applies its own part of the update (worker.ts). No parameter is ever copied.
 *
 * The main thread only prepares batches and waits: while the threads work on one step, its event loop is
 * free to read and encode the next batches (see util/prefetch.ts).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { copyRows, type Batch } from '../../data/batch.js';
import type { Kernels } from '../../engine/kernels.js';
import { EsmmError } from '../../errors.js';
import type { BatchShare, EsmmModel } from '../../model/esmm.js';
import type { Optimizer } from '../../optim/optimizer.js';
import { scoreLines } from '../../util/format.js';
import type { Rng } from '../../util/rng.js';
import { Barrier } from './barrier.js';
import { controlBlockBytes, sliceOf, type FromWorker, type SharedBackend, type ToWorker, type WorkerInit } from './protocol.js';

/** What the trainer and the scorers need of a model: one step of training, and scoring. */
export interface ModelRunner {
  readonly threads: number;
  /** Forward, backward and update of one batch; resolves to the objective. */
  trainStep(batch: Batch, rng: Rng): Promise<number>;
  /** pCTR and pCVR of every row of b, written at `offset`. */
  predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset?: number): Promise<void>;
  /** The `pctr,pcvr,pctcvr` lines of every row of b (formatted where they are scored). */
  predictLines(b: Batch): Promise<string>;
  close(): Promise<void>;
}

/** The model and optimizer on the calling thread (any backend, e.g. the reference kernels). */
export class LocalRunner implements ModelRunner {
  readonly threads = 1;

  constructor(private readonly model: EsmmModel, private readonly optimizer: Optimizer | null) {}

  async trainStep(batch: Batch, rng: Rng): Promise<number> {
    if (!this.optimizer) throw new Error('this runner only scores');
    const { objective } = this.model.trainStep(batch, rng);
    this.optimizer.apply();
    return objective;
  }

  async predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset = 0): Promise<void> {
    this.model.predict(b, pctr, pcvr, offset);
  }

  async predictLines(b: Batch): Promise<string> {
    const pctr = new Float32Array(b.size), pcvr = new Float32Array(b.size);
    this.model.predict(b, pctr, pcvr);
    return scoreLines(pctr, pcvr, b.size);
  }

  async close(): Promise<void> {}
}

/** One worker thread and the replies it owes, in order. */
class Thread {
  private readonly pending: Array<{ resolve: (m: FromWorker) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;

  constructor(readonly worker: Worker, private readonly onFailure: (e: Error) => void) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') return this.fail(new Error(`worker thread: ${m.message}${m.stack ? `\n${m.stack}` : ''}`));
      this.pending.shift()?.resolve(m);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`worker thread exited (code ${code})`)));
  }

  /** The next reply (the first one, 'ready', is owed without a request). */
  reply(): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  /** Posts m, moving (not copying) the `transfer` buffers, which the caller must not touch again. */
  send(m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const r = this.reply();
    this.worker.postMessage(m, transfer);
    return r;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.splice(0)) p.reject(e);
    this.onFailure(e);
  }
}

export interface PoolOptions {
  kernels: Kernels;
  model: EsmmModel;
  /** Null for a pool that only scores. */
  optimizer: Optimizer | null;
  threads: number;
}

export class WorkerPool implements ModelRunner {
  private closed = false;

  private constructor(
    private readonly threadList: Thread[], private readonly barrier: Barrier,
    private readonly model: EsmmModel, private readonly optimizer: Optimizer | null,
  ) {}

  get threads(): number {
    return this.threadList.length;
  }

  static async start(o: PoolOptions): Promise<WorkerPool> {
    const memory = (o.kernels as Kernels & { memory?: WebAssembly.Memory }).memory;
    if (!memory || o.kernels.name === 'reference') throw new EsmmError(`the ${o.kernels.name} backend cannot share its buffers with worker threads`);
    const threads = o.threads;
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new EsmmError(`threads must be an integer from 1 to 256, got ${threads}`);
    const control = new SharedArrayBuffer(controlBlockBytes(threads, o.model.embeddingParams().length));
    const barrier = new Barrier(new Int32Array(control, 0, Barrier.CELLS), threads);
    const optimizer = o.optimizer ? { opts: o.optimizer.opts, slots: [...o.optimizer.slots] } : null;
    const list: Thread[] = [];
    const onFailure = () => barrier.abort();
    for (let index = 0; index < threads; index++) {
      const init: WorkerInit = {
        // a thread's share of a batch is at most ceil(batch / threads) rows, so its workspaces need no more
        index, threads, backend: o.kernels.name as SharedBackend, memory, spec: o.model.spec, maxBatch: Math.ceil(o.model.maxBatch / threads),
        params: [...o.model.paramBuffers], optimizer, control,
      };
      list.push(new Thread(new Worker(new URL('./worker.js', import.meta.url), { workerData: init }), onFailure));
    }
    const pool = new WorkerPool(list, barrier, o.model, o.optimizer);
    try {
      const ready = await Promise.all(list.map((t) => t.reply()));
      const grads = ready.map((m) => (m as Extract<FromWorker, { type: 'ready' }>).grads);
      for (const t of list) t.worker.postMessage({ type: 'peers', grads } satisfies ToWorker);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  async trainStep(batch: Batch, rng: Rng): Promise<number> {
    const opt = this.optimizer;
    if (!opt) throw new Error('this pool only scores');
    opt.step++;
    const common = { step: opt.step, learningRate: opt.learningRate, embeddingLearningRate: opt.embeddingLearningRate };
    if (this.threads === 1) {
      const done = await this.threadList[0].send({ type: 'step', batch, ...common, share: null, rngState: rng.state(), seed: 0 });
      const d = done as Extract<FromWorker, { type: 'done' }>;
      rng.setState(d.rngState!);
      return d.objective;
    }
    // the baselines' row weights are drawn once for the whole batch, so the split does not change them
    const weights = this.model.usesRowWeights ? this.model.secondTaskWeights(batch, rng).slice() : null;
    let totalWeight = 0;
    if (weights) for (let i = 0; i < weights.length; i++) totalWeight += weights[i];
    const seed = rng.u32();
    const replies = this.split(batch.size).map(([start, end], w) => {
      const share: BatchShare = { totalRows: batch.size, rowWeights: weights ? weights.slice(start, end) : null, totalWeight };
      const part = copyRows(batch, start, end);
      return this.threadList[w].send({ type: 'step', batch: part, ...common, share, rngState: null, seed }, batchBuffers(part));
    });
    let objective = 0;
    for (const r of await Promise.all(replies)) objective += (r as Extract<FromWorker, { type: 'done' }>).objective;
    return objective;
  }

  async predict(b: Batch, pctr: Float32Array, pcvr: Float32Array, offset = 0): Promise<void> {
    const parts = this.split(b.size);
    const replies = await this.score(b, parts, false);
    replies.forEach((r, w) => {
      const s = r as Extract<FromWorker, { type: 'scored' }>;
      pctr.set(s.pctr, offset + parts[w][0]);
      pcvr.set(s.pcvr, offset + parts[w][0]);
    });
  }

  async predictLines(b: Batch): Promise<string> {
    const replies = await this.score(b, this.split(b.size), true);
    return replies.map((r) => (r as Extract<FromWorker, { type: 'lines' }>).text).join('');
  }

  /** Each thread scores its share of the rows. */
  private score(b: Batch, parts: Array<[number, number]>, text: boolean): Promise<FromWorker[]> {
    return Promise.all(parts.map(([start, end], w) => {
      if (this.threads === 1) return this.threadList[w].send({ type: 'score', batch: b, text });
      const part = copyRows(b, start, end);
      return this.threadList[w].send({ type: 'score', batch: part, text }, batchBuffers(part));
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.barrier.abort();
    await Promise.all(this.threadList.map((t) => t.worker.terminate()));
  }

  /** Row ranges of the threads' shares. */
  private split(n: number): Array<[number, number]> {
    return this.threadList.map((_, w) => sliceOf(n, w, this.threads));
  }
}

/** The buffers of a batch made by copyRows (each array has its own), to move to a worker. */
function batchBuffers(b: Batch): ArrayBuffer[] {
  const arrays = [b.click, b.buy, b.dense, ...b.fields.flatMap((f) => (f.weights ? [f.ids, f.offsets, f.weights] : [f.ids, f.offsets]))];
  return arrays.map((a) => a.buffer as ArrayBuffer);
}

/** Threads when none are asked for: every core. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * The runner for a model: worker threads on a backend with shared memory, else (the reference kernels)
 * the calling thread.
 */
export async function openRunner(o: Omit<PoolOptions, 'threads'> & { threads?: number }): Promise<ModelRunner> {
  if (o.kernels.name === 'reference') return new LocalRunner(o.model, o.optimizer);
  return WorkerPool.start({ ...o, threads: o.threads ?? defaultThreads() });
}

/** Runs `fn` with a runner for the model, closing its threads afterwards whatever happens. */
export async function withRunner<T>(o: Parameters<typeof openRunner>[0], fn: (runner: ModelRunner) => Promise<T>): Promise<T> {
  const runner = await openRunner(o);
  try {
    return await fn(runner);
  } finally {
    await runner.close();
  }
}
