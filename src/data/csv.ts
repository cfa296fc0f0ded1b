/**
 * Streaming CSV/TSV reader: a header row, RFC 4180 quoting ("..." with "" escapes, delimiters and
 * newlines inside quotes), LF or CRLF line ends, an optional UTF-8 BOM. Memory stays bounded: the reader
 * holds one read chunk plus at most one unfinished record, capped by `maxRecordChars`.
 *
 * Lenient where real logs are sloppy: a quote inside an unquoted field is literal text (as in Python's csv
 * module) and blank lines are skipped. Strict where the data is ambiguous: text after a closing quote, an
 * unterminated quote and a wrong field count make a malformed record. Malformed records are handed to the
 * caller (with a DataError naming file, line and column) and reading resumes at the next line, so a caller
 * can either throw or skip and count.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { DataError, EsmmError } from '../errors.js';

export interface CsvOptions {
  /** Field delimiter, one character (',' or '\t' for TSV). Default ','. */
  delimiter?: string;
  /** A record longer than this many characters is malformed (guards memory against a stray quote). */
  maxRecordChars?: number;
  /** Bytes per read from disk. */
  chunkBytes?: number;
  /** Column names of a file without a header row: every record is data and must have this many fields. */
  columns?: string[];
}

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  /** Field values, or null when the record is malformed. */
  fields: string[] | null;
  /** Why the record is malformed; null for a good record. */
  error: DataError | null;
}

const QUOTE = 34, LF = 10, CR = 13, BOM = 0xfeff;
const DEFAULT_MAX_RECORD_CHARS = 1 << 24;
// Small reads keep the records of one chunk in the young generation: with 1 MB reads, GC took half the time.
const DEFAULT_CHUNK_BYTES = 1 << 16;

// Outcomes of scanning one record that contains a quote.
const COMPLETE = 0, INCOMPLETE = 1, MALFORMED = 2;

/**
 * Incremental parser over decoded text: push() text as it arrives, end() at end of input. The first
 * non-blank record is the header; every later record comes out as a CsvRecord.
 */
export class CsvParser {
  header: string[] | null = null;
  headerLine = 0;
  private readonly delimiter: string;
  private readonly delimiterCode: number;
  private readonly maxRecordChars: number;
  private pending = '';
  /** Physical line number of pending[0]. */
  private line = 1;
  private sawText = false;
  /** After an over-long record: drop text up to the next newline before parsing again. */
  private skippingToNewline = false;
  // Results of scanQuoted(), kept in fields to avoid allocating a result object per record.
  private scanFields: string[] = [];
  private scanEnd = 0;
  private scanColumn = 0;
  private scanReason = '';

  constructor(readonly file: string, opts: CsvOptions = {}) {
    const d = opts.delimiter ?? ',';
    if (d.length !== 1 || d === '"' || d === '\n' || d === '\r') {
      throw new EsmmError(`${file}: delimiter must be one character other than a quote or newline, got ${JSON.stringify(d)}`);
    }
    this.delimiter = d;
    this.delimiterCode = d.charCodeAt(0);
    this.maxRecordChars = opts.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
    if (opts.columns) this.header = [...opts.columns];
  }

