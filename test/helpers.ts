/** Shared by the tests: where the package and the shared sample data are, and seeded random numbers. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/util/rng.js';

/** The package root, found from test/ (tsx) as well as from dist/test/ (compiled). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** <repo>/../shared/data, where the real sample files are read in place. */
export function sharedDataDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'data');
}

/** A uniform [0, 1) generator from a seed, so failures reproduce. */
export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}
