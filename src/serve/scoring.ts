/**
 * One scoring request, from raw feature values to the three scores per candidate: the same encoder and
 * forward as `esmm predict`, and the same rounding of the printed scores. No node: module, so the
 * browser page scores with this file too.
 */
import type { Batch } from '../data/batch.js';
import { RecordValueError, type Encoder, type RawValue } from '../data/encoder.js';
import { EsmmError } from '../errors.js';
import type { EsmmModel } from '../model/esmm.js';
import { formatScore } from '../util/format.js';

/** Raw values keyed by column name, as in the training data (strings, numbers, lists; null is missing). */
export type FeatureValues = Record<string, RawValue>;

export interface ScoreRequest {
  /** Values shared by every candidate (user, context); a candidate's own value of a column wins. */
  shared?: FeatureValues;
  candidates: FeatureValues[];
  request_id?: string;
}

export interface CandidateScore {
  pctr: number;
  pcvr: number;
  pctcvr: number;
}

/** Per candidate pctr, pcvr, pctcvr (3 numbers each, in order), rounded as `esmm predict` prints them. */
export type ScoreTriples = Float64Array;

/** A bad request value, with the request field it is in (`candidates[3].item_id`, `shared.user_id`). */
export class FieldError extends EsmmError {
  constructor(readonly field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'FieldError';
  }
}

const columnsOf = new WeakMap<Encoder, string[]>();

/**
 * One record per candidate: the candidate objects themselves, completed in place with the shared values
 * of the columns they lack (and null for columns given nowhere, so no column name can reach
 * Object.prototype). Cheaper than a merged copy per candidate.
 */
export function requestRecords(encoder: Encoder, req: ScoreRequest): FeatureValues[] {
  let columns = columnsOf.get(encoder);
  if (!columns) columnsOf.set(encoder, (columns = [...new Set(encoder.columns())]));
  const shared = req.shared ?? {};
  const hasOwn = Object.prototype.hasOwnProperty;
  for (const c of req.candidates) {
    for (const k of columns) if (!hasOwn.call(c, k)) c[k] = hasOwn.call(shared, k) ? shared[k] : null;
  }
  return req.candidates;
}

/** The batch of a request, encoded by the model's encoder; a bad value is a FieldError naming its field. */
export function encodeRequest(encoder: Encoder, req: ScoreRequest): Batch {
  try {
    return encoder.encodeRecords(requestRecords(encoder, req));
  } catch (e) {
    if (!(e instanceof RecordValueError)) throw e;
    // The candidate was completed with the shared values: a value equal to the shared one is blamed on shared.
    const shared = req.shared ?? {};
    const fromShared = Object.prototype.hasOwnProperty.call(shared, e.column) && shared[e.column] === req.candidates[e.record][e.column];
    const field = fromShared ? `shared.${e.column}` : `candidates[${e.record}].${e.column}`;
    // The encoder's message starts with "record N: feature ...": keep what follows the record.
    throw new FieldError(field, e.message.replace(/^record \d+: /, ''));
  }
}

/** The model's scores of a batch as `esmm predict` prints them: nine significant digits, pCTCVR the product of the float32 pair. */
export function scoreBatch(model: EsmmModel, batch: Batch): ScoreTriples {
  const n = batch.size;
  const pctr = new Float32Array(n), pcvr = new Float32Array(n);
  if (n > 0) model.predict(batch, pctr, pcvr);
  const out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    out[3 * i] = Number(formatScore(pctr[i]));
    out[3 * i + 1] = Number(formatScore(pcvr[i]));
    out[3 * i + 2] = Number(formatScore(pctr[i] * pcvr[i]));
  }
  return out;
}

export function candidateScores(t: ScoreTriples): CandidateScore[] {
  const out: CandidateScore[] = new Array(t.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = { pctr: t[3 * i], pcvr: t[3 * i + 1], pctcvr: t[3 * i + 2] };
  return out;
}
