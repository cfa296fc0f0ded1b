/**
 * Feature groups, per-feature widths, dense numeric inputs and per-tower sizes: the forward against a
 * float64 brute-force reading of the tensors (so the concatenation orders and tensor names are what the
 * README says), the implicit group against an explicit pass-through one, the spec a config describes and
 * its validation, and saving / loading a model directory with all of it. Gradients: gradients.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../src/config.js';
import type { Batch } from '../src/data/batch.js';
import { Encoder } from '../src/data/encoder.js';
import { createKernels } from '../src/engine/backend.js';
import { referenceKernels } from '../src/engine/reference.js';
import { loadModel, loadTensors, modelTensors, saveModel } from '../src/io/model-dir.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { EsmmModel, type ModelSpec } from '../src/model/esmm.js';
import { featureDim, modelSpecFromConfig, specGroups } from '../src/model/spec.js';
import { Rng } from '../src/util/rng.js';
import { groupSpec, tinyBatch } from './model-fixtures.js';

/** A model with random non-zero biases (so that no ReLU input sits at 0). */
function initModel(spec: ModelSpec, seed = 3): EsmmModel {
  const model = new EsmmModel(referenceKernels, spec, 8);
  model.init(new Rng(seed));
  const r = new Rng(seed + 100);
  for (const p of model.denseParams()) if (p.name.endsWith('.bias')) p.data.forEach((_, i) => { p.data[i] = 0.2 * r.normal(); });
  return model;
}

/** The logits of row i computed in float64 from the named tensors alone, following the documented layout. */
function bruteForceLogits(model: EsmmModel, b: Batch, i: number): { ctr: number; cvr: number } {
  const spec = model.spec;
  const tensors = new Map<string, Float32Array>();
  for (const p of model.denseParams()) tensors.set(p.name, p.data);
  for (const e of model.embeddingParams()) tensors.set(e.name, e.table.data);
  const act = (x: number, alpha: number) => (x > 0 ? x : spec.activation === 'prelu' ? alpha * x : 0);
  /** Layers `<prefix>.dense.<l>` in order; the last one linear when `linearLast`. */
  const mlp = (prefix: string, x: number[], linearLast: boolean): number[] => {
    for (let l = 0; tensors.has(`${prefix}.dense.${l}.weight`); l++) {
      const w = tensors.get(`${prefix}.dense.${l}.weight`)!, bias = tensors.get(`${prefix}.dense.${l}.bias`)!;
      const alpha = tensors.get(`${prefix}.dense.${l}.prelu_alpha`);
      const out = bias.length, last = !tensors.has(`${prefix}.dense.${l + 1}.weight`);
      assert.equal(w.length, x.length * out, `${prefix}.dense.${l}.weight is [in, out]`);
      x = Array.from({ length: out }, (_, o) => {
        let s = bias[o];
        x.forEach((v, j) => { s += v * w[j * out + o]; });
        return last && linearLast ? s : act(s, alpha ? alpha[o] : 0);
      });
    }
    return x;
  };
  const pooled = (prefix: string, f: number): number[] => {
    const fs = spec.features[f], dim = featureDim(spec, fs), table = tensors.get(`${prefix}embedding.${fs.name}`)!;
    const { ids, offsets, weights } = b.fields[f];
    const v = new Array<number>(dim).fill(0);
    let wsum = 0;
    for (let p = offsets[i]; p < offsets[i + 1]; p++) {
      const w = weights ? weights[p] : 1;
      wsum += w;
      for (let d = 0; d < dim; d++) v[d] += w * table[ids[p] * dim + d];
    }
    return fs.pooling === 'mean' && wsum > 0 ? v.map((x) => x / wsum) : v;
  };
  const towerInput = (prefix: string): number[] =>
    specGroups(spec).flatMap((g) => {
      const x = g.inputs.flatMap((inp) => (inp.source === 'embedding' ? pooled(prefix, inp.index) : [b.dense[i * b.denseWidth + inp.index]]));
      return g.hidden.length > 0 ? mlp(`${prefix}group.${g.name}`, x, false) : x;
    });
  const shared = spec.kind === 'esmm';
  return {
    ctr: mlp('ctr', towerInput(shared ? '' : 'ctr.'), true)[0],
    cvr: mlp('cvr', towerInput(shared ? '' : 'cvr.'), true)[0],
  };
}

