/**
 * A reusable barrier for a fixed number of threads over three Int32 cells of shared memory. An abort flag
 * wakes every waiter with an error, so one thread's failure never leaves the others blocked for ever.
 */
const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;

export class BarrierAborted extends Error {}

export class Barrier {
  static readonly CELLS = 3;

  constructor(private readonly cells: Int32Array, private readonly parties: number) {}

  /** Blocks until all parties have arrived (call from worker threads only: it uses Atomics.wait). */
  wait(): void {
    const { cells } = this;
    const generation = Atomics.load(cells, GENERATION);
    if (Atomics.add(cells, COUNT, 1) === this.parties - 1) {
      Atomics.store(cells, COUNT, 0);
      Atomics.add(cells, GENERATION, 1);
      Atomics.notify(cells, GENERATION);
      return;
    }
    while (Atomics.load(cells, GENERATION) === generation) {
      if (Atomics.load(cells, ABORT) !== 0) throw new BarrierAborted('another thread failed');
      // the timeout only bounds the window in which an abort could be missed between the check and the wait
      Atomics.wait(cells, GENERATION, generation, 500);
    }
  }

  abort(): void {
    Atomics.store(this.cells, ABORT, 1);
    Atomics.notify(this.cells, GENERATION);
  }
}
