/**
 * The Ali-CCP token format (PaddleRec's esmm data): one row per line,
 *   sample_id,click,ctcvr,field:feat,field:feat,...
 * a field repeated once per feat for the multi-valued fields. ctcvr is click·buy, and since buy implies
 * click it is the buy label. Labels are passed through as written (validating them is the caller's job).
 */
import { DataError } from '../errors.js';
import { clip, FIRST_FIELD, type FieldCollector } from './ali-ccp-columns.js';
import { forEachLine, lineBlocks, type LineBlockOptions } from './line-blocks.js';
import type { SourceRecord } from './source.js';

/** One line (without its line end) as a record. */
export function parseTokenLine(text: string, file: string, line: number, collector: FieldCollector): SourceRecord {
  const parts = text.split(',');
  if (parts.length < 3) {
    return bad(file, line, null, `expected sample_id,click,ctcvr,field:feat,... but found ${parts.length} comma-separated value${parts.length === 1 ? '' : 's'}`);
  }
  for (let i = 3; i < parts.length; i++) {
    const token = parts[i];
    const colon = token.indexOf(':');
    if (colon <= 0 || colon === token.length - 1) {
      collector.reset();
      const what = token === '' ? 'is empty' : colon === -1 ? "has no ':'" : colon === 0 ? 'has an empty field id' : 'has an empty feat id';
      return bad(file, line, null, `token ${i + 1} ${JSON.stringify(clip(token))} ${what} (expected field:feat)`);
    }
    const field = token.slice(0, colon);
    const problem = collector.add(field, token.slice(colon + 1), '1');
    if (problem !== null) {
      collector.reset();
      return bad(file, line, field, `token ${i + 1}: ${problem}`);
    }
  }
  const fields = new Array<string>(FIRST_FIELD + collector.fieldCount);
  fields[0] = parts[1];
  fields[1] = parts[2];
  fields[2] = parts[0];
  collector.take(fields, FIRST_FIELD);
  return { line, fields, error: null };
}

/** The records of a token file in chunks (one per disk read). */
export async function* tokenRecords(path: string, collector: FieldCollector, opts: LineBlockOptions): AsyncGenerator<SourceRecord[]> {
  let first = true;
  for await (const block of lineBlocks(path, opts)) {
    const out: SourceRecord[] = [];
    if (block.overlong) {
      out.push(bad(path, block.line, null, `line longer than ${opts.maxLineBytes ?? 'the maximum'} bytes`));
    } else {
      const buf = block.buf;
      forEachLine(block, (start, end, line) => {
        if (first) {
          first = false;
          if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3; // UTF-8 BOM
        }
        if (start === end) return; // blank line
        out.push(parseTokenLine(buf.toString('utf8', start, end), path, line, collector));
      });
    }
    if (out.length > 0) yield out;
  }
}

function bad(file: string, line: number, column: string | null, reason: string): SourceRecord {
  return { line, fields: null, error: new DataError(file, line, column, reason) };
}
