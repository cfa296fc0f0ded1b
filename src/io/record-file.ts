/**
 * Fixed-size binary records in scratch files, buffered: a writer appends records, a reader returns them in
 * the same order. Synchronous on purpose: each call moves a whole buffer, and the callers interleave many
 * files (one per partition), where an await per buffer would only add latency.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { EsmmError } from '../errors.js';

export class RecordWriter {
  readonly buf: Buffer;
  /** Byte position of the record being written: set the fields at buf[at..at+recordBytes), then commit(). */
  at = 0;
  count = 0;
  private readonly fd: number;

  constructor(readonly path: string, readonly recordBytes: number, bufferBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(recordBytes, bufferBytes - (bufferBytes % recordBytes)));
    this.fd = openSync(path, 'w');
  }

  commit(): void {
    this.count++;
    this.at += this.recordBytes;
    if (this.at === this.buf.length) this.flush();
  }

  flush(): void {
    for (let done = 0; done < this.at; ) done += writeSync(this.fd, this.buf, done, this.at - done);
    this.at = 0;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

export class RecordReader {
  readonly buf: Buffer;
  /** Byte position of the current record in buf after next() returned true. */
  at = 0;
  private end = 0;
  private filePos = 0;
  private fd: number;

  constructor(readonly path: string, readonly recordBytes: number, bufferBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(recordBytes, bufferBytes - (bufferBytes % recordBytes)));
    this.fd = openSync(path, 'r');
    this.at = -recordBytes;
  }

  /** Moves to the next record; false at the end of the file. */
  next(): boolean {
    this.at += this.recordBytes;
    if (this.at < this.end) return true;
    if (this.fd < 0) return false;
    let n = 0;
    while (n < this.buf.length) {
      const got = readSync(this.fd, this.buf, n, this.buf.length - n, this.filePos);
      if (got === 0) break;
      n += got;
      this.filePos += got;
    }
    if (n % this.recordBytes !== 0) throw new EsmmError(`${this.path}: scratch file truncated`);
    this.at = 0;
    this.end = n;
    return n > 0;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