describe('feature groups: forward', () => {
  for (const over of [{}, { activation: 'prelu' as const }, { kind: 'esmm-ns' as const }, { kind: 'division' as const, activation: 'prelu' as const }]) {
    it(`equals a brute-force reading of the tensors (${JSON.stringify(over)})`, () => {
      const model = initModel(groupSpec(over));
      // PReLU slopes other than their initial 0.25, so that a wrong slope would show
      for (const p of model.denseParams()) if (p.name.endsWith('prelu_alpha')) p.data.forEach((_, j) => { p.data[j] = 0.1 + 0.05 * j; });
      const batch = tinyBatch(new Rng(21), 8, 2, 1);
      const { ctr, cvr } = model.forward(batch, null);
      for (let i = 0; i < batch.size; i++) {
        const want = bruteForceLogits(model, batch, i);
        assert.ok(Math.abs(ctr[i] - want.ctr) < 1e-5 * (1 + Math.abs(want.ctr)), `ctr row ${i}: ${ctr[i]} vs ${want.ctr}`);
        assert.ok(Math.abs(cvr[i] - want.cvr) < 1e-5 * (1 + Math.abs(want.cvr)), `cvr row ${i}: ${cvr[i]} vs ${want.cvr}`);
      }
    });
  }

  it('has the documented tensors and shapes', () => {
    const shapes = (spec: ModelSpec) => Object.fromEntries(Object.entries(modelTensors(new EsmmModel(referenceKernels, spec, 4))).map(([n, t]) => [n, t.shape]));
    const esmm = shapes(groupSpec({ activation: 'prelu' }));
    assert.deepEqual(esmm['embedding.user'], [5, 3]);
    assert.deepEqual(esmm['embedding.spend'], [3, 1]);
    assert.deepEqual(esmm['group.user.dense.0.weight'], [1 + 3 + 1, 4]);
    assert.deepEqual(esmm['group.user.dense.0.prelu_alpha'], [4]);
    assert.deepEqual(esmm['group.item.dense.0.weight'], [4 + 1, 5]);
    assert.deepEqual(esmm['group.item.dense.1.weight'], [5, 3]);
    // tower input: user group output 4 + tags passed through 2 + item group output 3
    assert.deepEqual(esmm['ctr.dense.0.weight'], [9, 5]);
    assert.deepEqual(esmm['ctr.dense.2.weight'], [4, 1]);
    assert.deepEqual(esmm['cvr.dense.0.weight'], [9, 3]);
    assert.deepEqual(esmm['cvr.dense.1.weight'], [3, 1]);
    assert.ok(!Object.keys(esmm).some((n) => n.includes('group.tags') || n.includes('age') || n.includes('price')));
    const ns = shapes(groupSpec({ kind: 'esmm-ns' }));
    assert.deepEqual(ns['ctr.group.item.dense.1.bias'], [3]);
    assert.deepEqual(ns['cvr.embedding.hist'], [4, 4]);
    assert.ok(!Object.keys(ns).some((n) => n.startsWith('group.') || n.startsWith('embedding.')));
  });

  it('without groups: pooled embeddings in order, then the numbers; the same as one pass-through group of all', () => {
    const base = groupSpec({ activation: 'prelu', dropout: 0.3, l2Tower: 0.01, l2Embedding: 0.02 });
    delete base.groups;
    const all = (hiddenLess: Array<Array<'embedding' | 'dense'>>): ModelSpec => ({
      ...base,
      groups: hiddenLess.map((sources, gi) => ({
        name: `g${gi}`,
        inputs: sources.flatMap((source) => (source === 'embedding' ? base.features : base.dense!).map((_, index) => ({ source, index }))),
        hidden: [],
      })),
    });
    const batch = tinyBatch(new Rng(8), 8, 2, 1);
    const run = (spec: ModelSpec) => {
      const m = new EsmmModel(referenceKernels, spec, 8);
      m.init(new Rng(5));
      const logits = m.forward(batch, null);
      const out = { ctr: Array.from(logits.ctr), cvr: Array.from(logits.cvr) };
      const objective = m.trainStep(batch, new Rng(6)).objective;
      return {
        out, objective, inputDim: m.inputDim,
        dense: m.denseParams().map((p) => [p.name, Array.from(p.data), Array.from(p.grad)]),
        embedding: m.embeddingParams().map((e) => [e.name, Array.from(e.table.data), Array.from(e.grad.grads.subarray(0, e.grad.count * e.table.dim))]),
      };
    };
    const implicit = run(base);
    assert.equal(implicit.inputDim, 3 + 2 + 4 + 1 + 2);
    assert.deepEqual(run(all([['embedding', 'dense']])), implicit);
    assert.deepEqual(run(all([['embedding'], ['dense']])), implicit);
    // and the order is embeddings first: numbers first is another model
    assert.notDeepEqual(run(all([['dense', 'embedding']])).out, implicit.out);
  });
});

