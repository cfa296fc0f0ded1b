import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  buildWorld, describeSynth, generateFunnel, generateFunnelChunks, resolveSynthOptions, SYNTH_DEFAULTS, SYNTH_FEATURES,
  SYNTH_HEADER, writeSynth, ZipfSampler, type SynthOptions,
} from '../src/data/synth.js';
import { Rng } from '../src/util/rng.js';
import { packageRoot } from './helpers.js';
import { featureColumn, loadConfig } from '../src/config.js';

/** A small catalogue keeps each test fast; knobs under test are set explicitly. */
const SMALL: Partial<SynthOptions> = { users: 5_000, items: 2_000, shops: 200, brands: 50, categories: 30 };

const tmp = mkdtempSync(join(tmpdir(), 'esmm-synth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const logit = (p: number) => Math.log(p / (1 - p));

function pearson(a: number[], b: number[]): number {
  const n = a.length, ma = a.reduce((s, x) => s + x, 0) / n, mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) { ab += (a[i] - ma) * (b[i] - mb); aa += (a[i] - ma) ** 2; bb += (b[i] - mb) ** 2; }
  return ab / Math.sqrt(aa * bb);
}

/** Correlation of the true click and conversion logits over the impressions of `opts`. */
function logitCorrelation(opts: Partial<SynthOptions>): number {
  const c: number[] = [], v: number[] = [];
  for (const chunk of generateFunnelChunks(buildWorld(opts))) {
    for (let r = 0; r < chunk.size; r++) { c.push(logit(chunk.pctr[r])); v.push(logit(chunk.pcvr[r])); }
  }
  return pearson(c, v);
}

describe('PRNG and Zipf', () => {
  test('xoshiro128** is deterministic, uniform and its normals have unit variance', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43), d = new Rng(42, 1);
    const seqA = Array.from({ length: 8 }, () => a.u32());
    assert.deepEqual(seqA, Array.from({ length: 8 }, () => b.u32()));
    assert.notDeepEqual(seqA, Array.from({ length: 8 }, () => c.u32()));
    assert.notDeepEqual(seqA, Array.from({ length: 8 }, () => d.u32()), 'streams differ');
    const n = 200_000;
    let sum = 0, sumSq = 0, sumN = 0, sumNSq = 0;
    for (let i = 0; i < n; i++) {
      const u = a.uniform(); sum += u; sumSq += u * u;
      assert.ok(u >= 0 && u < 1);
      const z = a.normal(); sumN += z; sumNSq += z * z;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005);
    assert.ok(Math.abs(sumSq / n - 1 / 3) < 0.005);
    assert.ok(Math.abs(sumN / n) < 0.01);
    assert.ok(Math.abs(sumNSq / n - 1) < 0.02);
  });

  test('Zipf sampler: head rank dominates as 1/r^s predicts, uniform at s = 0', () => {
    const n = 1000, draws = 200_000, rng = new Rng(7);
    const skewed = new ZipfSampler(n, 1, rng), flat = new ZipfSampler(n, 0, rng);
    const countSkewed = new Int32Array(n), countFlat = new Int32Array(n);
    for (let i = 0; i < draws; i++) { countSkewed[skewed.sample(rng.uniform())]++; countFlat[flat.sample(rng.uniform())]++; }
    const harmonic = Array.from({ length: n }, (_, r) => 1 / (r + 1)).reduce((s, x) => s + x, 0);
    const top = Math.max(...countSkewed) / draws;
    assert.ok(Math.abs(top - 1 / harmonic) < 0.01, `top share ${top} vs ${1 / harmonic}`);
    assert.ok(Math.max(...countFlat) / draws < 0.002);
  });
});

