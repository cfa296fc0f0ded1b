/**
 * The buffers of the WASM backend: a bump allocator over a shared WebAssembly.Memory, and the check that a
 * view handed to a kernel really lies in that memory.
 *
 * Layout: [0, 1 MiB) is left to AssemblyScript (its static data; address 0 doubles as the null pointer),
 * a small header at 1 MiB holds the memory's random identity and the bump pointer, buffers follow. The
 * header lives in the shared memory itself, so backends of several threads attached to one memory
 * allocate from the same arena and recognise each other's views.
 */

const PAGE_BYTES = 65536;
const HEADER = 1 << 20;
const ARENA_START = HEADER + 64;
const MAX_BYTES = 2 ** 32 - PAGE_BYTES;
const ALIGN = 16;
// Uint32 slots of the header.
const ID0 = 0;
const ID1 = 1;
const BUMP = 2;

export const MAX_PAGES = 65536;
export const INITIAL_PAGES = Math.ceil(ARENA_START / PAGE_BYTES) + 16;

export class WasmArena {
  private readonly header: Uint32Array;
  private readonly known = new WeakSet<ArrayBufferLike>();
  private lastBuffer: ArrayBufferLike;

  /** Sets up a fresh memory, or attaches to one that another arena (perhaps in another thread) set up. */
  constructor(readonly memory: WebAssembly.Memory) {
    const buffer = memory.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('the WASM kernels need a shared WebAssembly.Memory');
    this.ensureBytes(ARENA_START);
    this.lastBuffer = this.memory.buffer;
    this.known.add(this.lastBuffer);
    this.header = new Uint32Array(this.lastBuffer, HEADER, 4);
    if (Atomics.load(this.header, BUMP) === 0) {
      const id = crypto.getRandomValues(new Uint32Array(2));
      Atomics.store(this.header, ID0, id[0]);
      Atomics.store(this.header, ID1, id[1]);
      Atomics.store(this.header, BUMP, ARENA_START);
    }
  }

  allocF32(n: number): Float32Array {
    const offset = this.reserve(n, 'allocF32');
    return new Float32Array(this.viewBuffer(), offset, n);
  }

  allocI32(n: number): Int32Array {
    const offset = this.reserve(n, 'allocI32');
    return new Int32Array(this.viewBuffer(), offset, n);
  }

  /** The byte offset of `view`, after checking that it lies in this arena's memory. */
  pointer(view: Float32Array | Int32Array, kernel: string, name: string): number {
    const buffer = view.buffer;
    if (buffer !== this.lastBuffer && !this.known.has(buffer)) this.adopt(buffer, kernel, name);
    return view.byteOffset;
  }

  /** Reserves n 4-byte elements; memory is never reused, so it is still zero. */
  private reserve(n: number, what: string): number {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: ${n} is not a valid length`);
    const bytes = Math.ceil((n * 4) / ALIGN) * ALIGN;
    for (;;) {
      const start = Atomics.load(this.header, BUMP);
      const end = start + bytes;
      if (end > MAX_BYTES) throw new RangeError(`${what}(${n}): the 4 GiB WASM memory is exhausted`);
      if (Atomics.compareExchange(this.header, BUMP, start, end) === start) {
        this.ensureBytes(end);
        return start;
      }
    }
  }

  private ensureBytes(bytes: number): void {
    while (this.memory.buffer.byteLength < bytes) {
      const missingPages = Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE_BYTES);
      try {
        this.memory.grow(missingPages);
      } catch (error) {
        // Another thread may have grown the memory in the meantime.
        if (this.memory.buffer.byteLength < bytes) throw error;
      }
    }
  }

  /** The current buffer object (a new one after every grow); views over it are recognised as ours. */
  private viewBuffer(): ArrayBufferLike {
    const buffer = this.memory.buffer;
    this.known.add(buffer);
    this.lastBuffer = buffer;
    return buffer;
  }

  /** Accepts a buffer object not seen yet (e.g. received from another thread) if it shows our identity. */
  private adopt(buffer: ArrayBufferLike, kernel: string, name: string): void {
    if (buffer instanceof SharedArrayBuffer && buffer.byteLength >= ARENA_START) {
      const id = new Uint32Array(buffer, HEADER, 2);
      if (id[0] === this.header[ID0] && id[1] === this.header[ID1]) {
        this.known.add(buffer);
        return;
      }
    }
    throw new TypeError(`${kernel}: ${name} is not a buffer of this WASM backend (allocate it with allocF32/allocI32)`);
  }
}