describe('feature groups: spec', () => {
  const cfg = parseConfig({
    features: [
      { name: 'user', type: 'id', embedding_dim: 6 },
      { name: 'age', type: 'numeric', normalization: 'standard' },
      { name: 'tags', type: 'weighted_id_list', pooling: 'sum' },
      { name: 'price', type: 'numeric', boundaries: [1, 10] },
      { name: 'hour', type: 'numeric' },
    ],
    groups: [
      { name: 'who', features: ['age', 'user'], hidden_units: [8] },
      { name: 'what', features: ['hour', 'price', 'tags'] },
    ],
    model: { embedding_dim: 4, hidden_units: [7], cvr_hidden_units: [5, 3] },
  });

  it('maps the config: embedded features, dense columns and group inputs in order', () => {
    const spec = modelSpecFromConfig(cfg, [10, 0, 20, 4, 0]);
    assert.deepEqual(spec.features, [
      { name: 'user', rows: 10, pooling: 'mean', dim: 6 },
      { name: 'tags', rows: 20, pooling: 'sum', dim: 4 },
      { name: 'price', rows: 4, pooling: 'mean', dim: 4 },
    ]);
    assert.deepEqual(spec.dense, ['age', 'hour']);
    assert.deepEqual(spec.groups, [
      { name: 'who', inputs: [{ source: 'dense', index: 0 }, { source: 'embedding', index: 0 }], hidden: [8] },
      { name: 'what', inputs: [{ source: 'dense', index: 1 }, { source: 'embedding', index: 2 }, { source: 'embedding', index: 1 }], hidden: [] },
    ]);
    assert.deepEqual([spec.ctrHidden, spec.cvrHidden], [[7], [5, 3]]);
    const model = new EsmmModel(referenceKernels, spec, 4);
    assert.equal(model.inputDim, 8 + 1 + 4 + 4);
    const noGroups = modelSpecFromConfig({ ...cfg, groups: undefined }, [10, 0, 20, 4, 0]);
    assert.equal(noGroups.groups, undefined);
    assert.equal(new EsmmModel(referenceKernels, noGroups, 4).inputDim, 6 + 4 + 4 + 2);
  });

  it('refuses table sizes that do not fit the config', () => {
    assert.throws(() => modelSpecFromConfig(cfg, [10, 0, 20, 4]), /4 table sizes for 5 features/);
    assert.throws(() => modelSpecFromConfig(cfg, [10, 3, 20, 4, 0]), /feature "age" is fed as a number.*table size is 3/);
    assert.throws(() => modelSpecFromConfig(cfg, [10, 0, 0, 4, 0]), /feature "tags" has table size 0/);
  });

  it('refuses inconsistent specs', () => {
    const bad = (over: Partial<ModelSpec>, re: RegExp) => assert.throws(() => new EsmmModel(referenceKernels, groupSpec(over), 4), re);
    const g = groupSpec().groups!;
    bad({ groups: [g[0], g[1]] }, /feature "hist" is in no group/);
    bad({ groups: [g[0], { ...g[1], inputs: [...g[1].inputs, { source: 'embedding', index: 0 }] }, g[2]] }, /embedding 0 is already in group "user"/);
    bad({ groups: [g[0], { ...g[1], inputs: [{ source: 'dense', index: 2 }] }, g[2]] }, /group "tags": no dense input 2/);
    bad({ groups: [g[0], { ...g[1], name: 'user' }, g[2]] }, /group "user" named twice/);
    bad({ groups: [g[0], { ...g[1], hidden: [0] }, g[2]] }, /hidden must be a list of positive integers/);
    bad({ dense: ['age', 'user'] }, /dense feature "user" named twice/);
    bad({ features: groupSpec().features.map((f, i) => (i === 2 ? { ...f, dim: 0 } : f)) }, /feature "hist": embedding width/);
    bad({ groups: [] }, /groups is empty/);
    const model = new EsmmModel(referenceKernels, groupSpec(), 8);
    assert.throws(() => model.forward(tinyBatch(new Rng(1), 4, 1, 1), null), /1 dense columns, the model expects 4 and 2/);
  });
});

