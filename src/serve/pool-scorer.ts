/** Scores on a pool of worker threads (piscina), each with its own copy of the model. */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Batch } from '../data/batch.js';
import type { Scorer } from './scorer.js';
import type { ScoreTriples } from './scoring.js';
import type { ScoreWorkerData } from './score-worker.js';

export class PoolScorer implements Scorer {
  readonly kind: string;
  private readonly pool: Piscina<Batch, ScoreTriples>;

  private constructor(readonly threads: number, data: ScoreWorkerData) {
    this.kind = `worker pool (${threads} thread${threads === 1 ? '' : 's'})`;
    this.pool = new Piscina({
      filename: new URL('./score-worker.js', import.meta.url).href,
      minThreads: threads, maxThreads: threads, idleTimeout: 2 ** 31 - 1,
      // the HTTP layer bounds what is in flight; the pool's own queue never refuses
      maxQueue: Infinity,
      workerData: { ...data, weights: shared(data.weights) },
    });
  }

  /** A started pool whose every worker has loaded the model (a failure to load rejects, and the pool is gone). */
  static async start(threads: number, data: ScoreWorkerData, warmup: Batch): Promise<PoolScorer> {
    const s = new PoolScorer(threads, data);
    try {
      await Promise.all(Array.from({ length: threads * 2 }, () => s.score(warmup)));
    } catch (e) {
      await s.pool.destroy();
      throw e;
    }
    return s;
  }

  score(batch: Batch): Promise<ScoreTriples> {
    return this.pool.run(batch);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Default size of the pool: every core but the one the HTTP thread needs. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

function shared(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  out.set(bytes);
  return out;
}
