/**
 * The ESMM evaluation protocol (Ma et al. 2018): CTR metrics on all impressions, CVR metrics on clicked
 * impressions only, CTCVR metrics on all impressions with label click·buy and score pCTR·pCVR. Each AUC is
 * one exact global AUC over the whole evaluation set (never an average of per-batch AUCs).
 */
import { EsmmError } from '../errors.js';
import { rocAuc, type Scores } from './auc.js';
import { logLoss } from './logloss.js';
import { calibration, type Calibration } from './calibration.js';
import { groupAuc, type GroupAuc } from './gauc.js';

export interface EsmmMetrics {
  rows: number;
  /** Rows with click = 1. */
  clicks: number;
  /** Rows with click·buy = 1. */
  conversions: number;
  /** All rows, label click, score pCTR. Null when every row has the same click label. */
  ctr_auc: number | null;
  /** Clicked rows only, label buy, score pCVR. Null without clicks, or when all clicked rows agree on buy. */
  cvr_auc: number | null;
  /** All rows, label click·buy, score pCTR·pCVR. */
  ctcvr_auc: number | null;
  ctr_logloss: number | null;
  /** Clicked rows only. */
  cvr_logloss: number | null;
  ctcvr_logloss: number | null;
}

/**
 * Metrics of one evaluation pass. `click` and `buy` hold 0/1 per row. A row with buy = 1 and click = 0
 * (which the readers drop as invalid) would count as a CTCVR negative and take no part in CVR metrics.
 */
export function evaluatePredictions(pctr: Scores, pcvr: Scores, click: ArrayLike<number>, buy: ArrayLike<number>): EsmmMetrics {
  const { rows, pctcvr, conversion, clicks, conversions } = ctcvrTask(pctr, pcvr, click, buy);
  const clickedRows = { mask: click };
  return {
    rows,
    clicks,
    conversions,
    ctr_auc: rocAuc(pctr, click),
    cvr_auc: rocAuc(pcvr, buy, clickedRows),
    ctcvr_auc: rocAuc(pctcvr, conversion),
    ctr_logloss: logLoss(pctr, click),
    cvr_logloss: logLoss(pcvr, buy, clickedRows),
    ctcvr_logloss: logLoss(pctcvr, conversion),
  };
}

/** The CTCVR task's scores (pCTR·pCVR) and labels (click·buy), with the labels checked and counted. */
function ctcvrTask(pctr: Scores, pcvr: Scores, click: ArrayLike<number>, buy: ArrayLike<number>) {
  const rows = pctr.length;
  if (pcvr.length !== rows || click.length !== rows || buy.length !== rows) {
    throw new EsmmError(`evaluation: length mismatch (pCTR ${rows}, pCVR ${pcvr.length}, click ${click.length}, buy ${buy.length})`);
  }
  const pctcvr = new Float64Array(rows);
  const conversion = new Uint8Array(rows);
  let clicks = 0, conversions = 0;
  for (let i = 0; i < rows; i++) {
    const c = click[i], b = buy[i];
    if ((c !== 0 && c !== 1) || (b !== 0 && b !== 1)) throw new EsmmError(`evaluation: row ${i} has click=${c}, buy=${b}; expected 0 or 1`);
    pctcvr[i] = pctr[i] * pcvr[i];
    clicks += c;
    conversion[i] = c * b;
    conversions += c * b;
  }
  return { rows, pctcvr, conversion, clicks, conversions };
}

export interface TaskCalibration {
  ctr: Calibration | null;
  /** Clicked rows only. */
  cvr: Calibration | null;
  ctcvr: Calibration | null;
}

export interface TaskGauc {
  ctr: GroupAuc;
  /** Clicked rows only. */
  cvr: GroupAuc;
  ctcvr: GroupAuc;
}

/**
 * Calibration of the three predictions (with `buckets` equal-count buckets) and, when `groups` is given
 * (e.g. each row's user), the group AUC of each task; rows whose group is negative are left out of GAUC.
 */
export function detailedMetrics(pctr: Scores, pcvr: Scores, click: ArrayLike<number>, buy: ArrayLike<number>, groups: ArrayLike<number> | null, buckets = 10): { calibration: TaskCalibration; gauc: TaskGauc | null } {
  const { rows, pctcvr, conversion } = ctcvrTask(pctr, pcvr, click, buy);
  const clicked = { mask: click };
  const calibrationOf = { ctr: calibration(pctr, click, buckets), cvr: calibration(pcvr, buy, buckets, clicked), ctcvr: calibration(pctcvr, conversion, buckets) };
  if (groups === null) return { calibration: calibrationOf, gauc: null };
  const known = Uint8Array.from({ length: rows }, (_, i) => (groups[i] >= 0 ? 1 : 0));
  const knownClicked = Uint8Array.from(known, (k, i) => k & click[i]);
  return {
    calibration: calibrationOf,
    gauc: {
      ctr: groupAuc(pctr, click, groups, { mask: known }),
      cvr: groupAuc(pcvr, buy, groups, { mask: knownClicked }),
      ctcvr: groupAuc(pctcvr, conversion, groups, { mask: known }),
    },
  };
}
