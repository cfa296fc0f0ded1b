/** Early stopping on one evaluation metric, with patience; remembers the best epoch. */
import type { EarlyStoppingConfig } from '../config.js';
import type { EpochRecord } from '../io/model-dir.js';

export class EarlyStopping {
  bestEpoch: number | null = null;
  bestValue: number | null = null;
  /** Evaluations since the last improvement. */
  stale = 0;
  private readonly higherIsBetter: boolean;

  /** `history`: epochs already trained (a resumed run), replayed to restore the state. */
  constructor(readonly cfg: EarlyStoppingConfig, history: EpochRecord[] = []) {
    this.higherIsBetter = cfg.metric.endsWith('_auc');
    for (const r of history) this.observe(r);
  }

  /** Record an evaluated epoch; true when it is the new best. Epochs without the metric are ignored. */
  observe(r: EpochRecord): boolean {
    const v = r.eval?.[this.cfg.metric];
    if (typeof v !== 'number') return false;
    const gain = this.bestValue === null ? Infinity : this.higherIsBetter ? v - this.bestValue : this.bestValue - v;
    if (gain > this.cfg.min_delta) {
      this.bestEpoch = r.epoch;
      this.bestValue = v;
      this.stale = 0;
      return true;
    }
    this.stale++;
    return false;
  }

  get shouldStop(): boolean {
    return this.stale >= this.cfg.patience;
  }
}
