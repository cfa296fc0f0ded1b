/** The package as users consume it: the library entry point loads, and versions agree. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esmm from '../src/index.js';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

it('exports the library API and the package version', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  assert.equal(esmm.VERSION, pkg.version);
  for (const name of ['train', 'loadModel', 'predictAll', 'evaluatePredictions', 'Encoder', 'loadDataset', 'createKernels', 'writeSynth', 'compareModels']) {
    assert.equal(typeof (esmm as Record<string, unknown>)[name], 'function', name);
  }
});
