/** An error meant for the user: the CLI prints its message (no stack trace) and exits non-zero. */
export class EsmmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EsmmError';
  }
}

/** A malformed input row: names the file, line and (when known) column. */
export class DataError extends EsmmError {
  constructor(readonly file: string, readonly line: number, readonly column: string | null, readonly reason: string) {
    super(`${file}:${line}${column !== null ? ` column "${column}"` : ''}: ${reason}`);
    this.name = 'DataError';
  }
}
