/** An error meant for the user: the CLI prints its message (no stack trace) and exits non-zero. */
export class EsmmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EsmmError';
  }
}

/**
 * A malformed input row: names the file, line and (when known) column. `unit` says what `line` counts:
 * text lines (`file:12`) or rows of a columnar file such as Parquet (`file: row 12`).
 */
export class DataError extends EsmmError {
  constructor(readonly file: string, readonly line: number, readonly column: string | null, readonly reason: string, readonly unit: 'line' | 'row' = 'line') {
    super(`${file}${unit === 'row' ? `: row ${line}` : `:${line}`}${column !== null ? ` column "${column}"` : ''}: ${reason}`);
    this.name = 'DataError';
  }
}
