/** A metric for humans: fixed digits, or n/a where it is undefined (e.g. an AUC with one class). */
export function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

/** Nine significant digits: enough to round-trip a float32 value. */
export function formatScore(x: number): string {
  return String(Number(x.toPrecision(9)));
}

/** `pctr,pcvr,pctcvr` lines for rows [0, n), as `esmm predict` writes them. */
export function scoreLines(pctr: Float32Array, pcvr: Float32Array, n: number): string {
  let text = '';
  for (let i = 0; i < n; i++) text += `${formatScore(pctr[i])},${formatScore(pcvr[i])},${formatScore(pctr[i] * pcvr[i])}\n`;
  return text;
}
