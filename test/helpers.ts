/** Shared by the tests: where the package and the shared sample data are, and seeded random numbers. */
import { resolve } from 'node:path';
import { nativeStatus } from '../src/engine/native.js';
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

/**
 * node:test options for tests of the native backend: skipped with the reason when its addon does not load
 * here, except under ESMM_REQUIRE_NATIVE=1 (CI), where they run and so fail on the missing backend.
 */
export function nativeTestOptions(): { skip?: string } {
  const status = nativeStatus();
  if (status.loaded || process.env.ESMM_REQUIRE_NATIVE === '1') return {};
  return { skip: `native backend unavailable: ${status.reason}` };
}
