/** A metric for humans: fixed digits, or n/a where it is undefined (e.g. an AUC with one class). */
export function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

/**
 * Nine significant digits, enough to round-trip a float32 value, without trailing zeros: the same text
 * as String(Number(x.toPrecision(9))), made by trimming rather than by parsing and printing again.
 */
export function formatScore(x: number): string {
  const s = x.toPrecision(9);
  const e = s.indexOf('e');
  if (e < 0) return trimZeros(s);
  // below 1e-6 both print an exponent; from 1e9 to 1e21 only toPrecision does
  return s.charCodeAt(e + 1) === 45 ? trimZeros(s.slice(0, e)) + s.slice(e) : String(Number(s));
}

/** Drops trailing zeros after a decimal point, and the point when nothing is left after it. */
function trimZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** `pctr,pcvr,pctcvr` lines for rows [0, n), as `esmm predict` writes them. */
export function scoreLines(pctr: Float32Array, pcvr: Float32Array, n: number): string {
  let text = '';
  for (let i = 0; i < n; i++) text += `${formatScore(pctr[i])},${formatScore(pcvr[i])},${formatScore(pctr[i] * pcvr[i])}\n`;
  return text;
}
