/**
 * A batch is plain typed arrays, so it can be handed to workers without copying.
 *
 * Every feature field is stored in CSR form: the ids of row i are ids[offsets[i] .. offsets[i+1]).
 * A single-valued field has exactly one id per row (offsets[i] = i); an empty list has none. Id 0 of every
 * field is its reserved out-of-vocabulary / missing row. `weights` (same length as ids) is set for weighted
 * lists and null otherwise (every weight 1).
 */
export interface FieldBatch {
  ids: Int32Array;
  offsets: Int32Array;
  weights: Float32Array | null;
}

export interface Batch {
  size: number;
  /** Click label y ∈ {0,1} per row. */
  click: Float32Array;
  /** Conversion label z ∈ {0,1} per row (z = 1 implies y = 1). The CTCVR label is click·buy = buy. */
  buy: Float32Array;
  /** One entry per embedded feature (ids, lists, bucketised numbers), in config order. */
  fields: FieldBatch[];
  /** Numbers fed to the network as they are: `size × denseWidth`, row-major, one column per numeric feature in config order. */
  dense: Float32Array;
  denseWidth: number;
}

/**
 * Rows [start, end) of a batch as views of its buffers (no copy): the offsets keep pointing into the
 * original ids and weights, which is all a reader of the CSR layout needs.
 */
export function sliceBatch(b: Batch, start: number, end: number): Batch {
  return {
    size: end - start,
    click: b.click.subarray(start, end),
    buy: b.buy.subarray(start, end),
    fields: b.fields.map((f) => ({ ids: f.ids, offsets: f.offsets.subarray(start, end + 1), weights: f.weights })),
    dense: b.dense.subarray(start * b.denseWidth, end * b.denseWidth),
    denseWidth: b.denseWidth,
  };
}

/** Rows [start, end) of a batch as a compact copy (offsets from 0), e.g. to post to a worker thread. */
export function copyRows(b: Batch, start: number, end: number): Batch {
  return {
    size: end - start,
    click: b.click.slice(start, end),
    buy: b.buy.slice(start, end),
    fields: b.fields.map((f) => {
      const lo = f.offsets[start], hi = f.offsets[end];
      const offsets = f.offsets.slice(start, end + 1);
      for (let i = 0; i < offsets.length; i++) offsets[i] -= lo;
      return { ids: f.ids.slice(lo, hi), offsets, weights: f.weights ? f.weights.slice(lo, hi) : null };
    }),
    dense: b.dense.slice(start * b.denseWidth, end * b.denseWidth),
    denseWidth: b.denseWidth,
  };
}

/** Rows picked by `index` (in that order) as a new batch. */
export function gatherBatch(b: Batch, index: ArrayLike<number>): Batch {
  return gatherParts([b], null, index);
}

/**
 * Rows picked from several batches as one new batch: row k is row `row[k]` of `parts[part[k]]` (of
 * parts[0] when `part` is null). The parts must have the same fields and dense width.
 */
export function gatherParts(parts: Batch[], part: ArrayLike<number> | null, row: ArrayLike<number>): Batch {
  const n = row.length;
  const src = (k: number) => parts[part === null ? 0 : part[k]];
  const click = new Float32Array(n), buy = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const b = src(k);
    click[k] = b.click[row[k]];
    buy[k] = b.buy[row[k]];
  }
  const fields = parts[0].fields.map((_, f) => {
    const offsets = new Int32Array(n + 1);
    for (let k = 0; k < n; k++) {
      const o = src(k).fields[f].offsets;
      offsets[k + 1] = offsets[k] + o[row[k] + 1] - o[row[k]];
    }
    const ids = new Int32Array(offsets[n]);
    const weights = parts[0].fields[f].weights ? new Float32Array(offsets[n]) : null;
    for (let k = 0; k < n; k++) {
      const field = src(k).fields[f];
      const lo = field.offsets[row[k]], hi = field.offsets[row[k] + 1];
      if (hi - lo === 1) {
        ids[offsets[k]] = field.ids[lo];
        if (weights) weights[offsets[k]] = field.weights![lo];
        continue;
      }
      ids.set(field.ids.subarray(lo, hi), offsets[k]);
      if (weights) weights.set(field.weights!.subarray(lo, hi), offsets[k]);
    }
    return { ids, offsets, weights };
  });
  const w = parts[0].denseWidth;
  const dense = new Float32Array(n * w);
  if (w > 0) for (let k = 0; k < n; k++) dense.set(src(k).dense.subarray(row[k] * w, (row[k] + 1) * w), k * w);
  return { size: n, click, buy, fields, dense, denseWidth: w };
}
