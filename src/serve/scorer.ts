/**
 * What the HTTP layer needs from a scorer: the scores of an encoded batch, asynchronously, and a close
 * that finishes the work already given. Implementations: InlineScorer (this thread) and PoolScorer
 * (worker threads, pool-scorer.ts); a multi-core or remote scorer plugs in the same way.
 */
import type { Batch } from '../data/batch.js';
import type { EsmmModel } from '../model/esmm.js';
import { scoreBatch, type ScoreTriples } from './scoring.js';

export interface Scorer {
  /** Human-readable kind, for logs and /v1/model. */
  readonly kind: string;
  score(batch: Batch): Promise<ScoreTriples>;
  /** Resolves once every batch given so far is scored; score() must not be called afterwards. */
  close(): Promise<void>;
}

/**
 * Scores on the calling thread, but from a queue drained in a later turn of the event loop: requests
 * that arrive while it is busy wait in the queue (where the in-flight count sees them) rather than
 * unseen in socket buffers, and I/O is served between drains.
 */
export class InlineScorer implements Scorer {
  readonly kind = 'inline';
  private queue: Array<{ batch: Batch; resolve: (s: ScoreTriples) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private idle: Array<() => void> = [];

  constructor(private readonly model: EsmmModel) {}

  score(batch: Batch): Promise<ScoreTriples> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  close(): Promise<void> {
    return this.queue.length === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private drain(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    for (const job of jobs) {
      try {
        job.resolve(scoreBatch(this.model, job.batch));
      } catch (e) {
        job.reject(e);
      }
    }
    if (this.queue.length === 0) for (const done of this.idle.splice(0)) done();
  }
}
