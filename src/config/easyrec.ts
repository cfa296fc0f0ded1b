/**
 * EasyRec pipeline configs (protobuf text format, Alibaba EasyRec's `*.config`) translated into this
 * project's one config schema (`Config`, src/config.ts), so everything downstream sees one shape.
 *
 * Parsing is @bufbuild/protobuf's text-format parser (txtpb) over the descriptors of
 * src/config/easyrec.proto (generated into src/config/gen/ by `npm run generate:proto`): the subset of
 * EasyRec's protos this project supports, with EasyRec's field names and numbers. A field outside that
 * subset is a parse error, never ignored. txtpb reports no positions, so text-positions.ts finds them.
 *
 * Every field of the schema is either translated, accepted as a no-op (it steers TensorFlow logistics:
 * checkpoints, logging, distribution, prefetching, export), or an error naming the field when its value
 * would change the model in a way this engine does not do. The README section "EasyRec pipeline configs"
 * has the table.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { isFieldSet, type DescEnum, type DescMessage, type Message } from '@bufbuild/protobuf';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { parseConfig, type Config } from '../config.js';
import { EsmmError } from '../errors.js';
import {
  AdamOptimizerSchema, DatasetConfig_FieldType, DatasetConfig_InputType, DatasetConfig_FieldSchema, DatasetConfig_InputTypeSchema, DatasetConfigSchema,
  DNNSchema, EasyRecConfigSchema, EasyRecModel_LossWeightStrategy, EasyRecModelSchema, ESMMSchema, FeatureConfig_FeatureType,
  FeatureConfig_FeatureTypeSchema, FeatureConfigSchema, LossType, LossTypeSchema, OptimizerSchema, TaskTowerSchema, WideOrDeep, WideOrDeepSchema,
  type DNN, type EasyRecConfig, type FeatureConfig as ErFeature, type TaskTower,
} from './gen/easyrec_pb.js';
import { fieldPositions, formatPath, locateError, type FieldPath, type FieldPositions, type TextPosition } from './text-positions.js';

export interface EasyRecLoadResult {
  /** The translated config, validated by the one schema (defaults filled in). */
  config: Config;
  /** train_input_path: comma-separated entries, each resolved against `cwd` (EasyRec's rule); globs kept. */
  trainPaths: string[];
  /** eval_input_path, the same way. */
  evalPaths: string[];
  /** model_dir as written, resolved against `cwd` (informational: `--out` decides where the model goes). */
  modelDir?: string;
  /** What the translation dropped or could not reproduce exactly, each naming file:line:column. */
  warnings: string[];
}

export interface EasyRecOptions {
  /** Directory relative input paths are resolved against (default: process.cwd(), as EasyRec does). */
  cwd?: string;
}

/** File extensions that are always EasyRec text format. */
const EASYREC_EXTENSIONS = new Set(['.config', '.pbtxt', '.prototxt', '.textproto', '.txtpb']);
const YAML_JSON_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Whether `path` is an EasyRec pipeline config: by extension (.config, .pbtxt, .prototxt, .textproto,
 * .txtpb yes; .yaml, .yml, .json no), otherwise by content (its first field is a top-level field of
 * EasyRecConfig, such as `train_input_path:` or `model_config {`).
 */
export function isEasyRecConfig(path: string): boolean {
  const ext = extname(path).toLowerCase();
  if (EASYREC_EXTENSIONS.has(ext)) return true;
  if (YAML_JSON_EXTENSIONS.has(ext)) return false;
  let text: string;
  try {
    text = readFileSync(path, 'utf8').slice(0, 65536);
  } catch {
    return false;
  }
  return looksLikeEasyRecText(text);
}

const TOP_LEVEL_NAMES = new Set([
  ...EasyRecConfigSchema.fields.map((f) => f.name),
  ...(KNOWN_UNSUPPORTED_LIST().EasyRecConfig ?? []),
]);

/** Whether text reads as an EasyRec pipeline config: its first field name is one of EasyRecConfig's. */
export function looksLikeEasyRecText(text: string): boolean {
  const m = /^(?:\s|#[^\n]*\n?)*([A-Za-z_]\w*)\s*([:{<])/.exec(text);
  return m !== null && TOP_LEVEL_NAMES.has(m[1]);
}

/** Read and translate an EasyRec pipeline config file. */
export function loadEasyRecConfig(path: string, opts: EasyRecOptions = {}): EasyRecLoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EsmmError(`${path}: cannot read config: ${(e as Error).message}`);
  }
  return parseEasyRecConfig(text, path, opts);
}

/** Translate EasyRec pipeline config text; `source` names it in errors and warnings. */
export function parseEasyRecConfig(text: string, source = 'config', opts: EasyRecOptions = {}): EasyRecLoadResult {
  const { message, positions } = parseEasyRecText(text, source);
  return translate(message, new Reporter(source, positions), opts.cwd ?? process.cwd());
}

/**
 * Parse EasyRec text format into the typed message (no translation). Errors name the line and column:
 * syntax errors, unknown fields (with a hint when it is an EasyRec field this loader does not support),
 * unknown enum values, values of the wrong type.
 */