describe('options', () => {
  test('defaults fill in and bad values are rejected by name', () => {
    assert.deepEqual(resolveSynthOptions({}), { ...SYNTH_DEFAULTS });
    assert.equal(resolveSynthOptions({ cvr: 0.1 }).cvr, 0.1);
    assert.throws(() => resolveSynthOptions({ ctr: 0 }), /ctr/);
    assert.throws(() => resolveSynthOptions({ sharedStructure: 1.5 }), /sharedStructure/);
    assert.throws(() => resolveSynthOptions({ users: 2.5 }), /users/);
    assert.throws(() => resolveSynthOptions({ selectionBias: -1 }), /selectionBias/);
  });
});

describe('files', () => {
  test('same seed → identical bytes; another seed → different files', async () => {
    const opts = { ...SMALL, rows: 20_000 };
    const a = await writeSynth({ ...opts, seed: 5, outDir: join(tmp, 'a') });
    const b = await writeSynth({ ...opts, seed: 5, outDir: join(tmp, 'b') });
    const c = await writeSynth({ ...opts, seed: 6, outDir: join(tmp, 'c') });
    for (const f of ['train', 'test', 'truth'] as const) assert.equal(sha(a.files[f]), sha(b.files[f]), f);
    assert.notEqual(sha(a.files.train), sha(c.files.train));
    assert.deepEqual(a.stats, b.stats);
  });

  test('header, list column and the truth file aligned with test rows', async () => {
    const { files, stats } = await writeSynth({ ...SMALL, rows: 30_000, seed: 3, outDir: join(tmp, 'align') });
    const train = readFileSync(files.train, 'utf8').trim().split('\n');
    const testRows = readFileSync(files.test, 'utf8').trim().split('\n');
    const truth = readFileSync(files.truth, 'utf8').trim().split('\n');
    assert.equal(train[0], SYNTH_HEADER);
    assert.equal(SYNTH_HEADER, `click,buy,${SYNTH_FEATURES.map((f) => f.name).join(',')}`);
    assert.equal(testRows[0], SYNTH_HEADER);
    assert.equal(truth[0], 'pctr,pcvr,buy_if_clicked');
    assert.equal(train.length - 1, stats.trainRows);
    assert.equal(testRows.length - 1, stats.testRows);
    assert.equal(truth.length, testRows.length);
    const listCol = SYNTH_HEADER.split(',').indexOf('user_recent_cats');
    assert.ok(train.slice(1, 2001).some((l) => l.split(',')[listCol].includes('|')), 'peers detect lists in the first rows');

    const expected = [...generateFunnel({ ...SMALL, rows: 30_000, seed: 3 })].filter((r) => r.split === 'test');
    assert.equal(expected.length, stats.testRows);
    expected.forEach((row, i) => {
      const cols = testRows[i + 1].split(','), [pctr, pcvr, buyIfClicked] = truth[i + 1].split(',');
      assert.equal(Number(cols[0]), row.click);
      assert.equal(Number(cols[1]), row.buy);
      assert.equal(cols[SYNTH_HEADER.split(',').indexOf('item_id')], row.features.item_id);
      assert.equal(cols[listCol], row.features.user_recent_cats.join('|'));
      assert.equal(Number(buyIfClicked), row.buyIfClicked);
      assert.ok(Math.abs(Number(pctr) - row.pctr) <= 1e-5 * row.pctr);
      assert.ok(Math.abs(Number(pcvr) - row.pcvr) <= 1e-5 * row.pcvr);
      assert.equal(row.buy, row.click * row.buyIfClicked, 'buy = click · buy_if_clicked');
    });
  });
});

describe('examples/synth.yaml', () => {
  test('is a valid config whose features are the simulator\'s columns', () => {
    const cfg = loadConfig(join(packageRoot(), 'examples', 'synth.yaml'));
    assert.deepEqual(cfg.features.map((f) => [featureColumn(f), f.type]), SYNTH_FEATURES.map((f) => [f.name, f.type]));
    assert.equal(cfg.input.click, 'click');
    assert.equal(cfg.input.buy, 'buy');
  });
});

