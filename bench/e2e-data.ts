/**
 * The end-to-end benchmark's files: a training CSV of exactly `rows` rows and a held-out CSV of exactly
 * `predictRows` rows (scored by `esmm predict`, and the eval set of both trainers), from the funnel
 * simulator. Generated once into the OS tmp dir, keyed by the parameters, and reused by later runs.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSynth } from '../src/data/synth.js';

export interface E2eFiles {
  dir: string;
  train: string;
  predict: string;
  /** Whether this call wrote them (false: reused from the cache). */
  generated: boolean;
  seconds: number;
}

/** Bumped when the generated content changes, so stale caches are not reused. */
const VERSION = 1;

export async function e2eFiles(rows: number, predictRows: number, seed: number): Promise<E2eFiles> {
  const dir = join(tmpdir(), `esmm-e2e-v${VERSION}-${rows}-${predictRows}-s${seed}`);
  const train = join(dir, 'train.csv'), predict = join(dir, 'predict.csv'), done = join(dir, 'done');
  if (existsSync(done)) return { dir, train, predict, generated: false, seconds: 0 };
  const t0 = performance.now();
  rmSync(dir, { recursive: true, force: true });
  // The simulator splits rows at random, so draw a margin more and cut each file to its exact length.
  const testFraction = predictRows / (rows + predictRows);
  for (let margin = 1.01; ; margin *= 1.5) {
    const total = Math.ceil((rows + predictRows) * margin) + 2000;
    const { stats } = await writeSynth({ rows: total, seed, testFraction, outDir: dir });
    if (stats.trainRows >= rows && stats.testRows >= predictRows) break;
  }
  keepLines(join(dir, 'train.csv'), rows + 1);
  keepLines(join(dir, 'test.csv'), predictRows + 1);
  renameSync(join(dir, 'test.csv'), predict);
  rmSync(join(dir, 'test_truth.csv'), { force: true });
  writeFileSync(done, '');
  return { dir, train, predict, generated: true, seconds: (performance.now() - t0) / 1000 };
}

/** Truncates a file in place after its first `lines` lines (header included). */
function keepLines(path: string, lines: number): void {
  const fd = openSync(path, 'r');
  let end = -1;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let seen = 0;
    for (let offset = 0; end < 0;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) throw new Error(`${path}: only ${seen} lines, wanted ${lines}`);
      for (let i = buf.indexOf(10); i !== -1 && i < n && end < 0; i = buf.indexOf(10, i + 1)) {
        if (++seen === lines) end = offset + i + 1;
      }
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
  truncateSync(path, end);
}
