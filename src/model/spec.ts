/**
 * The model spec: what the network looks like (features and their tables, dense numeric inputs, feature
 * groups, towers, loss weights), its validation, and the spec a config describes once the encoder knows
 * each feature's table size. The spec is stored in the model manifest, so a model is rebuilt from it alone.
 */
import { isDenseNumeric, MODEL_KINDS, type Config } from '../config.js';
import type { DenseInit } from '../engine/dense.js';
import type { Pooling } from '../engine/embedding.js';
import type { Activation } from '../engine/kernels.js';

/** An embedded feature (ids, lists, weighted lists, bucketised numbers). */
export interface FeatureSpec {
  name: string;
  /** Embedding rows, including the reserved row 0. */
  rows: number;
  pooling: Pooling;
  /** Embedding width of this feature (default: the spec's embeddingDim). */
  dim?: number;
}

/**
 * One input of a feature group: an embedded feature (`index` into ModelSpec.features, which is also its
 * position in Batch.fields) or a number fed as it is (`index` into ModelSpec.dense, which is also its
 * column of Batch.dense).
 */
export interface GroupInput {
  source: 'embedding' | 'dense';
  index: number;
}

/** A feature group (EasyRec's esmm.groups): its inputs concatenated in order, then its own DNN. */
export interface GroupSpec {
  name: string;
  inputs: GroupInput[];
  /** Hidden layers of the group's DNN; [] passes the concatenation of its inputs through unchanged. */
  hidden: number[];
}

/**
 * The paper's model and baselines (Ma et al. 2018, section 4.2):
 * esmm: shared embeddings, CTR + CTCVR loss over all impressions.
 * esmm-ns: the same loss, each tower with its own embeddings.
 * base: an independent CTR network and a CVR network trained on clicked impressions only.
 * aman: base with unclicked impressions sampled in as CVR negatives (rate `amanNegativeRate`).
 * oversampling: base with each conversion copied `oversamplingFactor` times in the CVR loss.
 * division: independent CTR and CTCVR networks; pCVR = pCTCVR / pCTR clipped to [0, 1].
 */
