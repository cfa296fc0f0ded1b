import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as csvParse } from 'csv-parse/sync';
import fc from 'fast-check';
import { CsvFile, CsvParser, parseCsvText, type CsvOptions, type CsvRecord } from '../src/data/csv.js';
import { DataError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'esmm-csv-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function tempFile(content: string | Buffer, name = `f${fileCount++}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function readAll(path: string, opts: CsvOptions = {}): Promise<{ header: string[]; records: CsvRecord[] }> {
  const file = await CsvFile.open(path, opts);
  const records: CsvRecord[] = [];
  for await (const chunk of file.chunks()) records.push(...chunk);
  return { header: file.header, records };
}

/** Good records as [line, fields]; throws the first malformed record's error. */
function good(records: CsvRecord[]): [number, string[]][] {
  return records.map((r) => {
    if (r.error) throw r.error;
    return [r.line, r.fields!];
  });
}

/** Feed `text` to a parser in pieces cut at `cuts` (sorted positions). */
function parseInPieces(text: string, cuts: number[], opts: CsvOptions = {}) {
  const parser = new CsvParser('<pieces>', opts);
  const records: CsvRecord[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    parser.push(text.slice(from, cut), records);
    from = cut;
  }
  parser.end(records);
  return { header: parser.header, records };
}

describe('csv: well-formed input', () => {
  test('header, records and 1-based physical line numbers', async () => {
    const { header, records } = await readAll(tempFile('a,b,c\n1,2,3\nx,y,z\n'));
    assert.deepEqual(header, ['a', 'b', 'c']);
    assert.deepEqual(good(records), [[2, ['1', '2', '3']], [3, ['x', 'y', 'z']]]);
  });

  test('RFC 4180 quoting: delimiters, "" escapes and newlines inside quotes', async () => {
    const text = 'a,b\n"x,y","say ""hi"""\n"two\nlines","three\r\nlines\n!"\n"",plain\nlast,row\n';
    const { records } = await readAll(tempFile(text));
    assert.deepEqual(good(records), [
      [2, ['x,y', 'say "hi"']],
      [3, ['two\nlines', 'three\r\nlines\n!']],
      [7, ['', 'plain']],
      [8, ['last', 'row']],
    ]);
  });

  test('CRLF line ends are not part of the values; last line may lack a newline', async () => {
    const { header, records } = await readAll(tempFile('a,b\r\n1,2\r\n"q",3\r\n4,"5"'));
    assert.deepEqual(header, ['a', 'b']);
    assert.deepEqual(good(records), [[2, ['1', '2']], [3, ['q', '3']], [4, ['4', '5']]]);
  });

  test('a UTF-8 BOM is dropped from the first header name', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('click,buy\n1,0\n')]);
    const { header, records } = await readAll(tempFile(bytes));
    assert.deepEqual(header, ['click', 'buy']);
    assert.deepEqual(good(records), [[2, ['1', '0']]]);
  });

  test('empty fields are kept, blank lines are skipped but counted', async () => {
    const { records } = await readAll(tempFile('a,b,c\n,,\n\n1,,\r\n\r\n,2,\n'));
    assert.deepEqual(good(records), [[2, ['', '', '']], [4, ['1', '', '']], [6, ['', '2', '']]]);
  });

  test('list values and quotes inside unquoted fields are plain text', async () => {
    const { records } = await readAll(tempFile('id,tags\n1,a|b|c\n2,5" screen\n3,\n'));
    assert.deepEqual(good(records), [[2, ['1', 'a|b|c']], [3, ['2', '5" screen']], [4, ['3', '']]]);
  });

  test('TSV with a tab delimiter', async () => {
    const { header, records } = await readAll(tempFile('a\tb\n1,5\t"x\ty"\n'), { delimiter: '\t' });
    assert.deepEqual(header, ['a', 'b']);
    assert.deepEqual(good(records), [[2, ['1,5', 'x\ty']]]);
  });

  test('header-only file has no records; empty file is a DataError', async () => {
    assert.deepEqual((await readAll(tempFile('a,b\n'))).records, []);
    const empty = tempFile('');
    await assert.rejects(CsvFile.open(empty), (e: unknown) => e instanceof DataError && e.message.startsWith(`${empty}:1:`));
  });

  test('tiny read chunks split multibyte characters, CRLF and "" escapes at every position', async () => {
    const text = '\ufeffnäme,"ß"\r\n"日本,😀","a""b"\r\n"x\r\ny",é\r\n';
    const expected = [[2, ['日本,😀', 'a"b']], [3, ['x\r\ny', 'é']]];
    for (let chunkBytes = 1; chunkBytes <= 9; chunkBytes++) {
      const { header, records } = await readAll(tempFile(text), { chunkBytes });
      assert.deepEqual(header, ['näme', 'ß'], `chunkBytes ${chunkBytes}`);
      assert.deepEqual(good(records), expected, `chunkBytes ${chunkBytes}`);
    }
  });

  test('records() yields the same records one by one; breaking out closes the file', async () => {
    const path = tempFile('a\n1\n2\n3\n');
    const file = await CsvFile.open(path);
    const seen: string[] = [];
    for await (const r of file.records()) {
      seen.push(r.fields![0]);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ['1', '2']);
  });
});

