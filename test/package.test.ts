/** The package as users consume it: the library entry point loads, and versions agree. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import * as esmm from '../src/index.js';
import { packageRoot } from './helpers.js';


it('exports the library API and the package version', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  assert.equal(esmm.VERSION, pkg.version);
  for (const name of ['train', 'loadModel', 'predictAll', 'evaluatePredictions', 'Encoder', 'loadDataset', 'createKernels', 'writeSynth', 'compareModels']) {
    assert.equal(typeof (esmm as Record<string, unknown>)[name], 'function', name);
  }
});
