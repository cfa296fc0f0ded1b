/**
 * Where layers get their trainable tensors. A model normally allocates them fresh (and records them in
 * allocation order); the replica a worker thread builds of that model takes the very same buffers, in the
 * same order, so every thread trains one set of parameters in shared memory and no weights are copied.
 */
import type { Kernels } from './kernels.js';

export interface ParamAllocator {
  /** The next parameter tensor, n float32 values. */
  take(n: number): Float32Array;
}

/** Allocates every tensor from the backend and keeps the list, which a replica replays. */
export class FreshParams implements ParamAllocator {
  readonly buffers: Float32Array[] = [];

  constructor(private readonly k: Kernels) {}

  take(n: number): Float32Array {
    const buffer = this.k.allocF32(n);
    this.buffers.push(buffer);
    return buffer;
  }
}

/** Hands out another model's buffers in its allocation order, checking that the shapes line up. */
export class SharedParams implements ParamAllocator {
  private next = 0;

  constructor(readonly buffers: readonly Float32Array[]) {}

  take(n: number): Float32Array {
    const buffer = this.buffers[this.next];
    if (!buffer || buffer.length !== n) {
      throw new Error(`replica parameter ${this.next}: expected ${n} values, the shared model has ${buffer ? buffer.length : 'none'}`);
    }
    this.next++;
    return buffer;
  }

  /** Throws unless every shared buffer was taken (the replica has exactly the model's tensors). */
  checkComplete(): void {
    if (this.next !== this.buffers.length) throw new Error(`replica took ${this.next} of the model's ${this.buffers.length} parameter tensors`);
  }
}
