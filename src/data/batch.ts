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

/** Rows picked by `index` (in that order) as a new batch. */
export function gatherBatch(b: Batch, index: ArrayLike<number>): Batch {
  const n = index.length;
  const click = new Float32Array(n), buy = new Float32Array(n);
  for (let i = 0; i < n; i++) { click[i] = b.click[index[i]]; buy[i] = b.buy[index[i]]; }
  const fields = b.fields.map((f) => {
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + f.offsets[index[i] + 1] - f.offsets[index[i]];
    const ids = new Int32Array(offsets[n]);
    const weights = f.weights ? new Float32Array(offsets[n]) : null;
    for (let i = 0; i < n; i++) {
      const src = f.offsets[index[i]], len = f.offsets[index[i] + 1] - src;
      ids.set(f.ids.subarray(src, src + len), offsets[i]);
      if (weights) weights.set(f.weights!.subarray(src, src + len), offsets[i]);
    }
    return { ids, offsets, weights };
  });
  const w = b.denseWidth;
  const dense = new Float32Array(n * w);
  if (w > 0) for (let i = 0; i < n; i++) dense.set(b.dense.subarray(index[i] * w, (index[i] + 1) * w), i * w);
  return { size: n, click, buy, fields, dense, denseWidth: w };
}
