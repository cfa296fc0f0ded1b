/** Learning-rate schedules: the factor applied to the base learning rates before each step. */
import type { LrScheduleConfig } from '../config.js';

/**
 * The learning rate for optimizer step `step` (0-based: the step about to be applied). Exponential decay
 * as in TensorFlow / EasyRec: base · factor^(step / decay_steps), the exponent floored when staircase,
 * never below min_learning_rate.
 */
export function learningRateAt(base: number, schedule: LrScheduleConfig, step: number): number {
  if (schedule.type === 'constant') return base;
  const p = step / schedule.decay_steps;
  const lr = base * schedule.decay_factor ** (schedule.staircase ? Math.floor(p) : p);
  return Math.max(schedule.min_learning_rate, lr);
}
