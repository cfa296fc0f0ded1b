/** The browser build of esmm's scoring: load a model directory by URL and score requests like `esmm serve`. */
import { candidateScores, encodeRequest, scoreBatch, type CandidateScore, type ScoreRequest } from '../serve/scoring.js';
import type { BrowserModel } from './load.js';

export { loadModelFromUrl, type BrowserModel } from './load.js';
export { FieldError, type CandidateScore, type FeatureValues, type ScoreRequest } from '../serve/scoring.js';

/** The scores of a request's candidates, in order: the same numbers as POST /v1/score and `esmm predict`. */
export function scoreRequest(m: BrowserModel, req: ScoreRequest): CandidateScore[] {
  return candidateScores(scoreBatch(m.model, encodeRequest(m.encoder, req)));
}
