/** A metric for humans: fixed digits, or n/a where it is undefined (e.g. an AUC with one class). */
export function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

/** Nine significant digits: enough to round-trip a float32 value. */
export function formatScore(x: number): string {
  return String(Number(x.toPrecision(9)));
}
