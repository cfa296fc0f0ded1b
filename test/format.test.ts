/** formatScore trims toPrecision(9) instead of re-parsing it: the text must be the same as the plain definition's. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatScore } from '../src/util/format.js';

const definition = (x: number) => String(Number(x.toPrecision(9)));

describe('formatScore', () => {
  it('is String(Number(x.toPrecision(9))) for every float32, including tiny, huge and special values', () => {
    for (const x of [0, -0, 1, 0.5, 1e-7, 5e-7, 1e-6, 1.5e-6, 0.1, 123456789, 1e21, 1.5e22, -0.25, 2 ** -149, 3.4e38, NaN, Infinity, -Infinity]) {
      assert.equal(formatScore(x), definition(x), String(x));
    }
    fc.assert(fc.property(fc.float(), (x) => formatScore(x) === definition(x)), { numRuns: 20000 });
    fc.assert(fc.property(fc.float({ min: 0, max: 1, noNaN: true }), (x) => formatScore(x) === definition(x)), { numRuns: 20000 });
  });
});