export function parseEasyRecText(text: string, source = 'config'): { message: EasyRecConfig; positions: FieldPositions | null } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let message: EasyRecConfig;
  try {
    message = fromText(EasyRecConfigSchema, text);
  } catch {
    const located = locateError(text, (t) => { fromText(EasyRecConfigSchema, t); });
    const raw = located?.message ?? 'cannot parse';
    let positions: FieldPositions | null = null;
    try {
      positions = fieldPositions(text);
    } catch {
      // the structure itself is broken: no field path for the message
    }
    const where = located?.position ? `${source}:${located.position.line}:${located.position.column}` : source;
    throw new EsmmError(`${where}: ${explainParseError(raw, located?.position, positions)}`);
  }
  let positions: FieldPositions | null = null;
  try {
    positions = fieldPositions(text);
  } catch {
    // txtpb accepted what the position scan could not follow: errors then name paths without positions
  }
  return { message, positions };
}

// ---------------------------------------------------------------------------------------------------
// Parse errors

/** EasyRec fields deliberately left out of easyrec.proto, by message, with why. */
function KNOWN_UNSUPPORTED_LIST(): Record<string, string[]> {
  return {
    EasyRecConfig: ['kafka_train_input', 'datahub_train_input', 'kafka_eval_input', 'datahub_eval_input', 'fg_json_path'],
    TrainConfig: ['incr_save_config'],
    Optimizer: ['rms_prop_optimizer', 'momentum_optimizer', 'momentumw_optimizer', 'adamw_optimizer', 'adam_async_optimizer',
      'adagrad_optimizer', 'adam_asyncw_optimizer'],
    LearningRate: ['manual_step_learning_rate', 'cosine_decay_learning_rate', 'poly_decay_learning_rate', 'transformer_learning_rate'],
    EvalMetrics: ['recall_at_topk', 'mean_absolute_error', 'mean_squared_error', 'accuracy', 'max_f1', 'root_mean_squared_error',
      'gauc', 'session_auc', 'recall', 'precision', 'precision_at_topk'],
    DatasetConfig: ['negative_sampler', 'negative_sampler_v2', 'hard_negative_sampler', 'hard_negative_sampler_v2'],
    FeatureConfig: ['seq_multi_sep', 'max_seq_len', 'lookup_max_sel_elem_num', 'initializer', 'sequence_combiner', 'sub_feature_type',
      'sequence_length', 'expression'],
    FeatureGroupConfig: ['sequence_features'],
    EasyRecModel: ['model_params', 'dummy', 'wide_and_deep', 'deepfm', 'multi_tower', 'fm', 'dcn', 'autoint', 'dlrm', 'cmbf', 'uniter',
      'multi_tower_recall', 'dssm', 'mind', 'dropoutnet', 'metric_learning', 'pdn', 'mmoe', 'dbmtl', 'simple_multi_task', 'ple',
      'rocket_launching', 'seq_att_groups', 'ev_params', 'kd', 'variational_dropout', 'losses', 'backbone'],
    TaskTower: ['losses'],
    ExportConfig: ['multi_value_fields'],
  };
}

