/**
 * The one config schema (YAML or JSON): input, features, optional feature groups, model, training.
 * Unknown keys are rejected and every error names the path of the bad key. EasyRec pipeline configs are
 * translated into this same schema (config/easyrec.ts), so everything downstream sees one shape.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { EsmmError } from './errors.js';

/** Input formats. `tsv` is `csv` with a tab delimiter; `auto` picks by file extension (.parquet, .tsv, else csv). */
export const INPUT_FORMATS = ['auto', 'csv', 'tsv', 'parquet', 'ali-ccp', 'ali-ccp-tokens'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

const Input = z.strictObject({
  format: z.enum(INPUT_FORMATS).default('csv'),
  /** Field delimiter of csv (default ',') and tsv (always a tab). */
  delimiter: z.string().length(1).optional(),
  /** Whether csv/tsv files start with a header row. Without one, `columns` names the fields by position. */
  header: z.boolean().default(true),
  /** Column names by position, for files without a header (csv/tsv with header: false). */
  columns: z.array(z.string().min(1)).min(1).optional(),
  click: z.string().min(1).default('click'),
  buy: z.string().min(1).default('buy'),
  /** Raw values that mean "missing" (row 0 for ids, the default for numbers). */
  null_values: z.array(z.string()).default(['', 'NULL']),
});

const FEATURE_NAME = /^[A-Za-z0-9_.\-]+$/;

const Feature = z.strictObject({
  name: z.string().min(1).regex(FEATURE_NAME, 'use letters, digits, _ . - only'),
  /** Source column; defaults to the feature name. */
  column: z.string().min(1).optional(),
  /**
   * id: one id per row. id_list: ids separated by `separator`, pooled. weighted_id_list: `id:weight`
   * pieces (kv_separator), pooled with the weights. numeric: a number, fed to the network as it is
   * (after `normalization`) or, with `boundaries`, bucketised into an embedded id.
   */
  type: z.enum(['id', 'id_list', 'weighted_id_list', 'numeric']).default('id'),
  /** Separator of list values (list types). */
  separator: z.string().min(1).default('|'),
  /** Separator of id and weight inside a weighted_id_list piece. */
  kv_separator: z.string().min(1).default(':'),
  pooling: z.enum(['sum', 'mean']).default('mean'),
  /** Vocabulary from the training files: ids seen fewer times map to the out-of-vocabulary row. */
  min_count: z.number().int().min(1).default(1),
  /** Keep at most this many vocabulary values (the most frequent). */
  max_vocab: z.number().int().min(1).optional(),
  /** Hash the raw value into this many buckets instead of building a vocabulary. */
  hash_buckets: z.number().int().min(1).max(1 << 28).optional(),
  /** The values are already integer ids in [0, num_buckets): row = 1 + id; anything else is out of vocabulary. */
  num_buckets: z.number().int().min(1).max(1 << 28).optional(),
  /** Embedding width of this feature (default model.embedding_dim). */
  embedding_dim: z.number().int().min(1).max(1024).optional(),
  /** numeric: ascending bucket boundaries; bucket i (row i + 1) holds values in [b[i-1], b[i]). */
  boundaries: z.array(z.number()).min(1).optional(),
  /** numeric without boundaries: standard (z-score), minmax (to [0, 1]), log1p (sign·log(1+|x|)), none. */
  normalization: z.enum(['none', 'standard', 'minmax', 'log1p']).default('none'),
  /** numeric: the raw value used when the value is missing (default: the normalised value is 0). */
  default_value: z.number().optional(),
});

const Group = z.strictObject({
  name: z.string().min(1).regex(FEATURE_NAME, 'use letters, digits, _ . - only'),
  /** The features of this group, concatenated in this order. */
  features: z.array(z.string().min(1)).min(1),
  /** The group's own DNN before the towers (EasyRec's esmm.groups); [] passes the concatenation through. */
  hidden_units: z.array(z.number().int().min(1).max(65536)).default([]),
});

/** esmm (the paper's model) and the paper's baselines, in the paper's order of presentation. */
export const MODEL_KINDS = ['esmm', 'esmm-ns', 'base', 'aman', 'oversampling', 'division'] as const;

const Model = z.strictObject({
  /** esmm (the paper's model) or one of the paper's baselines: esmm-ns, base, aman, oversampling, division. */
  kind: z.enum(MODEL_KINDS).default('esmm'),
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
  /** Hidden layers of each tower (the CTR tower and the CVR tower). */
  hidden_units: z.array(z.number().int().min(1).max(65536)).default([200, 80]),
  /** Hidden layers of the CTR tower alone (default hidden_units). */
  ctr_hidden_units: z.array(z.number().int().min(1).max(65536)).optional(),
  /** Hidden layers of the CVR tower alone (default hidden_units). */
  cvr_hidden_units: z.array(z.number().int().min(1).max(65536)).optional(),
  activation: z.enum(['relu', 'prelu']).default('relu'),
  /** Dropout rate on tower hidden layers during training (inverted dropout; 0 = off). */
  dropout: z.number().min(0).max(0.95).default(0),
  ctr_weight: z.number().min(0).default(1),
  /** Weight of the CTCVR term (for the baselines: of their directly learned CVR or CTCVR term). */
  ctcvr_weight: z.number().min(0).default(1),
  /** L2 coefficient on tower (and group DNN) weights, not biases. */
  l2_tower: z.number().min(0).default(0),
  /** L2 coefficient on the embedding rows a batch touches. */
  l2_embedding: z.number().min(0).default(0),
});

const LrSchedule = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('constant') }),
  /** lr = max(min_learning_rate, learning_rate · decay_factor^(step / decay_steps)), floored when staircase. */
  z.strictObject({
    type: z.literal('exponential_decay'),
    decay_steps: z.number().int().min(1),
    decay_factor: z.number().positive().max(1),
    min_learning_rate: z.number().min(0).default(0),
    staircase: z.boolean().default(false),
  }),
]);