export type ModelKind = (typeof MODEL_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set<string>(MODEL_KINDS);

export interface ModelSpec {
  kind: ModelKind;
  /** The embedded features, in config order (= Batch.fields). */
  features: FeatureSpec[];
  /** Names of the numeric features fed as numbers, in config order (= the columns of Batch.dense); default none. */
  dense?: string[];
  /**
   * Feature groups; default one group of every embedded feature then every dense column, without a DNN.
   * The towers' input is the concatenation of the group outputs in this order.
   */
  groups?: GroupSpec[];
  /** Embedding width of the features that do not set their own. */
  embeddingDim: number;
  /** Hidden layers of each tower, unless ctrHidden / cvrHidden says otherwise for one of them. */
  hidden: number[];
  ctrHidden?: number[];
  cvrHidden?: number[];
  activation: Activation;
  dropout: number;
  ctrWeight: number;
  ctcvrWeight: number;
  l2Tower: number;
  l2Embedding: number;
  embeddingInitStd: number;
  denseInit: DenseInit;
  /** aman: share of unclicked impressions sampled in as CVR negatives. */
  amanNegativeRate?: number;
  /** oversampling: copies of each conversion in the CVR loss. */
  oversamplingFactor?: number;
}

/** The embedding width of a feature. */
export function featureDim(spec: ModelSpec, f: FeatureSpec): number {
  return f.dim ?? spec.embeddingDim;
}

/** The spec's groups, or the implicit one: every embedded feature, then every dense column, no DNN. */
export function specGroups(spec: ModelSpec): GroupSpec[] {
  if (spec.groups) return spec.groups;
  const inputs: GroupInput[] = [
    ...spec.features.map((_, index) => ({ source: 'embedding' as const, index })),
    ...(spec.dense ?? []).map((_, index) => ({ source: 'dense' as const, index })),
  ];
  return [{ name: 'all', inputs, hidden: [] }];
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1;

/** Throws an Error naming the first inconsistency of a spec (one written by hand or read from a manifest). */
export function checkModelSpec(spec: ModelSpec): void {
  if (!KINDS.has(spec.kind)) fail(`unknown kind "${spec.kind}"`);
  const names = new Set<string>();
  const unique = (name: string, what: string) => {
    if (typeof name !== 'string' || name === '') fail(`${what} without a name`);
    if (names.has(name)) fail(`${what} "${name}" named twice`);
    names.add(name);
  };
  spec.features.forEach((f) => {
    unique(f.name, 'feature');
    if (!isCount(f.rows)) fail(`feature "${f.name}": rows must be a positive integer, got ${f.rows}`);
    if (!isCount(featureDim(spec, f))) fail(`feature "${f.name}": embedding width must be a positive integer, got ${featureDim(spec, f)}`);
    if (f.pooling !== 'sum' && f.pooling !== 'mean') fail(`feature "${f.name}": unknown pooling "${f.pooling}"`);
  });
  for (const name of spec.dense ?? []) unique(name, 'dense feature');
  const units = (u: number[] | undefined, what: string, optional = false) => {
    if (!(optional && u === undefined) && !(Array.isArray(u) && u.every(isCount))) fail(`${what} must be a list of positive integers`);
  };
  units(spec.hidden, 'hidden');
  units(spec.ctrHidden, 'ctrHidden', true);
  units(spec.cvrHidden, 'cvrHidden', true);
  if (!(spec.dropout >= 0 && spec.dropout < 1)) fail(`dropout must be in [0, 1), got ${spec.dropout}`);
  if (spec.groups !== undefined) {
    if (spec.groups.length === 0) fail('groups is empty (omit it for the implicit group of all features)');
    const counts = { embedding: spec.features.length, dense: (spec.dense ?? []).length };
    const owner = new Map<string, string>();
    const groupNames = new Set<string>();
    for (const g of spec.groups) {
      if (typeof g.name !== 'string' || g.name === '') fail('a group without a name');
      if (groupNames.has(g.name)) fail(`group "${g.name}" named twice`);
      groupNames.add(g.name);
      units(g.hidden, `group "${g.name}": hidden`);
      if (g.inputs.length === 0) fail(`group "${g.name}" has no inputs`);
      for (const inp of g.inputs) {
        const known = inp.source === 'embedding' || inp.source === 'dense';
        if (!known || !Number.isInteger(inp.index) || inp.index < 0 || inp.index >= counts[inp.source]) {
          fail(`group "${g.name}": no ${inp.source} input ${inp.index}`);
        }
        const key = `${inp.source} ${inp.index}`;
        if (owner.has(key)) fail(`group "${g.name}": ${key} is already in group "${owner.get(key)}"`);
        owner.set(key, g.name);
      }
    }
    const missing = [
      ...spec.features.map((f, i) => ({ name: f.name, key: `embedding ${i}` })),
      ...(spec.dense ?? []).map((name, i) => ({ name, key: `dense ${i}` })),
    ].find((x) => !owner.has(x.key));
    if (missing) fail(`feature "${missing.name}" is in no group (every feature must be in exactly one)`);
  }
  if (spec.features.length + (spec.dense ?? []).length === 0) fail('no features');
}

/**
 * The spec a config describes. `tableSizes` has one entry per config feature, in config order: the rows of
 * its table (reserved row 0 included), and 0 for a numeric feature fed as a number (it has no table).
 */
export function modelSpecFromConfig(cfg: Config, tableSizes: number[]): ModelSpec {
  const m = cfg.model;
  if (tableSizes.length !== cfg.features.length) {
    fail(`${tableSizes.length} table sizes for ${cfg.features.length} features`);
  }
  const features: FeatureSpec[] = [];
  const dense: string[] = [];
  const inputOf = new Map<string, GroupInput>();
  cfg.features.forEach((f, i) => {
    const rows = tableSizes[i];
    if (isDenseNumeric(f)) {
      if (rows !== 0) fail(`feature "${f.name}" is fed as a number and has no table, yet its table size is ${rows} (expected 0)`);
      inputOf.set(f.name, { source: 'dense', index: dense.length });
      dense.push(f.name);
    } else {
      if (!isCount(rows)) fail(`feature "${f.name}" has table size ${rows} (expected a positive integer)`);
      inputOf.set(f.name, { source: 'embedding', index: features.length });
      features.push({ name: f.name, rows, pooling: f.pooling, dim: f.embedding_dim ?? m.embedding_dim });
    }
  });
  const groups = cfg.groups?.map((g): GroupSpec => ({
    name: g.name,
    inputs: g.features.map((name) => inputOf.get(name) ?? fail(`group "${g.name}" names no feature "${name}"`)),
    hidden: g.hidden_units,
  }));
  const spec: ModelSpec = {
    kind: m.kind,
    features,
    dense,
    ...(groups ? { groups } : {}),
    embeddingDim: m.embedding_dim,
    hidden: m.hidden_units,
    ctrHidden: m.ctr_hidden_units ?? m.hidden_units,
    cvrHidden: m.cvr_hidden_units ?? m.hidden_units,
    activation: m.activation,
    dropout: m.dropout,
    ctrWeight: m.ctr_weight,
    ctcvrWeight: m.ctcvr_weight,
    l2Tower: m.l2_tower,
    l2Embedding: m.l2_embedding,
    embeddingInitStd: m.embedding_init_std,
    denseInit: m.dense_init,
    amanNegativeRate: m.aman_negative_rate,
    oversamplingFactor: m.oversampling_factor,
  };
  checkModelSpec(spec);
  return spec;
}

function fail(msg: string): never {
  throw new Error(`model spec: ${msg}`);
}
