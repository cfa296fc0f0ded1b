/**
 * The one config schema (YAML or JSON): input, features, model, training. Unknown keys are rejected and
 * every error names the path of the bad key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { EsmmError } from './errors.js';

const Input = z.strictObject({
  format: z.literal('csv').default('csv'),
  delimiter: z.string().length(1).default(','),
  header: z.literal(true).default(true),
  click: z.string().min(1).default('click'),
  buy: z.string().min(1).default('buy'),
});

const Feature = z.strictObject({
  name: z.string().min(1).regex(/^[A-Za-z0-9_.\-]+$/, 'use letters, digits, _ . - only'),
  /** Source column; defaults to the feature name. */
  column: z.string().min(1).optional(),
  type: z.enum(['id', 'id_list']).default('id'),
  /** Separator of list values (id_list only). */
  separator: z.string().min(1).default('|'),
  pooling: z.enum(['sum', 'mean']).default('mean'),
  /** Vocabulary from the training file: ids seen fewer times map to the out-of-vocabulary row. */
  min_count: z.number().int().min(1).default(1),
  /** Hash the raw value into this many buckets instead of building a vocabulary. */
  hash_buckets: z.number().int().min(1).max(1 << 28).optional(),
});

const Model = z.strictObject({
  /** esmm (the paper's model) or one of the paper's baselines: esmm-ns, base, aman, oversampling, division. */
  kind: z.enum(['esmm', 'esmm-ns', 'base', 'aman', 'oversampling', 'division']).default('esmm'),
  /** aman: share of unclicked impressions sampled in as CVR negatives each step. */
  aman_negative_rate: z.number().min(0).max(1).default(0.1),
  /** oversampling: copies of each conversion in the CVR loss (k). */
  oversampling_factor: z.number().int().min(1).max(1000).default(5),
  embedding_dim: z.number().int().min(1).max(1024).default(18),
  /** Standard deviation of the normal initialisation of embedding rows. */
  embedding_init_std: z.number().min(0).max(10).default(0.1),
  /**
   * Tower weight initialisation: he_uniform (U(±√(6/in)), zero biases; Glorot for the output layer) or
   * torch (U(±1/√in) for weights and biases, torch.nn.Linear's default: for like-for-like peer runs).
   */
  dense_init: z.enum(['he_uniform', 'torch']).default('he_uniform'),
  hidden_units: z.array(z.number().int().min(1).max(65536)).default([200, 80]),
  activation: z.enum(['relu', 'prelu']).default('relu'),
  /** Dropout rate on tower hidden layers during training (inverted dropout; 0 = off). */
  dropout: z.number().min(0).max(0.95).default(0),
  ctr_weight: z.number().min(0).default(1),
  /** Weight of the CTCVR term (for the baselines: of their directly learned CVR or CTCVR term). */
  ctcvr_weight: z.number().min(0).default(1),
  /** L2 coefficient on tower weights (not biases). */
  l2_tower: z.number().min(0).default(0),
  /** L2 coefficient on the embedding rows a batch touches. */
  l2_embedding: z.number().min(0).default(0),
});

const Train = z.strictObject({
  epochs: z.number().int().min(1).default(1),
  batch_size: z.number().int().min(1).max(1 << 20).default(1024),
  learning_rate: z.number().positive().default(1e-3),
  embedding_optimizer: z.enum(['adam', 'adagrad']).default('adam'),
  /** Defaults to learning_rate for adam, 0.05 for adagrad. */
  embedding_learning_rate: z.number().positive().optional(),
  seed: z.number().int().min(0).default(1),
  shuffle: z.boolean().default(true),
  on_bad_row: z.enum(['error', 'skip']).default('error'),
  backend: z.enum(['auto', 'wasm', 'reference']).default('auto'),
});

export const ConfigSchema = z.strictObject({
  input: Input.default(Input.parse({})),
  features: z.array(Feature).min(1),
  model: Model.default(Model.parse({})),
  train: Train.default(Train.parse({})),
});

export type Config = z.infer<typeof ConfigSchema>;
export type FeatureConfig = z.infer<typeof Feature>;
export type ModelConfig = z.infer<typeof Model>;
export type TrainConfig = z.infer<typeof Train>;

/** Validate a parsed config object; `source` names it in errors. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new EsmmError(`${source}: invalid config\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const seen = new Set<string>();
  cfg.features.forEach((f, i) => {
    if (seen.has(f.name)) throw new EsmmError(`${source}: features.${i}.name: duplicate feature "${f.name}"`);
    seen.add(f.name);
  });
  return cfg;
}

/** Read a YAML or JSON config file. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EsmmError(`${path}: cannot read config: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const pos = e instanceof YAMLParseError && e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new EsmmError(`${path}${pos}: config is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseConfig(raw, path);
}

/** The column a feature reads. */
export function featureColumn(f: FeatureConfig): string {
  return f.column ?? f.name;
}
