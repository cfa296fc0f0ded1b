/**
 * The one seeded PRNG of the project — xoshiro128** (Blackman & Vigna, 2018): 128-bit state, period
 * 2^128 − 1, fast in 32-bit integer maths — so that simulation, initialisation, shuffling and dropout are
 * reproducible from one integer seed. Its state can be saved in checkpoints.
 */

/** One splitmix32 output for state `x`: a well-mixed 32-bit hash, used to seed and to derive streams. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal = NaN;

  /** `stream` selects an independent sequence for the same seed. */
  constructor(seed: number, stream = 0) {
    let x = splitmix32((seed >>> 0) ^ splitmix32(Math.floor(seed / 4294967296) >>> 0) ^ Math.imul(stream + 1, 0x632be5ab));
    const next = (): number => (x = splitmix32(x));
    this.setState([next(), next(), next(), next()]);
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, the second value cached). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = NaN;
      return z;
    }
    const u = 1 - this.uniform(); // (0, 1]: log stays finite
    const r = Math.sqrt(-2 * Math.log(u)), t = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(t);
    return r * Math.cos(t);
  }

  /** An independent generator derived from this one (for a separate stream such as dropout). */
  fork(): Rng {
    return Rng.fromState([this.u32(), this.u32(), this.u32(), this.u32()]);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle(a: Int32Array | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** The full state (JSON-safe), for checkpoints. */
  state(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, ...(Number.isNaN(this.spareNormal) ? [] : [this.spareNormal])];
  }

  static fromState(state: number[]): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** Continues from a state taken with state(). */
  setState(state: number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spareNormal = state.length > 4 ? state[4] : NaN;
  }
}