describe('csv: malformed input', () => {
  const isDataError = (file: string, line: number, column: string | null) => (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.equal(e.column, column);
    assert.ok(e.message.startsWith(`${file}:${line}`), e.message);
    if (column !== null) assert.ok(e.message.includes(`column "${column}"`), e.message);
    return true;
  };

  test('wrong column count names file and line (and the first missing column)', async () => {
    const path = tempFile('a,b,c\n1,2,3\n1,2\n1,2,3,4\n7,8,9\n');
    const { records } = await readAll(path);
    assert.equal(records.length, 4);
    isDataError(path, 3, 'c')(records[1].error);
    assert.match(records[1].error!.message, /row has 2 fields, the header has 3/);
    isDataError(path, 4, null)(records[2].error);
    assert.deepEqual(records[3].fields, ['7', '8', '9']);
    assert.equal(records[3].line, 5);
  });

  test('unterminated quote at end of file names the line and column where the quote opened', async () => {
    const path = tempFile('a,b\n1,2\n3,"open\nmore text\n');
    const { records } = await readAll(path);
    isDataError(path, 3, 'b')(records[1].error);
    assert.match(records[1].error!.message, /unterminated quoted field/);
  });

  test('text after a closing quote is malformed; reading resumes on the next line', async () => {
    const path = tempFile('a,b\n"x"y,1\n2,3\n');
    const { records } = await readAll(path);
    isDataError(path, 2, 'a')(records[0].error);
    assert.deepEqual(good(records.slice(1)), [[3, ['2', '3']]]);
  });

  test('a record beyond maxRecordChars is malformed, memory stays bounded, reading resumes', async () => {
    const path = tempFile('a,b\n1,"never closed\n' + 'x,y\n'.repeat(5000));
    const { records } = await readAll(path, { maxRecordChars: 1000, chunkBytes: 256 });
    isDataError(path, 2, null)(records[0].error);
    assert.match(records[0].error!.message, /longer than 1000 characters/);
    assert.equal(records.length, 5001);
    assert.deepEqual(records[1], { line: 3, fields: ['x', 'y'], error: null });
  });

  test('an over-long line without any newline is skipped up to its end', () => {
    const text = 'a\n' + 'z'.repeat(5000) + '\nok\n';
    const cuts = Array.from({ length: 60 }, (_, i) => (i + 1) * 100);
    const { records } = parseInPieces(text, cuts, { maxRecordChars: 1000 });
    assert.equal(records[0].error?.line, 2);
    assert.deepEqual(records.slice(1), [{ line: 3, fields: ['ok'], error: null }]);
  });

  test('a malformed header is always an error', () => {
    assert.throws(() => parseCsvText('"a"x,b\n1,2\n', {}, 'h.csv'), isDataError('h.csv', 1, '#1'));
  });

  test('a missing file is an EsmmError naming it', async () => {
    const path = join(dir, 'does-not-exist.csv');
    await assert.rejects(CsvFile.open(path), (e: unknown) => e instanceof Error && e.message.includes(path) && !(e instanceof DataError));
  });
});

// ---- property tests against csv-parse --------------------------------------------------------------

const fieldChar = fc.constantFrom('a', 'b', 'Z', '0', ' ', ',', '"', '\n', '\r', '|', '\t', 'é', '日', '😀');
const field = fc.oneof(
  { weight: 3, arbitrary: fc.array(fieldChar, { maxLength: 8 }).map((cs) => cs.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => s.replace(/\uFEFF/g, '')) },
);
const table = fc.integer({ min: 1, max: 5 }).chain((width) =>
  fc.record({
    rows: fc.array(fc.array(field, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 12 }),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
    quoteAll: fc.boolean(),
  }),
);