describe('funnel', () => {
  test('buy implies click, and a shorter run is a prefix of a longer one', () => {
    const short = [...generateFunnel({ ...SMALL, rows: 5_000, seed: 9 })];
    let n = 0;
    for (const row of generateFunnel({ ...SMALL, rows: 100_000, seed: 9 })) {
      if (row.buy) assert.equal(row.click, 1);
      if (n < short.length) assert.deepEqual(row, short[n]);
      n++;
    }
    assert.equal(n, 100_000);
  });

  test('observed rates match the true probabilities within sampling error', () => {
    let n = 0, clicks = 0, buys = 0, sumPctr = 0, varClick = 0, sumPcvrClicked = 0, varBuy = 0, cf = 0, sumPcvr = 0, varCf = 0;
    for (const c of generateFunnelChunks(buildWorld({ ...SMALL, rows: 400_000, seed: 11, cvr: 0.05 }))) {
      for (let r = 0; r < c.size; r++) {
        n++; clicks += c.click[r]; sumPctr += c.pctr[r]; varClick += c.pctr[r] * (1 - c.pctr[r]);
        cf += c.buyIfClicked[r]; sumPcvr += c.pcvr[r]; varCf += c.pcvr[r] * (1 - c.pcvr[r]);
        if (c.click[r]) { buys += c.buy[r]; sumPcvrClicked += c.pcvr[r]; varBuy += c.pcvr[r] * (1 - c.pcvr[r]); }
      }
    }
    // Sums of independent Bernoulli draws: within 4 standard deviations of their expectation.
    assert.ok(Math.abs(clicks - sumPctr) < 4 * Math.sqrt(varClick), `clicks ${clicks} vs ${sumPctr}`);
    assert.ok(Math.abs(buys - sumPcvrClicked) < 4 * Math.sqrt(varBuy), `buys ${buys} vs ${sumPcvrClicked}`);
    assert.ok(Math.abs(cf - sumPcvr) < 4 * Math.sqrt(varCf), `counterfactual buys ${cf} vs ${sumPcvr}`);
  });

  test('the ctr and cvr targets are hit', () => {
    const s = describeSynth({ ...SMALL, rows: 300_000, seed: 2, ctr: 0.08, cvr: 0.1 });
    assert.ok(Math.abs(s.truePctr / 0.08 - 1) < 0.05, `true pctr ${s.truePctr}`);
    assert.ok(Math.abs(s.truePcvrClicked / 0.1 - 1) < 0.05, `true pcvr on clicks ${s.truePcvrClicked}`);
    assert.ok(Math.abs(s.ctr / 0.08 - 1) < 0.05);
    assert.ok(Math.abs(s.ctcvr - s.ctr * s.cvr) < 1e-12);
  });

  test('position moves clicks only', () => {
    const byPos = Array.from({ length: 11 }, () => ({ n: 0, pctr: 0, pcvr: 0 }));
    for (const c of generateFunnelChunks(buildWorld({ ...SMALL, rows: 200_000, seed: 4, positionDecay: 0.8 }))) {
      for (let r = 0; r < c.size; r++) { const b = byPos[c.position[r]]; b.n++; b.pctr += c.pctr[r]; b.pcvr += c.pcvr[r]; }
    }
    const top = byPos[1], bottom = byPos[10];
    assert.ok(top.pctr / top.n > 2 * (bottom.pctr / bottom.n));
    assert.ok(Math.abs(top.pcvr / top.n / (bottom.pcvr / bottom.n) - 1) < 0.05);
  });
});

