/**
 * The JSON schemas of the scoring API, derived from the model's features, so validation and the OpenAPI
 * document name this model's columns. Each column takes what the encoder takes: a string or number
 * (or null: missing), and for list features also an array of ids. One multi-type schema per column
 * (rather than anyOf) gives one clear error per bad value.
 */
import { Type, type TSchema } from 'typebox';
import type { Config, FeatureConfig } from '../config.js';
import { featureColumn } from '../config.js';
import type { CandidateScore, ScoreRequest } from './scoring.js';

export interface RequestLimits {
  /** Most candidates in one request. */
  maxCandidates: number;
  /** Most ids in one list value (array or joined string pieces are not counted: the body limit bounds those). */
  maxListLength: number;
  /** Longest string value. */
  maxStringLength: number;
}

/** One request column: the features reading it, and whether it takes lists. */
export interface ColumnSpec {
  column: string;
  features: Array<{ name: string; type: FeatureConfig['type'] }>;
  list: boolean;
}

/** The columns a model reads, in the order of its features. */
export function modelColumns(config: Config): ColumnSpec[] {
  const byColumn = new Map<string, ColumnSpec>();
  for (const f of config.features) {
    const column = featureColumn(f);
    let c = byColumn.get(column);
    if (!c) byColumn.set(column, (c = { column, features: [], list: false }));
    c.features.push({ name: f.name, type: f.type });
    if (f.type === 'id_list' || f.type === 'weighted_id_list') c.list = true;
  }
  return [...byColumn.values()];
}

function columnSchema(c: ColumnSpec, limits: RequestLimits, separators: Map<string, string>): TSchema {
  const kinds = c.features.map((f) => (f.name === c.column ? f.type : `${f.type} feature "${f.name}"`)).join(', ');
  const list = c.list ? `; a list as an array of ids or one string joined with "${separators.get(c.column)}"` : '';
  return Type.Unsafe({
    type: c.list ? ['string', 'number', 'null', 'array'] : ['string', 'number', 'null'],
    maxLength: limits.maxStringLength,
    ...(c.list ? { maxItems: limits.maxListLength, items: { type: ['string', 'number'], maxLength: limits.maxStringLength } } : {}),
    description: `${kinds}${list}; null or absent: missing; unknown ids use the out-of-vocabulary row`,
  });
}

/** The schema of a request's feature values (`shared` and each candidate). */
export function featuresSchema(config: Config, limits: RequestLimits): TSchema {
  const separators = new Map(config.features.map((f) => [featureColumn(f), f.separator]));
  const properties = Object.fromEntries(modelColumns(config).map((c) => [c.column, Type.Optional(columnSchema(c, limits, separators))]));
  return Type.Object(properties, { additionalProperties: false, description: 'raw feature values by column name, as in the training data' });
}

export function scoreRequestSchema(config: Config, limits: RequestLimits) {
  const features = featuresSchema(config, limits);
  return Type.Unsafe<ScoreRequest>(Type.Object({
    shared: Type.Optional(features),
    candidates: Type.Array(features, { maxItems: limits.maxCandidates, description: 'the items to score; the response has their scores in this order' }),
    request_id: Type.Optional(Type.String({ maxLength: 256, description: 'echoed in the response' })),
  }, { additionalProperties: false }));
}

const Score = Type.Object({
  pctr: Type.Number({ description: 'P(click | impression)' }),
  pcvr: Type.Number({ description: 'P(buy | click, impression)' }),
  pctcvr: Type.Number({ description: 'P(click and buy | impression) = pctr·pcvr' }),
});

export const ModelRef = Type.Object({
  version: Type.String({ description: 'the first 16 hex digits of the manifest\'s SHA-256' }),
  weights_sha256: Type.String(),
});

export interface ScoreResponse {
  model: { version: string; weights_sha256: string };
  request_id?: string;
  scores: CandidateScore[];
}

export const ScoreResponseSchema = Type.Unsafe<ScoreResponse>(Type.Object({
  model: ModelRef,
  request_id: Type.Optional(Type.String()),
  scores: Type.Array(Score),
}));

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String({ description: 'the request field at fault, e.g. candidates[3].item_id' })),
});

/** What a request must look like for a model: two models with the same key take the same requests. */
export function requestShapeKey(config: Config): string {
  return JSON.stringify(modelColumns(config));
}