  /** Parse the records completed by `text`; append them to `out`. */
  push(text: string, out: CsvRecord[]): void {
    if (text.length === 0) return;
    if (!this.sawText) {
      this.sawText = true;
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    this.pending = this.pending.length === 0 ? text : this.pending + text;
    this.parse(false, out);
  }

  /** Parse what is left at end of input. */
  end(out: CsvRecord[]): void {
    this.parse(true, out);
    this.pending = '';
  }

  private parse(eof: boolean, out: CsvRecord[]): void {
    const buf = this.pending;
    const len = buf.length;
    let pos = 0;
    let line = this.line;
    if (this.skippingToNewline) {
      const nl = buf.indexOf('\n');
      if (nl === -1) {
        this.pending = '';
        return;
      }
      this.skippingToNewline = false;
      pos = nl + 1;
      line++;
    }
    const delimiter = this.delimiter;
    let nextQuote = -1;
    for (;;) {
      nextQuote = buf.indexOf('"', pos);
      while (pos < len) {
        let nl = buf.indexOf('\n', pos);
        if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf('"', pos);
        if (nextQuote === -1 || (nl !== -1 && nextQuote > nl)) {
          // Fast path: no quote on this line, so it is one record split at every delimiter.
          if (nl === -1) {
            if (!eof) break;
            nl = len;
          }
          let end = nl;
          if (end > pos && buf.charCodeAt(end - 1) === CR) end--;
          if (end > pos) this.emit(buf.slice(pos, end).split(delimiter), line, out);
          line++;
          pos = nl + 1;
          continue;
        }
        const outcome = this.scanQuoted(buf, pos, eof);
        if (outcome === INCOMPLETE) break;
        if (outcome === COMPLETE) {
          const end = this.scanEnd;
          this.emit(this.scanFields, line, out);
          line += countNewlines(buf, pos, end);
          pos = end;
        } else {
          out.push({ line, fields: null, error: this.malformed(line, this.scanColumn, this.scanReason) });
          // Resume at the line after the one where the record went wrong.
          const nlAfter = buf.indexOf('\n', this.scanEnd);
          const resume = nlAfter === -1 ? len : nlAfter + 1;
          line += countNewlines(buf, pos, resume);
          pos = resume;
          if (nlAfter === -1 && !eof) this.skippingToNewline = true; // that line goes on in the next chunk
        }
      }
      if (pos >= len || eof || len - pos <= this.maxRecordChars) break;
      // An unfinished record has outgrown the limit: report it and resume at its second line.
      const reason = `record is longer than ${this.maxRecordChars} characters (unterminated quote?)`;
      out.push({ line, fields: null, error: this.malformed(line, null, reason) });
      const nl = buf.indexOf('\n', pos);
      if (nl === -1) {
        this.skippingToNewline = true;
        pos = len;
        break;
      }
      pos = nl + 1;
      line++;
    }
    this.pending = pos >= len ? '' : buf.slice(pos);
    this.line = line;
  }

  /**
   * Scan one record starting at `start` that has a quote somewhere. Sets scanFields/scanEnd on COMPLETE,
   * scanColumn/scanReason/scanEnd (where it went wrong) on MALFORMED.
   */
  private scanQuoted(buf: string, start: number, eof: boolean): number {
    const len = buf.length, d = this.delimiterCode;
    const fields: string[] = [];
    let p = start;
    for (;;) {
      if (p < len && buf.charCodeAt(p) === QUOTE) {
        const column = fields.length;
        let value = '';
        let segment = p + 1;
        for (;;) {
          const q = buf.indexOf('"', segment);
          if (q === -1) {
            if (!eof) return INCOMPLETE;
            return this.fail(column, p, 'unterminated quoted field');
          }
          if (q + 1 >= len && !eof) return INCOMPLETE; // cannot yet tell "" from a closing quote
          if (q + 1 < len && buf.charCodeAt(q + 1) === QUOTE) {
            value += buf.slice(segment, q + 1);
            segment = q + 2;
            continue;
          }
          value += buf.slice(segment, q);
          p = q + 1;
          break;
        }
        fields.push(value);
        if (p >= len) {
          if (!eof) return INCOMPLETE;
          return this.complete(fields, len);
        }
        const c = buf.charCodeAt(p);
        if (c === d) {
          p++;
          continue;
        }
        if (c === LF) return this.complete(fields, p + 1);
        if (c === CR) {
          if (p + 1 >= len) return eof ? this.complete(fields, len) : INCOMPLETE;
          if (buf.charCodeAt(p + 1) === LF) return this.complete(fields, p + 2);
        }
        return this.fail(column, p, 'unexpected text after a closing quote');
      }
      // Unquoted field: runs to the delimiter or the end of the line.
      let e = p;
      while (e < len) {
        const c = buf.charCodeAt(e);
        if (c === d || c === LF) break;
        e++;
      }
      if (e < len && buf.charCodeAt(e) === d) {
        fields.push(buf.slice(p, e));
        p = e + 1;
        continue;
      }
      if (e >= len && !eof) return INCOMPLETE;
      let end = e;
      if (end > p && buf.charCodeAt(end - 1) === CR) end--;
      fields.push(buf.slice(p, end));
      return this.complete(fields, e >= len ? len : e + 1);
    }
  }

  private complete(fields: string[], end: number): number {
    this.scanFields = fields;
    this.scanEnd = end;
    return COMPLETE;
  }

  private fail(column: number, at: number, reason: string): number {
    this.scanColumn = column;
    this.scanEnd = at;
    this.scanReason = reason;
    return MALFORMED;
  }

  private emit(fields: string[], line: number, out: CsvRecord[]): void {
    const header = this.header;
    if (header === null) {
      this.header = fields;
      this.headerLine = line;
      return;
    }
    if (fields.length === header.length) {
      out.push({ line, fields, error: null });
      return;
    }
    const reason = `row has ${fields.length} fields, the header has ${header.length}`;
    // Too few fields: name the first missing column. Too many: no column to name.
    out.push({ line, fields: null, error: this.malformed(line, fields.length < header.length ? fields.length : null, reason) });
  }

  private malformed(line: number, column: number | null, reason: string): DataError {
    const error = new DataError(this.file, line, column === null ? null : this.columnName(column), reason);
    // A broken header is never skippable: nothing after it can be read.
    if (this.header === null) throw error;
    return error;
  }

  private columnName(index: number): string {
    const name = this.header?.[index];
    return name !== undefined && name !== '' ? name : `#${index + 1}`;
  }
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Parse a whole CSV text held in memory (small inputs, tests). */
export function parseCsvText(text: string, opts: CsvOptions = {}, file = '<text>'): { header: string[]; records: CsvRecord[] } {
  const parser = new CsvParser(file, opts);
  const records: CsvRecord[] = [];
  parser.push(text, records);
  parser.end(records);
  if (parser.header === null) throw new DataError(file, 1, null, 'empty input: no header row');
  return { header: parser.header, records };
}

/**
 * A CSV file opened for streaming: the header is read on open, then records come in chunks (one array per
 * disk read). Breaking out of a loop over chunks() or records() closes the file.
 */
export class CsvFile {
  private readonly chunkIterator: AsyncIterator<string>;
  private leftover: CsvRecord[] = [];
  private ended = false;

  private constructor(
    readonly path: string,
    private readonly stream: ReadStream,
    private readonly parser: CsvParser,
  ) {
    this.chunkIterator = stream[Symbol.asyncIterator]();
  }

  static async open(path: string, opts: CsvOptions = {}): Promise<CsvFile> {
    const parser = new CsvParser(path, opts);
    const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES });
    const file = new CsvFile(path, stream, parser);
    try {
      while (parser.header === null && !file.ended) await file.readChunk(file.leftover);
    } catch (e) {
      file.close();
      throw e;
    }
    if (parser.header === null) {
      file.close();
      throw new DataError(path, 1, null, 'empty file: no header row');
    }
    return file;
  }

  get header(): string[] {
    return this.parser.header!;
  }

  get headerLine(): number {
    return this.parser.headerLine;
  }

  /** Records in file order, one array per disk read. */
  async *chunks(): AsyncGenerator<CsvRecord[]> {
    try {
      if (this.leftover.length > 0) {
        const first = this.leftover;
        this.leftover = [];
        yield first;
      }
      while (!this.ended) {
        const out: CsvRecord[] = [];
        await this.readChunk(out);
        if (out.length > 0) yield out;
      }
    } finally {
      this.close();
    }
  }

  /** Records one by one (simpler, slower than chunks()). */
  async *records(): AsyncGenerator<CsvRecord> {
    for await (const chunk of this.chunks()) yield* chunk;
  }

  close(): void {
    this.ended = true;
    this.stream.destroy();
  }

  private async readChunk(out: CsvRecord[]): Promise<void> {
    let next: IteratorResult<string>;
    try {
      next = await this.chunkIterator.next();
    } catch (e) {
      this.ended = true;
      throw new EsmmError(`${this.path}: cannot read: ${(e as Error).message}`);
    }
    if (next.done) {
      this.ended = true;
      this.parser.end(out);
    } else {
      this.parser.push(next.value, out);
    }
  }
}
