/**
 * A compact hash index from string keys to file positions, for joins in bounded memory. Keys are not
 * stored: each is reduced to three independent 32-bit hashes (96 bits; for a million keys the chance of
 * any two colliding is about 1e-17), and whoever reads the position back checks the key there, so a
 * collision would be reported, never silently joined. An entry costs 16 bytes plus 16 bytes per slot
 * (two to four slots per entry), against ~150 bytes for a Map entry with a string key.
 */

/** hashKey() writes its three hashes here (no allocation per key). */
export const KEY_HASH = new Uint32Array(3);

/** The three hashes of `key` (char codes, which for latin1 text are the bytes) into KEY_HASH. */
export function hashKey(key: string): void {
  let a = 0x811c9dc5, b = 0x9747b28c ^ key.length, c = 0x3c6ef372;
  for (let i = 0; i < key.length; i++) {
    const k = key.charCodeAt(i);
    a = Math.imul(a ^ k, 0x01000193);
    b = Math.imul(b ^ k, 0x5bd1e995);
    b ^= b >>> 15;
    c = Math.imul(c + k, 0x2545f491);
    c = (c << 13) | (c >>> 19);
  }
  KEY_HASH[0] = fmix(a);
  KEY_HASH[1] = fmix(b ^ 0x85ebca6b);
  KEY_HASH[2] = fmix(c + 0xc2b2ae35);
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bytes a table of `entries` entries takes at most (slots at load ≤ 1/2, rounded up to a power of two). */
export const MAX_BYTES_PER_ENTRY = 80;

/** Open addressing, linear probing; the number of entries is fixed at construction. */
export class KeyTable {
  readonly offsets: Float64Array;
  readonly lengths: Uint32Array;
  readonly lines: Uint32Array;
  size = 0;
  private readonly h0: Uint32Array;
  private readonly h1: Uint32Array;
  private readonly h2: Uint32Array;
  /** Entry index + 1 per slot; 0 = empty. */
  private readonly slots: Uint32Array;
  private readonly mask: number;

  constructor(readonly capacity: number) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.mask = n - 1;
    this.slots = new Uint32Array(n);
    this.h0 = new Uint32Array(n);
    this.h1 = new Uint32Array(n);
    this.h2 = new Uint32Array(n);
    this.offsets = new Float64Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
  }

  /** Adds the key whose hashes are in KEY_HASH-like (a, b, c); false (and nothing changes) when it is already there. */
  insert(a: number, b: number, c: number, offset: number, length: number, line: number): boolean {
    let s = b & this.mask;
    for (;;) {
      const e = this.slots[s];
      if (e === 0) break;
      if (this.h0[s] === a && this.h1[s] === b && this.h2[s] === c) return false;
      s = (s + 1) & this.mask;
    }
    if (this.size === this.capacity) throw new Error('KeyTable: full');
    const e = this.size++;
    this.slots[s] = e + 1;
    this.h0[s] = a;
    this.h1[s] = b;
    this.h2[s] = c;
    this.offsets[e] = offset;
    this.lengths[e] = length;
    this.lines[e] = line;
    return true;
  }

  /** Entry index of the key with hashes (a, b, c), or -1. */
  find(a: number, b: number, c: number): number {
    let s = b & this.mask;
    for (;;) {
      const e = this.slots[s];
      if (e === 0) return -1;
      if (this.h0[s] === a && this.h1[s] === b && this.h2[s] === c) return e - 1;
      s = (s + 1) & this.mask;
    }
  }
}
