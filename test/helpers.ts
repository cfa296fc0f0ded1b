/** Shared by the tests: where the package and the shared sample data are, and seeded random numbers. */
import { resolve } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { Rng } from '../src/util/rng.js';

export { packageRoot };

/** <repo>/../shared/data, where the real sample files are read in place. */
export function sharedDataDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'data');
}

/** A uniform [0, 1) generator from a seed, so failures reproduce. */
export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}
