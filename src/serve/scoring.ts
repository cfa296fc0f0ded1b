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

/** pCTR and pCVR of each row of a batch (float32, as the model computes them). */
export interface RawScores {
  pctr: Float32Array;
  pcvr: Float32Array;
}

/** A bad request value, with the request field it is in (`candidates[3].item_id`, `shared.user_id`). */
export class FieldError extends EsmmError {
  constructor(readonly field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'FieldError';
  }
}

/** One record per candidate, the shared values under its own (objects without a prototype, so no column name reaches Object.prototype). */
export function requestRecords(req: ScoreRequest): FeatureValues[] {
  const shared = req.shared ?? {};
  return req.candidates.map((c) => Object.assign(Object.create(null) as FeatureValues, shared, c));
}

/** The batch of a request, encoded by the model's encoder; a bad value is a FieldError naming its field. */
export function encodeRequest(encoder: Encoder, req: ScoreRequest): Batch {
  try {
    return encoder.encodeRecords(requestRecords(req));
  } catch (e) {
    if (!(e instanceof RecordValueError)) throw e;
    const own = Object.prototype.hasOwnProperty.call(req.candidates[e.record], e.column);
    const field = own ? `candidates[${e.record}].${e.column}` : `shared.${e.column}`;
    // The encoder's message starts with "record N: feature ..." : keep what follows the record.
    throw new FieldError(field, e.message.replace(/^record \d+: /, ''));
  }
}

/** The model's scores of a batch. */
export function predictBatch(model: EsmmModel, batch: Batch): RawScores {
  const pctr = new Float32Array(batch.size), pcvr = new Float32Array(batch.size);
  if (batch.size > 0) model.predict(batch, pctr, pcvr);
  return { pctr, pcvr };
}

/** The scores as `esmm predict` prints them: nine significant digits, pCTCVR the product of the float32 pair. */
export function formatScores({ pctr, pcvr }: RawScores): CandidateScore[] {
  const out: CandidateScore[] = new Array(pctr.length);
  for (let i = 0; i < pctr.length; i++) {
    out[i] = { pctr: Number(formatScore(pctr[i])), pcvr: Number(formatScore(pcvr[i])), pctcvr: Number(formatScore(pctr[i] * pcvr[i])) };
  }
  return out;
}