/** Metrics early stopping can watch: AUCs are better higher, log losses lower. */
export const STOPPING_METRICS = ['ctr_auc', 'cvr_auc', 'ctcvr_auc', 'ctr_logloss', 'cvr_logloss', 'ctcvr_logloss'] as const;

const EarlyStopping = z.strictObject({
  /** The evaluation metric to watch (on --eval, after every evaluated epoch). */
  metric: z.enum(STOPPING_METRICS).default('cvr_auc'),
  /** Stop after this many evaluations without an improvement. */
  patience: z.number().int().min(1).default(2),
  /** An improvement smaller than this does not count. */
  min_delta: z.number().min(0).default(0),
});

const Train = z.strictObject({
  epochs: z.number().int().min(1).default(1),
  /** Stop after this many optimizer steps (EasyRec's num_steps), even within an epoch. */
  max_steps: z.number().int().min(1).optional(),
  /**
   * Evaluate and checkpoint at the end of an epoch only once this many steps have passed since the last
   * checkpoint (and always after the last epoch); unset: after every epoch. For many short epochs.
   */
  checkpoint_steps: z.number().int().min(1).optional(),
  batch_size: z.number().int().min(1).max(1 << 20).default(1024),
  learning_rate: z.number().positive().default(1e-3),
  lr_schedule: LrSchedule.default({ type: 'constant' }),
  embedding_optimizer: z.enum(['adam', 'adagrad']).default('adam'),
  /** Defaults to learning_rate for adam, 0.05 for adagrad. */
  embedding_learning_rate: z.number().positive().optional(),
  seed: z.number().int().min(0).default(1),
  shuffle: z.boolean().default(true),
  /**
   * Rows held in the streaming shuffle buffer: training reads the files in chunks and draws batches from
   * this many buffered rows, so memory is bounded whatever the data size.
   */
  shuffle_buffer: z.number().int().min(1).max(1 << 28).default(262_144),
  /** Hold the whole encoded training set in memory (a full shuffle every epoch, no re-reading). */
  cache: z.boolean().default(false),
  on_bad_row: z.enum(['error', 'skip']).default('error'),
  /** Stop when the watched metric stops improving; the model written is the best epoch's (kept in DIR/best). */
  early_stopping: EarlyStopping.optional(),
  backend: z.enum(['auto', 'native', 'wasm', 'reference']).default('auto'),
  /** Worker threads training (and scoring) one shared model; all cores when unset. */
  threads: z.number().int().min(1).max(256).optional(),
});

export const ConfigSchema = z.strictObject({
  input: Input.default(Input.parse({})),
  features: z.array(Feature).min(1),
  /** Optional feature groups; without them all features form one group with no DNN of its own. */
  groups: z.array(Group).min(1).optional(),
  model: Model.default(Model.parse({})),
  train: Train.default(Train.parse({})),
});