describe('knobs move the stats in the documented direction', () => {
  const rows = 100_000;

  test('Zipf exponent: a heavier head and more rarely seen items', () => {
    const flat = describeSynth({ ...SMALL, rows, seed: 1, itemZipf: 0, userZipf: 0 });
    const skewed = describeSynth({ ...SMALL, rows, seed: 1, itemZipf: 1.2, userZipf: 1.2 });
    assert.ok(flat.topItemShare < 0.02, `flat top share ${flat.topItemShare}`);
    assert.ok(skewed.topItemShare > 0.3, `skewed top share ${skewed.topItemShare}`);
    assert.ok(skewed.rareTrainItemShare > flat.rareTrainItemShare);
    assert.ok(skewed.testIdsUnseenUser > flat.testIdsUnseenUser);
  });

  test('more ids at the same row count → more test ids unseen in train', () => {
    const few = describeSynth({ ...SMALL, rows, seed: 1 });
    const many = describeSynth({ ...SMALL, rows, seed: 1, users: 100_000, items: 50_000 });
    assert.ok(many.testRowsUnseenUser > few.testRowsUnseenUser);
    assert.ok(many.testRowsUnseenItem > few.testRowsUnseenItem);
    assert.ok(many.distinctItems > few.distinctItems);
  });

  test('freshItemShare: that share of test rows shows items never seen in train', () => {
    const s = describeSynth({ ...SMALL, rows, seed: 1, freshItemShare: 0.2 });
    assert.ok(s.testRowsUnseenItem >= 0.18, `unseen item rows ${s.testRowsUnseenItem}`);
    assert.equal(describeSynth({ ...SMALL, rows, seed: 1, freshItemShare: 0 }).testRowsUnseenItem < 0.05, true);
  });

  test('cvr and ctr targets: sparser conversions, fewer buys', () => {
    const dense = describeSynth({ ...SMALL, rows, seed: 1, cvr: 0.1 }), sparse = describeSynth({ ...SMALL, rows, seed: 1, cvr: 0.01 });
    assert.ok(sparse.buys < dense.buys / 4);
    assert.ok(describeSynth({ ...SMALL, rows, seed: 1, ctr: 0.1 }).clicks > 1.5 * dense.clicks);
  });

  test('sharedStructure ρ raises the correlation of click and conversion logits', () => {
    const common = { ...SMALL, rows: 50_000, seed: 1, selectionBias: 0, positionDecay: 0 };
    const r0 = logitCorrelation({ ...common, sharedStructure: 0 });
    const r5 = logitCorrelation({ ...common, sharedStructure: 0.5 });
    const r1 = logitCorrelation({ ...common, sharedStructure: 1 });
    assert.ok(Math.abs(r0) < 0.3, `ρ=0: ${r0}`); // a finite world, dominated by its Zipf head, has chance correlation
    assert.ok(r5 > r0 + 0.2 && r1 > r5 + 0.2, `${r0} < ${r5} < ${r1}`);
    assert.ok(r1 > 0.99);
  });

  test('selectionBias λ makes click and conversion propensities negatively correlated', () => {
    const common = { ...SMALL, rows: 50_000, seed: 1, sharedStructure: 0, positionDecay: 0 };
    const none = logitCorrelation({ ...common, selectionBias: 0 }), strong = logitCorrelation({ ...common, selectionBias: 1.5 });
    assert.ok(strong < none - 0.3, `${strong} vs ${none}`);
    // Clicked impressions then convert worse than the impression space: a click-trained model's view is biased.
    const s = describeSynth({ ...common, rows, selectionBias: 1.5 });
    assert.ok(s.truePcvrClicked < s.truePcvrAll, `${s.truePcvrClicked} vs ${s.truePcvrAll}`);
  });

  test('groupShare: more of an item\'s conversion quality is shared by its shop/brand/category', () => {
    // With groupShare 1 items of one category, brand and shop are identical in every factor.
    const w = buildWorld({ ...SMALL, rows: 0, seed: 1, groupShare: 1 });
    const key = (i: number) => `${w.itemCategory[i]}/${w.itemBrand[i]}/${w.itemShop[i]}`;
    const seen = new Map<string, number>();
    let checked = 0;
    for (let i = 0; i < w.itemCount; i++) {
      const j = seen.get(key(i));
      if (j === undefined) { seen.set(key(i), i); continue; }
      assert.equal(w.itemCore[i], w.itemCore[j]);
      assert.equal(w.itemBait[i], w.itemBait[j]);
      checked++;
    }
    assert.ok(checked > 0);
  });
});