/** Write rows as CSV the way a careful writer does: quote when needed (or always). */
function writeCsv(rows: string[][], eol: string, finalNewline: boolean, quoteAll: boolean, delimiter = ','): string {
  const lines = rows.map((row) =>
    row
      .map((v) => {
        // A lone empty field would be a blank line, so it is quoted.
        const needs = quoteAll || /["\r\n]/.test(v) || v.includes(delimiter) || (row.length === 1 && v === '');
        return needs ? `"${v.replace(/"/g, '""')}"` : v;
      })
      .join(delimiter),
  );
  return lines.join(eol) + (finalNewline ? eol : '');
}

describe('csv: property tests', () => {
  test('random tables round-trip and agree with csv-parse, in any chunking', () => {
    fc.assert(
      fc.property(table, fc.array(fc.nat(), { maxLength: 6 }), (t, rawCuts) => {
        const text = writeCsv(t.rows, t.crlf ? '\r\n' : '\n', t.finalNewline, t.quoteAll);
        const oracle = csvParse(text, { bom: true }) as string[][];
        assert.deepEqual(oracle, t.rows);
        const cuts = [...new Set(rawCuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const { header, records } = parseInPieces(text, cuts);
        assert.deepEqual([header, ...good(records).map((r) => r[1])], oracle);
      }),
      { numRuns: 500 },
    );
  });

  test('random tables read from files agree with csv-parse (TSV too)', async () => {
    await fc.assert(
      fc.asyncProperty(table, fc.boolean(), fc.integer({ min: 1, max: 64 }), async (t, tsv, chunkBytes) => {
        const delimiter = tsv ? '\t' : ',';
        const text = writeCsv(t.rows, t.crlf ? '\r\n' : '\n', t.finalNewline, t.quoteAll, delimiter);
        const oracle = csvParse(text, { bom: true, delimiter }) as string[][];
        const { header, records } = await readAll(tempFile(text, 'prop.csv'), { delimiter, chunkBytes });
        assert.deepEqual([header, ...good(records).map((r) => r[1])], oracle);
      }),
      { numRuns: 150 },
    );
  });

  test('physical line numbers match where csv-parse says each record starts', () => {
    fc.assert(
      fc.property(table, (t) => {
        // csv-parse counts a \r inside a quoted value as a line of its own; for us a line ends only at \n.
        fc.pre(t.rows.every((row) => row.every((v) => !v.includes('\r'))));
        const text = writeCsv(t.rows, t.crlf ? '\r\n' : '\n', true, t.quoteAll);
        const oracle = csvParse(text, { info: true }) as unknown as { info: { lines: number }; record: string[] }[];
        const { records } = parseCsvText(text);
        // csv-parse reports the line where each record ends; ours is where it starts.
        let start = 1 + countLines(t.rows[0]);
        records.forEach((r, i) => {
          assert.equal(r.line, start);
          start += countLines(t.rows[i + 1]);
          assert.equal(oracle[i + 1].info.lines, start - 1);
        });
      }),
      { numRuns: 300 },
    );
  });

  test('truncated input gives records or DataErrors naming file:line, never another error or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(table, fc.double({ min: 0, max: 1, noNaN: true }), async (t, where) => {
        const text = writeCsv(t.rows, t.crlf ? '\r\n' : '\n', true, t.quoteAll);
        const cut = text.slice(0, Math.floor(text.length * where));
        const path = tempFile(cut, 'truncated.csv');
        try {
          const { records } = await readAll(path, { chunkBytes: 16 });
          for (const r of records) if (r.error) assert.match(r.error.message, new RegExp(`^${escapeRegExp(path)}:\\d+`));
        } catch (e) {
          assert.ok(e instanceof DataError, `unexpected ${e}`);
          assert.ok(e.message.startsWith(`${path}:`));
        }
      }),
      { numRuns: 200 },
    );
  });

  test('garbled input never crashes or hangs: only DataErrors, lines only increase', () => {
    const garbage = fc.array(fc.constantFrom('a', ',', '"', '"', '\n', '\r', 'é', '\t'), { maxLength: 80 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(garbage, fc.array(fc.nat(), { maxLength: 4 }), fc.integer({ min: 4, max: 64 }), (text, rawCuts, maxRecordChars) => {
        const cuts = [...new Set(rawCuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        try {
          const { records } = parseInPieces(text, cuts, { maxRecordChars });
          let last = 0;
          for (const r of records) {
            assert.ok(r.line > last, 'line numbers increase');
            last = r.line;
            assert.ok((r.fields === null) !== (r.error === null));
            if (r.error) assert.ok(r.error instanceof DataError && r.error.message.startsWith('<pieces>:'));
          }
        } catch (e) {
          assert.ok(e instanceof DataError, `unexpected ${e}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

function countLines(row: string[] | undefined): number {
  if (!row) return 0;
  return 1 + row.reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
