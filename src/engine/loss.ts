/**
 * The ESMM loss over all impressions, computed from the two logits in log space:
 *
 *   L = w_ctr · BCE(y, σ(a)) + w_ctcvr · BCE(y·z, σ(a)·σ(b))      (a = CTR logit, b = CVR logit)
 *
 * There is no CVR term: the CVR tower gets gradient only through the CTCVR term.
 *
 * Both log pCTCVR = −softplus(−a) − softplus(−b) and log(1 − pCTCVR) are formed in log space (see below),
 * so neither the product underflowing to 0 nor a saturated product near 1 produces NaN or Inf.
 */

/** log(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(e^x + e^y) without overflow. */
function logAddExp(x: number, y: number): number {
  const m = Math.max(x, y);
  return m + Math.log1p(Math.exp(Math.min(x, y) - m));
}

export interface LossWeights {
  ctr: number;
  ctcvr: number;
}

/**
 * Mean loss over the batch and its gradients with respect to both logits (already divided by n).
 * `click` is y, `buy` is z (the CTCVR label is y·z).
 * Returns the mean CTR and CTCVR BCE separately (unweighted) and the weighted total.
 * `rows` divides instead of n when these n rows are one thread's share of a larger batch: the shares'
 * losses and gradients then add up to the whole batch's.
 */
export function esmmLoss(
  n: number, ctrLogit: Float32Array, cvrLogit: Float32Array, click: Float32Array, buy: Float32Array,
  w: LossWeights, dCtr: Float32Array, dCvr: Float32Array, rows = n,
): { total: number; ctr: number; ctcvr: number } {
  let sumCtr = 0, sumCtcvr = 0;
  const inv = 1 / rows;
  for (let i = 0; i < n; i++) {
    const a = ctrLogit[i], b = cvrLogit[i], y = click[i], yz = click[i] * buy[i];
    const spA = softplus(a), spNegA = softplus(-a), spB = softplus(b), spNegB = softplus(-b);
    sumCtr += spA - y * a;
    const lp = -spNegA - spNegB;
    // 1 − σ(a)σ(b) = σ(−a) + σ(a)σ(−b): a sum of positive terms, so its log never cancels
    const l1mp = logAddExp(-spA, -spNegA - spB);
    sumCtcvr -= yz * lp + (1 - yz) * l1mp;
    // ∂lp/∂a = σ(−a); ∂log(1−p)/∂a = −p·σ(−a)/(1−p), formed in log space so it stays finite
    const gA = -yz * sigmoid(-a) + (1 - yz) * Math.exp(lp - spA - l1mp);
    const gB = -yz * sigmoid(-b) + (1 - yz) * Math.exp(lp - spB - l1mp);
    dCtr[i] = (w.ctr * (sigmoid(a) - y) + w.ctcvr * gA) * inv;
    dCvr[i] = w.ctcvr * gB * inv;
  }
  const ctr = sumCtr * inv, ctcvr = sumCtcvr * inv;
  return { total: w.ctr * ctr + w.ctcvr * ctcvr, ctr, ctcvr };
}

/**
 * The loss of the paper's baselines, which learn their second logit b directly:
 *
 *   w_ctr · mean_i BCE(y_i, σ(a_i)) + w_2 · Σ_i r_i·BCE(y_i·z_i, σ(b_i)) / Σ_i r_i
 *
 * with a row weight r_i per impression: BASE r = y (clicked rows only), OVERSAMPLING r = y·(1 + (k−1)·z)
 * (each conversion copied k times), AMAN r = y + (1 − y)·[sampled] (unclicked rows sampled in as
 * negatives), DIVISION r = 1 with label y·z (b is then a CTCVR logit). A batch with Σr = 0 has no second term.
 * `whole` gives the row count and Σr of the whole batch when these n rows are one thread's share of it.
 */
export function weightedSecondTaskLoss(
  n: number, ctrLogit: Float32Array, logit2: Float32Array, click: Float32Array, buy: Float32Array, rowWeight: Float32Array,
  w: { ctr: number; second: number }, dCtr: Float32Array, d2: Float32Array, whole?: { rows: number; weight: number },
): { total: number; ctr: number; second: number } {
  let sumCtr = 0, sum2 = 0, weightSum = 0;
  for (let i = 0; i < n; i++) weightSum += rowWeight[i];
  if (whole) weightSum = whole.weight;
  const inv = 1 / (whole?.rows ?? n), inv2 = weightSum > 0 ? 1 / weightSum : 0;
  for (let i = 0; i < n; i++) {
    const a = ctrLogit[i], y = click[i];
    sumCtr += softplus(a) - y * a;
    dCtr[i] = w.ctr * (sigmoid(a) - y) * inv;
    const r = rowWeight[i];
    if (r > 0) {
      const b = logit2[i], label = y * buy[i];
      sum2 += r * (softplus(b) - label * b);
      d2[i] = w.second * r * (sigmoid(b) - label) * inv2;
    } else {
      d2[i] = 0;
    }
  }
  const ctr = sumCtr * inv, second = sum2 * inv2;
  return { total: w.ctr * ctr + w.second * second, ctr, second };
}