export type Config = z.infer<typeof ConfigSchema>;
export type InputConfig = z.infer<typeof Input>;
export type FeatureConfig = z.infer<typeof Feature>;
export type GroupConfig = z.infer<typeof Group>;
export type ModelConfig = z.infer<typeof Model>;
export type TrainConfig = z.infer<typeof Train>;
export type LrScheduleConfig = z.infer<typeof LrSchedule>;
export type EarlyStoppingConfig = z.infer<typeof EarlyStopping>;

/** Validate a parsed config object; `source` names it in errors. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new EsmmError(`${source}: invalid config\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const problems = crossCheck(cfg);
  if (problems.length > 0) throw new EsmmError(`${source}: invalid config\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return cfg;
}

/** The rules a per-key schema cannot state: unique names, exclusive options, groups covering features once. */
function crossCheck(cfg: Config): string[] {
  const out: string[] = [];
  const inp = cfg.input;
  if (!inp.header && inp.columns === undefined && (inp.format === 'csv' || inp.format === 'tsv' || inp.format === 'auto')) {
    out.push('input.columns: required when input.header is false (the column names by position)');
  }
  if (inp.header && inp.columns !== undefined) out.push('input.columns: only for files without a header (set input.header: false)');
  if (inp.format === 'tsv' && inp.delimiter !== undefined && inp.delimiter !== '\t') out.push('input.delimiter: tsv is always tab-delimited');
  const names = new Map<string, number>();
  cfg.features.forEach((f, i) => {
    const at = `features.${i}`;
    if (names.has(f.name)) out.push(`${at}.name: duplicate feature "${f.name}" (also features.${names.get(f.name)})`);
    names.set(f.name, i);
    const ways = (['hash_buckets', 'num_buckets', 'max_vocab'] as const).filter((k) => f[k] !== undefined);
    if (f.hash_buckets !== undefined && f.num_buckets !== undefined) out.push(`${at}: give hash_buckets or num_buckets, not both`);
    if (f.type === 'numeric') {
      for (const k of ways) out.push(`${at}.${k}: not for numeric features (use boundaries to bucketise)`);
      if (f.boundaries) {
        for (let j = 1; j < f.boundaries.length; j++) {
          if (!(f.boundaries[j] > f.boundaries[j - 1])) { out.push(`${at}.boundaries: must be strictly ascending (index ${j})`); break; }
        }
        if (f.normalization !== 'none') out.push(`${at}.normalization: not with boundaries (the buckets use the raw value)`);
      } else if (f.embedding_dim !== undefined) {
        out.push(`${at}.embedding_dim: a numeric feature without boundaries has no embedding`);
      }
    } else {
      if (f.boundaries !== undefined) out.push(`${at}.boundaries: only for numeric features`);
      if (f.normalization !== 'none') out.push(`${at}.normalization: only for numeric features`);
      if (f.default_value !== undefined) out.push(`${at}.default_value: only for numeric features`);
      if (f.max_vocab !== undefined && (f.hash_buckets !== undefined || f.num_buckets !== undefined)) {
        out.push(`${at}.max_vocab: only for vocabulary features (not with hash_buckets or num_buckets)`);
      }
    }
    if (f.type === 'weighted_id_list' && f.kv_separator === f.separator) out.push(`${at}.kv_separator: must differ from separator`);
  });
  if (cfg.groups) {
    const owner = new Map<string, string>();
    const groupNames = new Set<string>();
    cfg.groups.forEach((g, gi) => {
      if (groupNames.has(g.name)) out.push(`groups.${gi}.name: duplicate group "${g.name}"`);
      groupNames.add(g.name);
      g.features.forEach((name, j) => {
        const at = `groups.${gi}.features.${j}`;
        if (!names.has(name)) out.push(`${at}: no feature named "${name}"`);
        else if (owner.has(name)) out.push(`${at}: feature "${name}" is already in group "${owner.get(name)}"`);
        else owner.set(name, g.name);
      });
    });
    for (const f of cfg.features) if (!owner.has(f.name)) out.push(`groups: feature "${f.name}" is in no group (every feature must be in exactly one)`);
  }
  return out;
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

/** Whether a feature is fed to the network as a number (no embedding). */
export function isDenseNumeric(f: FeatureConfig): boolean {
  return f.type === 'numeric' && f.boundaries === undefined;
}

/** The csv delimiter of an input config (tab for tsv). */
export function inputDelimiter(inp: InputConfig): string {
  return inp.format === 'tsv' ? '\t' : (inp.delimiter ?? ',');
}