const UNSUPPORTED_WHY: Record<string, string> = {
  EasyRecConfig: 'only local files are read: use train_input_path / eval_input_path',
  Optimizer: 'this engine trains with Adam: use adam_optimizer',
  LearningRate: 'use constant_learning_rate or exponential_decay_learning_rate',
  EvalMetrics: 'only auc is computed here: esmm eval reports CTR, CVR and CTCVR AUC and log loss',
  DatasetConfig: 'negative sampling is not supported',
  FeatureConfig: 'sequence, lookup and expression features and custom initializers are not supported',
  FeatureGroupConfig: 'sequence features are not supported',
  EasyRecModel: 'only ESMM is read here: model_class "ESMM" with an esmm block',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

function messageByName(name: string): DescMessage | undefined {
  return EasyRecConfigSchema.file.messages.find((m) => m.typeName === name)
    ?? EasyRecConfigSchema.file.messages.flatMap((m) => m.nestedMessages).find((m) => m.typeName === name);
}

function enumByName(name: string): DescEnum | undefined {
  return EasyRecConfigSchema.file.enums.find((e) => e.typeName === name)
    ?? EasyRecConfigSchema.file.messages.flatMap((m) => [...m.nestedEnums, ...m.nestedMessages.flatMap((n) => n.nestedEnums)])
      .find((e) => e.typeName === name);
}

/** Reverse lookup: the written field path whose name starts at `pos` (or, not exact, the last one before it). */
function pathAt(positions: FieldPositions | null, pos: TextPosition | undefined, exact = true): string | null {
  if (!positions || !pos) return null;
  return positions.pathAtOffset(pos.offset, exact);
}

/** `a.b[2].c` → `a.b[2]`; a top-level name → null. */
function parentOf(path: string | null): string | null {
  if (path === null) return null;
  const i = path.lastIndexOf('.');
  return i < 0 ? null : path.slice(0, i);
}

function explainParseError(raw: string, pos: TextPosition | undefined, positions: FieldPositions | null): string {
  const unknown = /^unknown field "([^"]+)" for message protos\.([\w.]+)$/.exec(raw);
  if (unknown) {
    const [, field, typeName] = unknown;
    const short = typeName.split('.').pop()!;
    const parent = parentOf(pathAt(positions, pos));
    const at = parent ? `${parent}: ` : '';
    if ((KNOWN_UNSUPPORTED_LIST()[short] ?? []).includes(field)) {
      return `${at}EasyRec's ${short}.${field} is not supported here${UNSUPPORTED_WHY[short] ? ` (${UNSUPPORTED_WHY[short]})` : ''}`;
    }
    const desc = messageByName(`protos.${typeName}`);
    const names = desc ? desc.fields.map((f) => f.name) : [];
    const close = names.filter((n) => editDistance(n, field) <= Math.max(1, Math.floor(field.length / 4)));
    const hint = close.length ? `; did you mean ${close.map((n) => `"${n}"`).join(' or ')}?` : '';
    return `${at}unknown field "${field}" in ${short} (not an EasyRec field this loader knows${hint})`;
  }
  const badEnum = /^unknown enum value "([^"]+)" for enum (protos\.[\w.]+)$/.exec(raw);
  if (badEnum) {
    const e = enumByName(badEnum[2]);
    const parent = pathAt(positions, pos, false);
    const list = e ? `: expected one of ${e.values.map((v) => v.name).join(', ')}` : '';
    return `${parent ? `${parent}: ` : ''}unknown value "${badEnum[1]}" for ${badEnum[2].replace(/^protos\./, '')}${list}`;
  }
  const text = raw.replace(/protos\./g, '');
  if (/^(expected (an integer|a float|a bool|a string|an enum)|an unsigned|invalid float|octal|cannot decode)/.test(raw)) {
    // a value of the wrong type: name the field it belongs to
    const field = pathAt(positions, pos, false);
    if (field) return `${field}: ${text}`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------
// Translation

/** Collects problems (errors) and warnings, each located in the source text. */
class Reporter {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  constructor(readonly source: string, private readonly positions: FieldPositions | null) {}

  where(path: FieldPath): string {
    const pos = this.positions?.nearest(path);
    return pos ? `${this.source}:${pos.line}:${pos.column}` : this.source;
  }

  error(path: FieldPath, message: string): void {
    this.problems.push(`${this.where(path)}: ${formatPath(path) || '(top level)'}: ${message}`);
  }

  warn(path: FieldPath, message: string): void {
    this.warnings.push(`${this.where(path)}: ${formatPath(path) || '(top level)'}: ${message}`);
  }
}

const FEATURE_NAME = /^[A-Za-z0-9_.\-]+$/;
const MAX_BUCKETS = 1 << 28;
const MAX_DIM = 1024;
const MAX_UNITS = 65536;
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function has<T extends Message>(schema: DescMessage, msg: T, localName: string): boolean {
  const field = schema.fields.find((f) => f.localName === localName);
  return field !== undefined && isFieldSet(msg, field);
}

function enumName(e: DescEnum, n: number): string {
  const names = e.values.filter((v) => v.number === n).map((v) => v.name);
  return names.length ? names.join(' / ') : String(n);
}

function translate(er: EasyRecConfig, r: Reporter, cwd: string): EasyRecLoadResult {
  const paths = (value: string, field: string): string[] => {
    const out: string[] = [];
    for (const part of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      if (URL_SCHEME.test(part)) { r.error([field], `"${part}": only local files are read here (no ${part.split(':')[0]}://)`); continue; }
      out.push(resolve(cwd, part));
    }
    return out;
  };
  const trainPaths = paths(er.trainInputPath, 'train_input_path');
  const evalPaths = paths(er.evalInputPath, 'eval_input_path');
  const modelDir = has(EasyRecConfigSchema, er, 'modelDir') && er.modelDir !== '' ? resolve(cwd, er.modelDir) : undefined;

  const raw: Record<string, any> = { input: {}, model: {}, train: {} };

  // ---- data_config
  const dc = er.dataConfig;
  const columnTypes = new Map<string, { type: DatasetConfig_FieldType; defaultVal?: string; index: number }>();
  if (!dc) {
    r.error([], 'data_config is missing (its input_fields name the CSV columns)');
  } else {
    const D = ['data_config'];
    if (!has(DatasetConfigSchema, dc, 'inputType')) {
      r.error(D, 'input_type is missing (EasyRec requires it; CSVInput is read here)');
    } else if (![DatasetConfig_InputType.CSVInput, DatasetConfig_InputType.CSVInputV2, DatasetConfig_InputType.CSVInputEx].includes(dc.inputType)) {
      r.error([...D, 'input_type'], `${enumName(DatasetConfig_InputTypeSchema, dc.inputType)} is not supported: only CSV input (CSVInput, CSVInputV2, CSVInputEx)`);
    }
    if (dc.inputFields.length === 0) r.error(D, 'input_fields is empty (the CSV columns, in file order)');
    dc.inputFields.forEach((f, i) => {
      const P = [...D, 'input_fields', i];
      if (f.inputName === '') { r.error(P, 'input_name is missing'); return; }
      if (columnTypes.has(f.inputName)) { r.error([...P, 'input_name'], `duplicate input field "${f.inputName}"`); return; }
      if (f.inputDim !== 1) r.error([...P, 'input_dim'], `${f.inputDim}: multi-dimensional input fields are not supported (must be 1)`);
      if (f.inputShape !== 1) r.error([...P, 'input_shape'], `${f.inputShape}: multi-dimensional input fields are not supported (must be 1)`);
      columnTypes.set(f.inputName, { type: f.inputType, defaultVal: has(DatasetConfig_FieldSchema, f, 'defaultVal') ? f.defaultVal : undefined, index: i });
    });
    if (dc.withHeader) {
      raw.input.header = true;
    } else {
      raw.input.header = false;
      raw.input.columns = dc.inputFields.map((f) => f.inputName);
    }
    if ([...dc.separator].length !== 1) {
      r.error([...D, 'separator'], `${JSON.stringify(dc.separator)}: the separator must be one character`);
    } else {
      raw.input.delimiter = dc.separator;
    }
    raw.input.format = 'csv';
    if (dc.autoExpandInputFields) r.error([...D, 'auto_expand_input_fields'], 'not supported: list every input field');
    if (dc.labelSep.length > 0) r.error([...D, 'label_sep'], 'multi-dimensional labels are not supported');
    if (dc.labelDim.length > 0) r.error([...D, 'label_dim'], 'multi-dimensional labels are not supported');
    if (dc.sampleWeight !== '') r.error([...D, 'sample_weight'], 'sample weights are not supported');
    if (dc.selectedCols !== '') r.error([...D, 'selected_cols'], 'not supported for CSV input: list the columns in input_fields');
    if (dc.batchSize < 1) r.error([...D, 'batch_size'], 'must be at least 1');
    else if (dc.batchSize > 1 << 20) r.error([...D, 'batch_size'], `${dc.batchSize}: at most ${1 << 20}`);
    raw.train.batch_size = dc.batchSize;
    raw.train.shuffle = dc.shuffle;
    if (dc.ignoreError) raw.train.on_bad_row = 'skip';
  }
  const batchSize = dc && dc.batchSize >= 1 ? dc.batchSize : 32;

  // ---- model_config
  const mc = er.modelConfig;
  const esmm = mc?.model.case === 'esmm' ? mc.model.value : undefined;
  const M = ['model_config'];
  if (!mc) {
    r.error([], 'model_config is missing');
  } else {
    if (mc.modelClass !== 'ESMM') r.error([...M, 'model_class'], `${JSON.stringify(mc.modelClass)}: only "ESMM" is supported`);
    if (!esmm) r.error(M, 'the esmm block is missing');
    if (mc.lossType !== LossType.CLASSIFICATION) r.error([...M, 'loss_type'], `${enumName(LossTypeSchema, mc.lossType)}: only CLASSIFICATION (binary cross-entropy)`);
    if (mc.numClass !== 1) r.error([...M, 'num_class'], `${mc.numClass}: only 1 (binary towers)`);
    if (mc.lossWeightStrategy !== EasyRecModel_LossWeightStrategy.Fixed) r.error([...M, 'loss_weight_strategy'], 'only Fixed loss weights are supported');
    if (mc.embeddingRegularization < 0) r.error([...M, 'embedding_regularization'], 'must be ≥ 0');
    // EasyRec's ESMM sums its losses over the batch; ours averages: the same objective needs λ / batch_size.
    else raw.model.l2_embedding = mc.embeddingRegularization / batchSize;
  }

  // ---- towers, labels
  const dnnWithDefaultBn: string[] = [];
  const checkDnn = (path: FieldPath, dnn: DNN | undefined, allowDropout: boolean): { units: number[]; dropout: number[] } => {
    if (!dnn) return { units: [], dropout: [] };
    const units: number[] = [];
    dnn.hiddenUnits.forEach((u, i) => {
      if (u < 1 || u > MAX_UNITS) r.error([...path, 'hidden_units', i], `${u}: hidden units must be in 1..${MAX_UNITS}`);
      units.push(u);
    });
    if (dnn.activation !== 'tf.nn.relu' && dnn.activation !== 'relu') {
      r.error([...path, 'activation'], `${JSON.stringify(dnn.activation)}: only ReLU (tf.nn.relu) is supported`);
    }
    if (has(DNNSchema, dnn, 'useBn')) {
      if (dnn.useBn) r.error([...path, 'use_bn'], 'batch normalization is not supported here (set use_bn: false or remove it)');
    } else if (units.length > 0) {
      dnnWithDefaultBn.push(formatPath(path));
    }
    if (!allowDropout && dnn.dropoutRatio.some((d) => d !== 0)) {
      r.error([...path, 'dropout_ratio'], 'dropout in group DNNs is not supported (only in the towers)');
    }
    dnn.dropoutRatio.forEach((d, i) => {
      if (!(d >= 0 && d <= 0.95)) r.error([...path, 'dropout_ratio', i], `${d}: must be in [0, 0.95]`);
    });
    return { units, dropout: dnn.dropoutRatio };
  };

  const labelFields = dc?.labelFields ?? [];
  const towerLabel = (tower: TaskTower, path: FieldPath, fallbackIndex: number): string | undefined => {
    let label: string | undefined;
    if (has(TaskTowerSchema, tower, 'labelName')) {
      label = tower.labelName;
      if (!labelFields.includes(label)) {
        r.error([...path, 'label_name'], `"${label}" is not in data_config.label_fields (${labelFields.map((l) => `"${l}"`).join(', ') || 'none'})`);
        return undefined;
      }
    } else {
      // EasyRec matches towers (cvr_tower first, then ctr_tower) to label_fields by order.
      label = labelFields[fallbackIndex];
      if (label === undefined) r.error(path, `no label_name, and data_config.label_fields has no entry ${fallbackIndex + 1} to take it from`);
    }
    if (label !== undefined && dc && !columnTypes.has(label)) r.error(has(TaskTowerSchema, tower, 'labelName') ? [...path, 'label_name'] : path, `label "${label}" is not an input field`);
    return label;
  };

  const checkTower = (name: 'ctr_tower' | 'cvr_tower', tower: TaskTower | undefined): { tower: TaskTower; units: number[]; dropout: number[] } | undefined => {
    const P = [...M, 'esmm', name];
    if (!tower) { r.error([...M, 'esmm'], `${name} is missing`); return undefined; }
    if (tower.lossType !== LossType.CLASSIFICATION) r.error([...P, 'loss_type'], `${enumName(LossTypeSchema, tower.lossType)}: only CLASSIFICATION (binary cross-entropy)`);
    if (tower.numClass !== 1) r.error([...P, 'num_class'], `${tower.numClass}: only 1 (binary towers)`);
    if (!(tower.weight >= 0)) r.error([...P, 'weight'], `${tower.weight}: must be ≥ 0`);
    if (tower.taskSpaceIndicatorLabel !== '') r.error([...P, 'task_space_indicator_label'], 'task-space weighting is not supported');
    return { tower, ...checkDnn([...P, 'dnn'], tower.dnn, true) };
  };
  if (esmm) {
    const ctr = checkTower('ctr_tower', esmm.ctrTower);
    const cvr = checkTower('cvr_tower', esmm.cvrTower);
    if (ctr && cvr) {
      const cvrLabel = towerLabel(cvr.tower, [...M, 'esmm', 'cvr_tower'], 0);
      const ctrLabel = towerLabel(ctr.tower, [...M, 'esmm', 'ctr_tower'], 1);
      if (cvrLabel !== undefined && cvrLabel === ctrLabel) r.error([...M, 'esmm'], `ctr_tower and cvr_tower both use label "${ctrLabel}"`);
      raw.input.click = ctrLabel;
      raw.input.buy = cvrLabel;
      raw.model.ctr_hidden_units = ctr.units;
      raw.model.cvr_hidden_units = cvr.units;
      // EasyRec's ESMM: ctr_tower.weight weighs the CTR loss, cvr_tower.weight the CTCVR loss (there is no CVR loss).
      raw.model.ctr_weight = ctr.tower.weight;
      raw.model.ctcvr_weight = cvr.tower.weight;
      // One dropout rate for every hidden layer of both towers is what model.dropout can say.
      const rates = [...ctr.dropout, ...cvr.dropout];
      if (rates.some((d) => d !== 0)) {
        const uniform = rates.every((d) => d === rates[0])
          && ctr.dropout.length === ctr.units.length && cvr.dropout.length === cvr.units.length;
        if (uniform) raw.model.dropout = rates[0];
        else r.error([...M, 'esmm'], 'per-layer or per-tower dropout rates are not supported: give both towers one dropout_ratio value for each hidden layer, all equal');
      }
    }
    if (!(esmm.l2Regularization >= 0)) r.error([...M, 'esmm', 'l2_regularization'], 'must be ≥ 0');
    // EasyRec's ESMM sums its losses over the batch; ours averages: the same objective needs λ / batch_size.
    else raw.model.l2_tower = esmm.l2Regularization / batchSize;
  }
  raw.model.kind = 'esmm';
  raw.model.activation = 'relu';

  // ---- features
  let featureList: ErFeature[] = [];
  let featureBase: FieldPath = ['feature_config', 'features'];
  if (er.featureConfig && er.featureConfigs.length > 0) {
    r.error(['feature_configs'], 'give the features in feature_config or in feature_configs, not both');
  } else if (er.featureConfigs.length > 0) {
    featureList = er.featureConfigs;
    featureBase = ['feature_configs'];
  } else if (er.featureConfig) {
    featureList = er.featureConfig.features;
  }
  if (featureList.length === 0) r.error(er.featureConfig ? ['feature_config'] : [], 'no features (feature_config { features { ... } })');

  const embeddingNames = new Map<string, number>();
  for (const f of featureList) if (f.embeddingName !== '') embeddingNames.set(f.embeddingName, (embeddingNames.get(f.embeddingName) ?? 0) + 1);

  interface Translated { name: string; path: FieldPath; out: Record<string, unknown> }
  const features: Translated[] = [];
  const featureNames = new Map<string, FieldPath>();
  featureList.forEach((f, i) => {
    const P = [...featureBase, i];
    const t = translateFeature(f, P, r, columnTypes, embeddingNames);
    if (t.name === undefined) return;
    if (featureNames.has(t.name)) { r.error(P, `duplicate feature "${t.name}" (also ${formatPath(featureNames.get(t.name)!)})`); return; }
    featureNames.set(t.name, P);
    if (t.ok) features.push({ name: t.name, path: P, out: t.out });
  });

  // ---- groups
  const groupsOut: Array<{ name: string; features: string[]; hidden_units: number[] }> = [];
  if (mc && esmm) {
    const fgByName = new Map<string, { index: number; names: string[] }>();
    mc.featureGroups.forEach((g, gi) => {
      const P = [...M, 'feature_groups', gi];
      if (g.groupName === '') { r.error(P, 'group_name is missing'); return; }
      if (fgByName.has(g.groupName)) { r.error([...P, 'group_name'], `duplicate feature group "${g.groupName}"`); return; }
      if (!FEATURE_NAME.test(g.groupName)) r.error([...P, 'group_name'], `"${g.groupName}": use letters, digits, _ . - only`);
      if (g.wideDeep !== WideOrDeep.DEEP) {
        r.error([...P, 'wide_deep'], `${enumName(WideOrDeepSchema, g.wideDeep)}: only DEEP groups (ESMM has no wide part)`);
      }
      const seen = new Set<string>();
      g.featureNames.forEach((n, j) => {
        if (!featureNames.has(n)) r.error([...P, 'feature_names', j], `no feature named "${n}"`);
        else if (seen.has(n)) r.error([...P, 'feature_names', j], `feature "${n}" is listed twice`);
        seen.add(n);
      });
      fgByName.set(g.groupName, { index: gi, names: g.featureNames });
    });

    const used: Array<{ name: string; hidden: number[]; path: FieldPath }> = [];
    if (esmm.groups.length === 0) {
      // Without esmm.groups EasyRec's ESMM feeds the feature group named "all" to the towers.
      if (!fgByName.has('all')) r.error([...M, 'esmm'], 'no esmm.groups, and no feature group named "all" (what EasyRec\'s ESMM then uses)');
      else used.push({ name: 'all', hidden: [], path: [...M, 'feature_groups', fgByName.get('all')!.index] });
    }
    esmm.groups.forEach((g, gi) => {
      const P = [...M, 'esmm', 'groups', gi];
      if (!fgByName.has(g.input)) { r.error([...P, 'input'], `no feature group named "${g.input}"`); return; }
      if (used.some((u) => u.name === g.input)) { r.error([...P, 'input'], `feature group "${g.input}" is used twice`); return; }
      if (!g.dnn) r.error(P, 'dnn is missing');
      const { units } = checkDnn([...P, 'dnn'], g.dnn, false);
      used.push({ name: g.input, hidden: units, path: P });
    });
    const owner = new Map<string, string>();
    for (const u of used) {
      const fg = fgByName.get(u.name)!;
      const names: string[] = [];
      for (const n of fg.names) {
        if (!featureNames.has(n)) continue;
        if (owner.has(n)) {
          r.error([...M, 'feature_groups', fg.index], `feature "${n}" is in groups "${owner.get(n)}" and "${u.name}": here every feature is in exactly one group`);
          continue;
        }
        if (!names.includes(n)) names.push(n);
        owner.set(n, u.name);
      }
      if (names.length === 0) r.error(u.path, `feature group "${u.name}" has no features`);
      groupsOut.push({ name: u.name, features: names, hidden_units: u.hidden });
    }
    for (const [name, fg] of fgByName) {
      if (!used.some((u) => u.name === name)) {
        r.warn([...M, 'feature_groups', fg.index], `feature group "${name}" is not used by esmm.groups: EasyRec's ESMM ignores it, and so does this translation`);
      }
    }
    const dropped = features.filter((f) => !owner.has(f.name));
    for (const f of dropped) r.warn(f.path, `feature "${f.name}" is in no group the model uses: dropped (EasyRec leaves it out of the model too)`);
    raw.features = features.filter((f) => owner.has(f.name)).map((f) => f.out);
    if (raw.features.length === 0 && features.length > 0) r.error(M, 'no feature is in a group the model uses');
  } else {
    raw.features = features.map((f) => f.out);
  }
  if (groupsOut.length > 0) raw.groups = groupsOut;
  if (dnnWithDefaultBn.length > 0) {
    r.warn(M, `EasyRec's DNN layers use batch normalization unless use_bn: false; this engine has none, so ${dnnWithDefaultBn.length === 1 ? 'this DNN is' : 'these DNNs are'} Dense + ReLU only: ${dnnWithDefaultBn.join(', ')}`);
  }

  // ---- train_config
  const tc = er.trainConfig;
  const T = ['train_config'];
  if (!tc) {
    r.error([], 'train_config is missing (its optimizer_config sets the learning rate)');
  } else {
    if (tc.optimizerConfig.length === 0) r.error(T, 'optimizer_config is missing');
    if (tc.optimizerConfig.length > 1) r.error([...T, 'optimizer_config', 1], 'one optimizer only (Adam for every parameter)');
    const opt = tc.optimizerConfig[0];
    if (opt) {
      const O = [...T, 'optimizer_config', 0];
      if (opt.useMovingAverage) r.error([...O, 'use_moving_average'], 'moving averages of the weights are not supported');
      if (has(OptimizerSchema, opt, 'embeddingLearningRateMultiplier')) {
        r.error([...O, 'embedding_learning_rate_multiplier'], 'a learning-rate multiplier for embeddings is not supported');
      }
      if (opt.optimizer.case !== 'adamOptimizer') {
        r.error(O, 'adam_optimizer is missing (this engine trains with Adam)');
      } else {
        const adam = opt.optimizer.value;
        const A = [...O, 'adam_optimizer'];
        if (has(AdamOptimizerSchema, adam, 'beta1') && adam.beta1 !== 0.9) r.error([...A, 'beta1'], `${adam.beta1}: only the default 0.9`);
        if (has(AdamOptimizerSchema, adam, 'beta2') && adam.beta2 !== 0.999) r.error([...A, 'beta2'], `${adam.beta2}: only the default 0.999`);
        const lr = adam.learningRate?.learningRate;
        const L = [...A, 'learning_rate'];
        if (!lr || lr.case === undefined) {
          r.error(A, 'learning_rate is missing (constant_learning_rate or exponential_decay_learning_rate)');
        } else if (lr.case === 'constantLearningRate') {
          const v = lr.value.learningRate;
          if (!(v > 0)) r.error([...L, 'constant_learning_rate', 'learning_rate'], `${v}: must be > 0`);
          raw.train.learning_rate = v;
          raw.train.lr_schedule = { type: 'constant' };
        } else {
          const e = lr.value;
          const E = [...L, 'exponential_decay_learning_rate'];
          if (!(e.initialLearningRate > 0)) r.error([...E, 'initial_learning_rate'], `${e.initialLearningRate}: must be > 0`);
          if (e.decaySteps < 1) r.error([...E, 'decay_steps'], `${e.decaySteps}: must be ≥ 1`);
          if (!(e.decayFactor > 0 && e.decayFactor <= 1)) r.error([...E, 'decay_factor'], `${e.decayFactor}: must be in (0, 1]`);
          if (!(e.minLearningRate >= 0)) r.error([...E, 'min_learning_rate'], `${e.minLearningRate}: must be ≥ 0`);
          if (e.burninSteps > 0) r.error([...E, 'burnin_steps'], 'learning-rate burn-in (warm-up) is not supported');
          raw.train.learning_rate = e.initialLearningRate;
          raw.train.lr_schedule = {
            type: 'exponential_decay', decay_steps: e.decaySteps, decay_factor: e.decayFactor,
            min_learning_rate: e.minLearningRate, staircase: e.staircase,
          };
        }
      }
    }
    if (tc.gradientClippingByNorm > 0) r.error([...T, 'gradient_clipping_by_norm'], 'gradient clipping is not supported');
    if (tc.fineTuneCheckpoint !== '') r.error([...T, 'fine_tune_checkpoint'], 'fine-tuning from a TensorFlow checkpoint is not supported');
    if (tc.freezeGradient.length > 0) r.error([...T, 'freeze_gradient'], 'freezing variables is not supported');
    if (tc.numSteps > 0) raw.train.max_steps = tc.numSteps;
    if (tc.saveCheckpointsSteps > 0) raw.train.checkpoint_steps = tc.saveCheckpointsSteps;
  }
  if (dc) {
    if (dc.numEpochs > 0) {
      raw.train.epochs = dc.numEpochs;
    } else if (tc && tc.numSteps > 0) {
      // num_epochs 0 repeats the data until num_steps: num_steps epochs always reach num_steps steps.
      raw.train.epochs = tc.numSteps;
    } else {
      r.error([...['data_config'], 'num_epochs'], 'num_epochs and train_config.num_steps are both 0 (EasyRec would train forever): set one');
    }
  }

  // ---- export_config: TensorFlow export only, except early stopping
  if (er.exportConfig?.enableEarlyStop) r.error(['export_config', 'enable_early_stop'], 'early stopping is not supported');

  if (r.problems.length > 0) throw new EsmmError(r.problems.join('\n'));
  let config: Config;
  try {
    config = parseConfig(raw, `${r.source} (translated from EasyRec)`);
  } catch (e) {
    throw new EsmmError((e as Error).message);
  }
  return { config, trainPaths, evalPaths, modelDir, warnings: r.warnings };
}

function translateFeature(
  f: ErFeature, P: FieldPath, r: Reporter,
  columns: Map<string, { type: DatasetConfig_FieldType; defaultVal?: string }>, embeddingNames: Map<string, number>,
): { name?: string; out: Record<string, unknown>; ok: boolean } {
  const ok0 = r.problems.length;
  if (f.inputNames.length === 0) { r.error(P, 'input_names is missing'); return { out: {}, ok: false }; }
  const column = f.inputNames[0];
  const name = has(FeatureConfigSchema, f, 'featureName') && f.featureName !== '' ? f.featureName : column;
  if (!FEATURE_NAME.test(name)) r.error(P, `feature name "${name}": use letters, digits, _ . - only`);
  const col = columns.get(column);
  if (columns.size > 0 && !col) r.error([...P, 'input_names', 0], `"${column}" is not an input field of data_config`);
  if (f.inputNames.length > 1) {
    r.error([...P, 'input_names', 1], f.featureType === FeatureConfig_FeatureType.TagFeature
      ? 'tag weights in a column of their own are not supported (use kv_separator: "tag:weight" pieces in one column)'
      : 'one input name per feature');
  }
  if (f.embeddingName !== '' && (embeddingNames.get(f.embeddingName) ?? 0) > 1) {
    r.error([...P, 'embedding_name'], `"${f.embeddingName}": embedding tables shared between features are not supported`);
  }
  if (f.sharedNames.length > 0) r.error([...P, 'shared_names'], 'shared embedding configs are not supported');
  if (f.vocabFile !== '' || f.vocabList.length > 0) {
    r.error([...P, f.vocabFile !== '' ? 'vocab_file' : 'vocab_list'], 'vocabulary files and lists are not supported: use hash_bucket_size or num_buckets');
  }
  if (f.useEmbeddingVariable) r.error([...P, 'use_embedding_variable'], 'PAI-TF embedding variables are not supported');
  if (f.embeddingDim > MAX_DIM) r.error([...P, 'embedding_dim'], `${f.embeddingDim}: at most ${MAX_DIM}`);
  const buckets = (which: 'hash_bucket_size' | 'num_buckets', v: bigint): number => {
    if (v > BigInt(MAX_BUCKETS)) r.error([...P, which], `${v}: at most ${MAX_BUCKETS}`);
    return Number(v);
  };
  const needDim = (what: string): void => {
    if (f.embeddingDim < 1) r.error(P, `embedding_dim is missing (${what} is embedded)`);
  };
  const out: Record<string, unknown> = { name };
  if (column !== name) out.column = column;

  switch (f.featureType) {
    case FeatureConfig_FeatureType.IdFeature:
    case FeatureConfig_FeatureType.TagFeature: {
      const tag = f.featureType === FeatureConfig_FeatureType.TagFeature;
      if (tag) {
        out.type = has(FeatureConfigSchema, f, 'kvSeparator') ? 'weighted_id_list' : 'id_list';
        out.separator = f.separator;
        if (out.type === 'weighted_id_list') out.kv_separator = f.kvSeparator;
        if (f.separator === '') r.error([...P, 'separator'], 'must not be empty');
        if (f.combiner !== 'mean' && f.combiner !== 'sum') {
          r.error([...P, 'combiner'], `${JSON.stringify(f.combiner)}: only "mean" (EasyRec's default) or "sum"`);
        }
        out.pooling = f.combiner === 'sum' ? 'sum' : 'mean';
      } else {
        out.type = 'id';
      }
      // EasyRec: hash_bucket_size wins over num_buckets (IdFeature: when > 0; TagFeature: when set).
      const hashed = tag ? has(FeatureConfigSchema, f, 'hashBucketSize') : f.hashBucketSize > 0n;
      if (hashed) {
        if (f.hashBucketSize < 1n) r.error([...P, 'hash_bucket_size'], 'must be ≥ 1');
        out.hash_buckets = buckets('hash_bucket_size', f.hashBucketSize);
        if (f.numBuckets > 0n) r.warn([...P, 'num_buckets'], 'ignored: hash_bucket_size is set (as in EasyRec)');
      } else if (f.numBuckets > 0n) {
        out.num_buckets = buckets('num_buckets', f.numBuckets);
      } else if (f.vocabFile === '' && f.vocabList.length === 0) {
        r.error(P, 'hash_bucket_size or num_buckets is required');
      }
      needDim(tag ? 'a TagFeature' : 'an IdFeature');
      if (f.embeddingDim >= 1) out.embedding_dim = f.embeddingDim;
      if (col?.defaultVal !== undefined && col.defaultVal !== '') {
        r.warn(P, `input field default_val ${JSON.stringify(col.defaultVal)} is not used: a missing id takes the out-of-vocabulary row`);
      }
      break;
    }
    case FeatureConfig_FeatureType.RawFeature: {
      out.type = 'numeric';
      if (f.rawInputDim !== 1) r.error([...P, 'raw_input_dim'], `${f.rawInputDim}: only 1`);
      let boundaries: number[] | undefined;
      if (f.boundaries.length > 0) {
        boundaries = [...f.boundaries].sort((a, b) => a - b);
        for (let j = 1; j < boundaries.length; j++) {
          if (boundaries[j] === boundaries[j - 1]) { r.error([...P, 'boundaries'], `duplicate boundary ${boundaries[j]}`); break; }
        }
        if (boundaries.some((b) => !Number.isFinite(b))) r.error([...P, 'boundaries'], 'boundaries must be finite');
      } else if (f.numBuckets > 1n && f.maxVal > f.minVal) {
        // EasyRec: the value normalised to [0, 1] by min_val/max_val, cut at i / num_buckets; the same cut on the raw value.
        const n = Number(buckets('num_buckets', f.numBuckets));
        boundaries = Array.from({ length: n }, (_, j) => f.minVal + ((f.maxVal - f.minVal) * j) / n);
      } else if (f.maxVal > f.minVal) {
        r.error([...P, 'max_val'], 'min_val/max_val normalisation of a raw value is not supported (use boundaries, or normalise the data)');
      }
      if (boundaries) {
        out.boundaries = boundaries;
        needDim('a bucketised RawFeature');
        if (f.embeddingDim >= 1) out.embedding_dim = f.embeddingDim;
      } else if (f.embeddingDim > 0) {
        r.error([...P, 'embedding_dim'], 'a RawFeature without boundaries is fed as a number here: its projection to an embedding is not supported (remove embedding_dim)');
      }
      // EasyRec reads a missing number as the input field's default_val, or 0.
      let dv = 0;
      if (col?.defaultVal !== undefined && col.defaultVal !== '') {
        dv = Number(col.defaultVal);
        if (!Number.isFinite(dv)) { r.error(P, `input field default_val ${JSON.stringify(col.defaultVal)} is not a number`); dv = 0; }
      }
      out.default_value = dv;
      break;
    }
    default:
      r.error([...P, 'feature_type'], `${enumName(FeatureConfig_FeatureTypeSchema, f.featureType)} is not supported (IdFeature, TagFeature, RawFeature)`);
  }
  return { name, out, ok: r.problems.length === ok0 };
}