describe('feature groups: model directory', () => {
  const dirs: string[] = [];
  after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

  it('copies every tensor back and checks each shape', () => {
    const model = initModel(groupSpec({ kind: 'esmm-ns', activation: 'prelu' }));
    const buf = encodeSafetensors(modelTensors(model));
    // a copy built from the spec as the manifest stores it
    const copy = new EsmmModel(referenceKernels, JSON.parse(JSON.stringify(model.spec)), 8);
    loadTensors(copy, buf, 'w.safetensors');
    const batch = tinyBatch(new Rng(2), 8, 2, 1);
    assert.deepEqual(copy.forward(batch, null), model.forward(batch, null));
    const wider = groupSpec({ kind: 'esmm-ns', activation: 'prelu', features: groupSpec().features.map((f) => (f.name === 'tags' ? { ...f, dim: 3 } : f)) });
    assert.throws(() => loadTensors(new EsmmModel(referenceKernels, wider, 8), buf, 'w.safetensors'), /tensor "ctr.embedding.tags" is F32 \[6,2\], expected F32 \[6,3\]/);
    const deeper = groupSpec({ kind: 'esmm-ns', activation: 'prelu', groups: groupSpec().groups!.map((g) => (g.name === 'user' ? { ...g, hidden: [4, 2] } : g)) });
    assert.throws(() => loadTensors(new EsmmModel(referenceKernels, deeper, 8), buf, 'w.safetensors'), /tensor "ctr.group.user.dense.1.weight" is missing/);
    const noGroups = groupSpec({ kind: 'esmm-ns', activation: 'prelu', groups: undefined });
    assert.throws(() => loadTensors(new EsmmModel(referenceKernels, noGroups, 8), buf, 'w.safetensors'), /expected F32|unexpected tensors/);
  });

  it('saves and loads a model with groups, numbers, per-feature widths and per-tower sizes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'esmm-groups-'));
    dirs.push(dir);
    const csv = ['click,buy,user,age,tags,price', '1,1,u1,30,a:1|b:2,5', '0,0,u2,41,b:0.5,20', '1,0,u1,25,,0.5', '0,0,u3,52,a:3,12'];
    await writeFile(join(dir, 'train.csv'), `${csv.join('\n')}\n`);
    const config = parseConfig({
      features: [
        { name: 'user', embedding_dim: 5 },
        { name: 'age', type: 'numeric', normalization: 'standard' },
        { name: 'tags', type: 'weighted_id_list', pooling: 'sum', embedding_dim: 2 },
        { name: 'price', type: 'numeric', boundaries: [1, 10] },
      ],
      groups: [
        { name: 'user', features: ['user', 'age'], hidden_units: [6, 4] },
        { name: 'item', features: ['price', 'tags'], hidden_units: [] },
      ],
      model: { kind: 'esmm', embedding_dim: 3, hidden_units: [5], ctr_hidden_units: [6, 3], activation: 'prelu' },
    });
    const encoder = await Encoder.fit(config, [join(dir, 'train.csv')]);
    const kernels = await createKernels('auto');
    const model = new EsmmModel(kernels, modelSpecFromConfig(config, encoder.tableSizes()), 16);
    model.init(new Rng(4));
    const training = { epochs_completed: 0, steps: 0, train_rows: 0, history: [] };
    await saveModel(join(dir, 'model'), { config, encoder, model, training });
    const loaded = await loadModel(join(dir, 'model'), kernels, 16);
    assert.deepEqual(loaded.model.spec, model.spec);
    assert.deepEqual(loaded.manifest.tensors['group.user.dense.1.weight'], [6, 4]);
    assert.deepEqual(loaded.manifest.tensors['embedding.tags'], [encoder.tableSizes()[2], 2]);
    const records = [{ user: 'u1', age: 33, tags: ['a:1', 'b:1'], price: 11 }, { user: 'zz', age: null, tags: [], price: 0 }];
    const batch = encoder.encodeRecords(records);
    assert.equal(batch.denseWidth, 1);
    const predict = (m: EsmmModel) => {
      const pctr = new Float32Array(2), pcvr = new Float32Array(2);
      m.predict(batch, pctr, pcvr);
      return [Array.from(pctr), Array.from(pcvr)];
    };
    assert.deepEqual(predict(loaded.model), predict(model));
  });
});
