import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fromText, toText } from '@bufbuild/protobuf/txtpb';
import fc from 'fast-check';
import { EsmmError } from '../src/errors.js';
import { isEasyRecConfig, loadEasyRecConfig, looksLikeEasyRecText, parseEasyRecConfig, parseEasyRecText } from '../src/config/easyrec.js';
import { EasyRecConfigSchema } from '../src/config/gen/easyrec_pb.js';
import { loadAnyConfig } from '../src/config/load.js';
import { packageRoot, sharedDataDir } from './helpers.js';

const SAMPLE = join(sharedDataDir(), 'taobao-easyrec', 'esmm_on_taobao.config');
const sampleText = readFileSync(SAMPLE, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'esmm-easyrec-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The message of what `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

/** The 1-based line and column of the first occurrence of `needle` in `text`. */
function lineCol(text: string, needle: string): string {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `"${needle}" not in text`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

/** A small ESMM config: two id features and what `extra` adds, in one group "all". */
function small(opts: { fields?: string; features?: string; groupNames?: string; train?: string; towers?: string; data?: string } = {}): string {
  return `
train_input_path: "train.csv"
eval_input_path: "test.csv"
model_dir: "out"
train_config {
  optimizer_config { adam_optimizer { learning_rate { ${opts.train ?? 'constant_learning_rate { learning_rate: 0.01 }'} } } }
}
data_config {
  input_fields { input_name: "click" input_type: INT32 }
  input_fields { input_name: "buy" input_type: INT32 }
  input_fields { input_name: "user" input_type: STRING }
  input_fields { input_name: "item" input_type: STRING }
  ${opts.fields ?? ''}
  label_fields: "click"
  label_fields: "buy"
  batch_size: 256
  num_epochs: 2
  input_type: CSVInput
  ${opts.data ?? ''}
}
feature_config {
  features { input_names: "user" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 1000 }
  features { input_names: "item" feature_type: IdFeature embedding_dim: 8 num_buckets: 100 }
  ${opts.features ?? ''}
}
model_config {
  model_class: "ESMM"
  feature_groups { group_name: "all" feature_names: "user" feature_names: "item" ${opts.groupNames ?? ''} wide_deep: DEEP }
  esmm {
    ${opts.towers ?? `cvr_tower { tower_name: "cvr" label_name: "buy" dnn { hidden_units: [16, 8] use_bn: false } weight: 2.0 }
    ctr_tower { tower_name: "ctr" label_name: "click" dnn { hidden_units: [32] use_bn: false } weight: 0.5 }`}
    l2_regularization: 0.0
  }
}
`;
}

describe('the sample EasyRec ESMM config (esmm_on_taobao.config)', () => {
  const r = parseEasyRecConfig(sampleText, 'esmm_on_taobao.config', { cwd: '/data/run' });
  const { config } = r;
  const feature = (name: string) => {
    const f = config.features.find((x) => x.name === name);
    assert.ok(f, `feature ${name}`);
    return f;
  };

  test('input: headerless CSV, the 20 input_fields in order, labels from the towers', () => {
    assert.equal(config.input.format, 'csv');
    assert.equal(config.input.header, false);
    assert.equal(config.input.delimiter, ',');
    assert.deepEqual(config.input.columns, [
      'clk', 'buy', 'pid', 'adgroup_id', 'cate_id', 'campaign_id', 'customer', 'brand', 'user_id', 'cms_segid',
      'cms_group_id', 'final_gender_code', 'age_level', 'pvalue_level', 'shopping_level', 'occupation',
      'new_user_class_level', 'tag_category_list', 'tag_brand_list', 'price',
    ]);
    assert.equal(config.input.click, 'clk');
    assert.equal(config.input.buy, 'buy');
    assert.deepEqual(config.input.null_values, ['', 'NULL']);
  });

  test('features: hash buckets, num_buckets, tags, per-feature dims; the one feature in no group is dropped with a warning', () => {
    assert.equal(config.features.length, 17);
    assert.deepEqual(
      Object.fromEntries(config.features.filter((f) => f.hash_buckets !== undefined).map((f) => [f.name, f.hash_buckets])),
      {
        pid: 10, adgroup_id: 100000, cate_id: 10000, campaign_id: 100000, customer: 100000, brand: 100000, user_id: 100000,
        cms_segid: 100, cms_group_id: 100, age_level: 10, pvalue_level: 10, shopping_level: 10, occupation: 10,
        new_user_class_level: 10, tag_category_list: 100000, tag_brand_list: 100000,
      },
    );
    assert.equal(feature('user_id').type, 'id');
    assert.equal(feature('price').type, 'id');
    assert.equal(feature('price').num_buckets, 50);
    assert.equal(feature('price').hash_buckets, undefined);
    for (const name of ['tag_category_list', 'tag_brand_list']) {
      assert.equal(feature(name).type, 'id_list');
      assert.equal(feature(name).separator, '|');
      assert.equal(feature(name).pooling, 'mean'); // EasyRec's default combiner
    }
    for (const f of config.features) {
      assert.equal(f.embedding_dim, 16, f.name);
      assert.equal(f.column, undefined, f.name); // feature name = input name
    }
    assert.equal(config.features.some((f) => f.name === 'final_gender_code'), false);
    const w = r.warnings.find((x) => x.includes('final_gender_code'));
    assert.ok(w, r.warnings.join('\n'));
    // at its `features: {` block, the line above its input_names
    const line = Number(lineCol(sampleText, "input_names: 'final_gender_code'").split(':')[0]) - 1;
    assert.match(w, new RegExp(`^esmm_on_taobao\\.config:${line}:3: feature_config\\.features\\[9\\]: feature "final_gender_code" is in no group`));
  });

  test('groups: user, item, combo with their DNNs', () => {
    assert.deepEqual(config.groups, [
      {
        name: 'user', hidden_units: [256, 128, 96, 64],
        features: ['user_id', 'cms_segid', 'cms_group_id', 'age_level', 'pvalue_level', 'shopping_level', 'occupation', 'new_user_class_level'],
      },
      { name: 'item', hidden_units: [256, 128, 96, 64], features: ['adgroup_id', 'cate_id', 'campaign_id', 'customer', 'brand', 'price'] },
      { name: 'combo', hidden_units: [128, 96, 64, 32], features: ['pid', 'tag_category_list', 'tag_brand_list'] },
    ]);
  });

  test('model: tower units, loss weights, L2 coefficients scaled from a summed loss to a mean loss', () => {
    const m = config.model;
    assert.equal(m.kind, 'esmm');
    assert.deepEqual(m.ctr_hidden_units, [128, 96, 64, 32, 16]);
    assert.deepEqual(m.cvr_hidden_units, [128, 96, 64, 32, 16]);
    assert.equal(m.activation, 'relu');
    assert.equal(m.dropout, 0);
    assert.equal(m.ctr_weight, 1);
    assert.equal(m.ctcvr_weight, 1);
    assert.equal(m.l2_tower, 1e-6 / 4096);
    assert.equal(m.l2_embedding, 5e-5 / 4096);
    assert.ok(r.warnings.some((x) => /batch normalization/.test(x)), 'use_bn defaults to true in EasyRec: warned');
  });

  test('train: Adam with exponential decay (staircase by default), batch size, epochs, steps', () => {
    const t = config.train;
    assert.equal(t.learning_rate, 0.001);
    assert.deepEqual(t.lr_schedule, { type: 'exponential_decay', decay_steps: 1000, decay_factor: 0.5, min_learning_rate: 1e-7, staircase: true });
    assert.equal(t.batch_size, 4096);
    assert.equal(t.epochs, 10000);
    assert.equal(t.max_steps, 100);
    assert.equal(t.shuffle, true);
  });

  test('paths: train/eval input paths resolved against the working directory; model_dir reported', () => {
    assert.deepEqual(r.trainPaths, ['/data/run/data/test/tb_data/taobao_train_data']);
    assert.deepEqual(r.evalPaths, ['/data/run/data/test/tb_data/taobao_test_data']);
    assert.equal(r.modelDir, '/data/run/experiments/esmm_taobao_ckpt');
  });
});

describe('property: truncated or mangled configs', () => {
  test('any prefix of the sample, or the sample with random characters replaced, translates or gives an EsmmError', () => {
    const pieces = ['{', '}', ':', "'", '"', '[', ']', ',', '\n', 'x', '1', '-', '#', ' '];
    fc.assert(
      fc.property(fc.nat({ max: sampleText.length }), fc.array(fc.tuple(fc.nat({ max: sampleText.length - 1 }), fc.constantFrom(...pieces)), { maxLength: 6 }), (cut, edits) => {
        const chars = [...sampleText.slice(0, cut)];
        for (const [at, c] of edits) if (at < chars.length) chars[at] = c;
        try {
          parseEasyRecConfig(chars.join(''), 'fuzz.config');
        } catch (e) {
          if (!(e instanceof EsmmError)) throw e;
          assert.ok(e.message.startsWith('fuzz.config'), e.message);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('loading', () => {
  test('examples/taobao-easyrec.config finds the shared sample data from the repository root', () => {
    const root = packageRoot();
    const r = loadAnyConfig(join(root, 'examples', 'taobao-easyrec.config'), { cwd: root });
    assert.equal(r.format, 'easyrec');
    assert.equal(r.trainPaths.length, 1);
    assert.ok(existsSync(r.trainPaths[0]), r.trainPaths[0]);
    assert.deepEqual(r.evalPaths, r.trainPaths);
    assert.equal(r.config.features.length, 17);
    const header = readFileSync(r.trainPaths[0], 'utf8').split('\n')[0].split(',');
    assert.equal(header.length, r.config.input.columns!.length);
  });

  test('loadAnyConfig dispatches YAML/JSON to loadConfig', () => {
    const yamlPath = join(dir, 'c.yaml');
    writeFileSync(yamlPath, 'features:\n  - name: user\n');
    const r = loadAnyConfig(yamlPath);
    assert.equal(r.format, 'yaml');
    assert.deepEqual([r.trainPaths, r.evalPaths, r.warnings], [[], [], []]);
    assert.equal(r.config.features[0].name, 'user');
  });

  test('isEasyRecConfig: by extension, else by content', () => {
    const noExt = join(dir, 'pipeline');
    writeFileSync(noExt, `# comment\n${small()}`);
    const yamlNoExt = join(dir, 'cfg');
    writeFileSync(yamlNoExt, 'input:\n  click: c\nfeatures:\n  - name: u\n');
    assert.equal(isEasyRecConfig(noExt), true);
    assert.equal(isEasyRecConfig(yamlNoExt), false);
    assert.equal(isEasyRecConfig(join(dir, 'x.config')), true);
    assert.equal(isEasyRecConfig(join(dir, 'x.pbtxt')), true);
    assert.equal(isEasyRecConfig(join(dir, 'x.prototxt')), true);
    assert.equal(isEasyRecConfig(join(dir, 'x.yaml')), false);
    assert.equal(isEasyRecConfig(join(dir, 'x.json')), false);
    assert.equal(looksLikeEasyRecText('{"features": []}'), false);
    assert.equal(looksLikeEasyRecText('model_config {\n}'), true);
    const r = loadAnyConfig(noExt, { cwd: '/w' });
    assert.equal(r.format, 'easyrec');
    assert.deepEqual(r.trainPaths, ['/w/train.csv']);
  });

  test('comma-separated input paths; absolute paths kept; URLs refused', () => {
    const text = small().replace('train_input_path: "train.csv"', 'train_input_path: "a.csv, /abs/b.csv,parts/*.csv"');
    const r = parseEasyRecConfig(text, 'p.config', { cwd: '/w' });
    assert.deepEqual(r.trainPaths, ['/w/a.csv', '/abs/b.csv', '/w/parts/*.csv']);
    const bad = small().replace('"test.csv"', '"hdfs://cluster/test"');
    assert.match(errorOf(() => parseEasyRecConfig(bad, 'p.config')), /^p\.config:3:1: eval_input_path: "hdfs:\/\/cluster\/test": only local files/);
  });

  test('a small config: labels, units, weights, constant learning rate, the older feature_configs form', () => {
    const r = parseEasyRecConfig(small(), 's.config');
    assert.deepEqual(r.warnings, []);
    const c = r.config;
    assert.deepEqual([c.input.click, c.input.buy], ['click', 'buy']);
    assert.deepEqual([c.model.ctr_hidden_units, c.model.cvr_hidden_units], [[32], [16, 8]]);
    assert.deepEqual([c.model.ctr_weight, c.model.ctcvr_weight], [0.5, 2]);
    assert.deepEqual([c.train.learning_rate, c.train.lr_schedule], [0.01, { type: 'constant' }]);
    assert.deepEqual([c.train.epochs, c.train.max_steps, c.train.batch_size], [2, undefined, 256]);
    assert.deepEqual(c.groups, [{ name: 'all', features: ['user', 'item'], hidden_units: [] }]);
    assert.deepEqual(c.features.map((f) => [f.name, f.hash_buckets, f.num_buckets]), [['user', 1000, undefined], ['item', undefined, 100]]);

    const old = small().replace(/feature_config \{([\s\S]*?)\n\}/, (_, body: string) => body.replace(/features \{/g, 'feature_configs {'));
    assert.doesNotMatch(old, /feature_config \{/);
    assert.deepEqual(parseEasyRecConfig(old, 'old.config').config, c);
  });

  test('EasyRec defaults: towers take label_fields by order (cvr first), staircase decay, learning rate 0.002', () => {
    const text = small({
      train: 'exponential_decay_learning_rate { decay_steps: 10 }',
      towers: 'cvr_tower { tower_name: "cvr" } ctr_tower { tower_name: "ctr" }',
    });
    const c = parseEasyRecConfig(text, 'd.config').config;
    // label_fields: "click", "buy" → the cvr tower takes "click" and the ctr tower "buy", as EasyRec would
    assert.deepEqual([c.input.buy, c.input.click], ['click', 'buy']);
    assert.deepEqual([c.model.ctr_hidden_units, c.model.cvr_hidden_units, c.model.ctr_weight, c.model.ctcvr_weight], [[], [], 1, 1]);
    assert.equal(c.train.learning_rate, 0.002);
    assert.deepEqual(c.train.lr_schedule, { type: 'exponential_decay', decay_steps: 10, decay_factor: 0.95, min_learning_rate: 0, staircase: true });
  });

  test('no esmm.groups: the feature group "all" feeds the towers; num_epochs 0 with num_steps; ignore_error; TagFeature with weights', () => {
    const text = small({
      fields: 'input_fields { input_name: "tags" }',
      features: 'features { input_names: "tags" feature_type: TagFeature separator: ";" kv_separator: "=" combiner: "sum" hash_bucket_size: 50 embedding_dim: 4 }',
      groupNames: 'feature_names: "tags"',
      data: 'ignore_error: true',
    }).replace('num_epochs: 2', 'num_epochs: 0').replace('train_config {', 'train_config {\n  num_steps: 7');
    const c = parseEasyRecConfig(text, 't.config').config;
    assert.deepEqual([c.train.epochs, c.train.max_steps, c.train.on_bad_row], [7, 7, 'skip']);
    const tags = c.features.find((f) => f.name === 'tags')!;
    assert.deepEqual([tags.type, tags.separator, tags.kv_separator, tags.pooling, tags.hash_buckets, tags.embedding_dim], ['weighted_id_list', ';', '=', 'sum', 50, 4]);
  });
});

describe('RawFeature', () => {
  const text = small({
    fields: 'input_fields { input_name: "price" input_type: DOUBLE default_val: "-1" }\n  input_fields { input_name: "age" input_type: INT32 }\n  input_fields { input_name: "score" input_type: FLOAT }',
    features: [
      'features { feature_name: "price_bucket" input_names: "price" feature_type: RawFeature boundaries: [10, 1.5, 100] embedding_dim: 4 }',
      'features { input_names: "age" feature_type: RawFeature }',
      'features { input_names: "score" feature_type: RawFeature num_buckets: 4 min_val: 0 max_val: 2 embedding_dim: 2 }',
    ].join('\n  '),
    groupNames: 'feature_names: "price_bucket" feature_names: "age" feature_names: "score"',
  });

  test('boundaries → a bucketised numeric feature (sorted, as EasyRec sorts them); without → a plain number', () => {
    const c = parseEasyRecConfig(text, 'raw.config').config;
    const byName = Object.fromEntries(c.features.map((f) => [f.name, f]));
    const p = byName.price_bucket;
    assert.deepEqual([p.type, p.column, p.boundaries, p.embedding_dim, p.default_value], ['numeric', 'price', [1.5, 10, 100], 4, -1]);
    const a = byName.age;
    assert.deepEqual([a.type, a.boundaries, a.normalization, a.embedding_dim, a.default_value], ['numeric', undefined, 'none', undefined, 0]);
    // num_buckets over [min_val, max_val]: EasyRec cuts the normalised value at i / num_buckets
    assert.deepEqual(byName.score.boundaries, [0, 0.5, 1, 1.5]);
    assert.deepEqual(c.groups![0].features, ['user', 'item', 'price_bucket', 'age', 'score']);
  });

  test('round trip: text → message → text gives the same message and the same Config', () => {
    const { message } = parseEasyRecText(text, 'raw.config');
    const printed = toText(EasyRecConfigSchema, message);
    const again = fromText(EasyRecConfigSchema, printed);
    assert.deepEqual(again, message);
    assert.deepEqual(parseEasyRecConfig(printed, 'printed.config').config, parseEasyRecConfig(text, 'raw.config').config);
    assert.match(printed, /boundaries: \[10, 1\.5, 100\]|boundaries: 10\n/);
  });

  test('a RawFeature without boundaries cannot have an embedding', () => {
    const bad = text.replace('input_names: "age" feature_type: RawFeature', 'input_names: "age" feature_type: RawFeature embedding_dim: 3');
    assert.match(errorOf(() => parseEasyRecConfig(bad, 'raw.config')),
      new RegExp(`^raw\\.config:${lineCol(bad, 'embedding_dim: 3')}: feature_config\\.features\\[3\\]\\.embedding_dim: .*projection`));
  });
});

describe('errors name the file, line and column', () => {
  test('an unknown field, with a suggestion', () => {
    const text = sampleText.replace('hash_bucket_size: 100\n', 'hash_bucket_sise: 100\n');
    assert.equal(errorOf(() => parseEasyRecConfig(text, 'x.config')),
      `x.config:${lineCol(text, 'hash_bucket_sise')}: feature_config.features[7]: unknown field "hash_bucket_sise" in FeatureConfig (not an EasyRec field this loader knows; did you mean "hash_bucket_size"?)`);
    const top = `${sampleText}\nfoo_bar: 1\n`;
    assert.match(errorOf(() => parseEasyRecConfig(top, 'x.config')), new RegExp(`^x\\.config:${lineCol(top, 'foo_bar')}: unknown field "foo_bar" in EasyRecConfig`));
  });

  test('an EasyRec field this loader leaves out says so', () => {
    const text = sampleText.replace('adam_optimizer: {', 'momentum_optimizer: {');
    assert.equal(errorOf(() => parseEasyRecConfig(text, 'x.config')),
      `x.config:${lineCol(text, 'momentum_optimizer')}: train_config.optimizer_config: EasyRec's Optimizer.momentum_optimizer is not supported here (this engine trains with Adam: use adam_optimizer)`);
    const model = small().replace('esmm {', 'dbmtl {');
    assert.match(errorOf(() => parseEasyRecConfig(model, 'x.config')), new RegExp(`^x\\.config:${lineCol(model, 'dbmtl')}: model_config: EasyRec's EasyRecModel\\.dbmtl is not supported`));
  });

  test('a value that would change the model', () => {
    const text = sampleText.replace(/num_class: 1(\s+weight: 1\.0\s+loss_type: CLASSIFICATION\s+metrics_set: \{\s+auc \{\s+num)/, 'num_class: 2$1');
    assert.equal(errorOf(() => parseEasyRecConfig(text, 'x.config')),
      `x.config:${lineCol(text, 'num_class: 2')}: model_config.esmm.cvr_tower.num_class: 2: only 1 (binary towers)`);
    const ma = sampleText.replace('use_moving_average: false', 'use_moving_average: true');
    assert.match(errorOf(() => parseEasyRecConfig(ma, 'x.config')), new RegExp(`^x\\.config:${lineCol(ma, 'use_moving_average')}: train_config\\.optimizer_config\\[0\\]\\.use_moving_average: .*not supported`));
    const bn = small().replace('hidden_units: [32] use_bn: false', 'hidden_units: [32] use_bn: true');
    assert.match(errorOf(() => parseEasyRecConfig(bn, 'x.config')), new RegExp(`^x\\.config:${lineCol(bn, 'use_bn: true')}: model_config\\.esmm\\.ctr_tower\\.dnn\\.use_bn: batch normalization`));
    const beta = small({ train: 'constant_learning_rate { learning_rate: 0.01 } } beta1: 0.8 } } #' });
    assert.match(errorOf(() => parseEasyRecConfig(beta, 'x.config')), new RegExp(`^x\\.config:${lineCol(beta, 'beta1')}: train_config\\.optimizer_config\\[0\\]\\.adam_optimizer\\.beta1: 0\\.8: only the default 0\\.9`));
    const wide = small().replace('wide_deep: DEEP', 'wide_deep: WIDE');
    assert.match(errorOf(() => parseEasyRecConfig(wide, 'x.config')), new RegExp(`^x\\.config:${lineCol(wide, 'wide_deep')}: model_config\\.feature_groups\\[0\\]\\.wide_deep: WIDE: only DEEP`));
    const cls = small().replace('model_class: "ESMM"', 'model_class: "DeepFM"');
    assert.match(errorOf(() => parseEasyRecConfig(cls, 'x.config')), /^x\.config:\d+:3: model_config\.model_class: "DeepFM": only "ESMM"/);
    const combiner = small({ fields: 'input_fields { input_name: "t" }', features: 'features { input_names: "t" feature_type: TagFeature combiner: "sqrtn" hash_bucket_size: 5 embedding_dim: 2 }', groupNames: 'feature_names: "t"' });
    assert.match(errorOf(() => parseEasyRecConfig(combiner, 'x.config')), /feature_config\.features\[2\]\.combiner: "sqrtn": only "mean"/);
  });

  test('several problems are reported together, one line each', () => {
    const text = small().replace('model_class: "ESMM"', 'model_class: "X"').replace('wide_deep: DEEP', 'wide_deep: WIDE');
    const lines = errorOf(() => parseEasyRecConfig(text, 'x.config')).split('\n');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l, /^x\.config:\d+:\d+: model_config\./);
  });

  test('an unsupported input type', () => {
    const text = sampleText.replace('input_type: CSVInput', 'input_type: OdpsInputV2');
    assert.equal(errorOf(() => parseEasyRecConfig(text, 'x.config')),
      `x.config:${lineCol(text, 'input_type: OdpsInputV2')}: data_config.input_type: OdpsInputV2 is not supported: only CSV input (CSVInput, CSVInputV2, CSVInputEx)`);
  });

  test('an unknown enum value and a value of the wrong type', () => {
    const text = sampleText.replace('input_type: CSVInput', 'input_type: CsvInput');
    assert.match(errorOf(() => parseEasyRecConfig(text, 'x.config')),
      new RegExp(`^x\\.config:${lineCol(text, 'CsvInput')}: data_config\\.input_type: unknown value "CsvInput" for DatasetConfig\\.InputType: expected one of CSVInput, `));
    const t2 = sampleText.replace('num_steps: 100', 'num_steps: 1.5');
    assert.equal(errorOf(() => parseEasyRecConfig(t2, 'x.config')), `x.config:${lineCol(t2, '1.5')}: train_config.num_steps: expected an integer, got "1.5"`);
  });

  test('wrong syntax', () => {
    const unclosed = sampleText.replace(/\}\s*$/, '\n');
    assert.match(errorOf(() => parseEasyRecConfig(unclosed, 'x.config')), /^x\.config:\d+:\d+: unexpected end of input, expected "\}"$/);
    const stray = sampleText.replace('num_steps: 100', 'num_steps: 100 @');
    assert.equal(errorOf(() => parseEasyRecConfig(stray, 'x.config')), `x.config:${lineCol(stray, '@')}: unexpected "@"`);
    const quote = sampleText.replace("input_name:'clk'", "input_name:'clk");
    assert.equal(errorOf(() => parseEasyRecConfig(quote, 'x.config')), `x.config:${lineCol(quote, "'clk")}: invalid U+000A in string`);
    const colon = sampleText.replace('num_steps: 100', 'num_steps 100');
    assert.match(errorOf(() => parseEasyRecConfig(colon, 'x.config')), new RegExp(`^x\\.config:${lineCol(colon, 'num_steps 100').split(':')[0]}:\\d+: expected ":"`));
    const twice = sampleText.replace('num_steps: 100', 'num_steps: 100 num_steps: 5');
    assert.equal(errorOf(() => parseEasyRecConfig(twice, 'x.config')), `x.config:${lineCol(twice, 'num_steps: 5')}: non-repeated field "num_steps" is repeated`);
  });

  test('groups: every feature in exactly one group the model uses', () => {
    const twoGroups = small().replace(
      'feature_groups { group_name: "all"',
      'feature_groups { group_name: "u" feature_names: "user" }\n  feature_groups { group_name: "all"',
    ).replace('esmm {', 'esmm {\n    groups { input: "u" dnn { hidden_units: [4] use_bn: false } }\n    groups { input: "all" dnn { hidden_units: [4] use_bn: false } }');
    assert.match(errorOf(() => parseEasyRecConfig(twoGroups, 'g.config')), /model_config\.feature_groups\[1\]: feature "user" is in groups "u" and "all"/);
    const missing = small().replace('feature_names: "item"', 'feature_names: "itme"');
    assert.match(errorOf(() => parseEasyRecConfig(missing, 'g.config')), new RegExp(`^g\\.config:${lineCol(missing, '"itme"').split(':')[0]}:\\d+: model_config\\.feature_groups\\[0\\]\\.feature_names\\[1\\]: no feature named "itme"`));
    const badInput = small().replace('esmm {', 'esmm {\n    groups { input: "nope" dnn { hidden_units: [4] } }');
    assert.match(errorOf(() => parseEasyRecConfig(badInput, 'g.config')), /model_config\.esmm\.groups\[0\]\.input: no feature group named "nope"/);
  });
});

test('src/config/gen/easyrec_pb.ts is what `npm run generate:proto` makes of easyrec.proto', (t) => {
  const root = packageRoot();
  const bin = join(root, 'node_modules', '.bin');
  if (!existsSync(join(bin, 'buf')) || !existsSync(join(bin, 'protoc-gen-es'))) {
    t.skip('buf / protoc-gen-es not installed');
    return;
  }
  const out = join(dir, 'gen');
  const r = spawnSync(join(bin, 'buf'), ['generate', '--template', 'src/config/buf.gen.yaml', '-o', out], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'src', 'config', 'gen', 'easyrec_pb.ts'), 'utf8'),
    readFileSync(join(root, 'src', 'config', 'gen', 'easyrec_pb.ts'), 'utf8'),
    'easyrec.proto changed: run `npm run generate:proto` and commit src/config/gen/easyrec_pb.ts');
});

test('loadEasyRecConfig reads the file and names it in errors', () => {
  const path = join(dir, 'broken.config');
  writeFileSync(path, 'model_dir: "x"\nmodel_config { model_clas: "ESMM" }\n');
  assert.equal(errorOf(() => loadEasyRecConfig(path)), `${path}:2:16: model_config: unknown field "model_clas" in EasyRecModel (not an EasyRec field this loader knows; did you mean "model_class"?)`);
  assert.match(errorOf(() => loadEasyRecConfig(join(dir, 'nope.config'))), /nope\.config: cannot read config/);
});
