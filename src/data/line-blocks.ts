/**
 * A file read as blocks of whole lines of bytes, for readers whose rows are one line each and never
 * quoted (the Ali-CCP formats). Working on blocks rather than on single lines keeps the per-line cost to a
 * native indexOf plus the caller's own work: an async step per line would cost more than parsing it.
 *
 * Memory is bounded by `maxLineBytes`: a longer line is not buffered whole; it comes out as an overlong
 * block (so the caller can report it at its line) and reading resumes after it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { EsmmError } from '../errors.js';

export interface LineBlock {
  /** Whole lines, each ending with '\n' except possibly the last line of the file. Valid until the next block. */
  buf: Buffer;
  /** File offset of buf[0]. */
  offset: number;
  /** 1-based line number of the first line in buf. */
  line: number;
  /** The block stands for one line longer than maxLineBytes (buf is empty). */
  overlong: boolean;
}

export interface LineBlockOptions {
  /** Bytes per read. */
  blockBytes?: number;
  /** A line longer than this is reported as overlong and skipped. */
  maxLineBytes?: number;
}

const LF = 10, CR = 13;
export const DEFAULT_BLOCK_BYTES = 1 << 18;
export const DEFAULT_MAX_LINE_BYTES = 1 << 26;

/** The blocks of a file in order. Breaking out of the loop closes the file. */
export async function* lineBlocks(path: string, opts: LineBlockOptions = {}): AsyncGenerator<LineBlock> {
  const blockBytes = Math.max(16, opts.blockBytes ?? DEFAULT_BLOCK_BYTES);
  const maxLine = Math.max(blockBytes, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new EsmmError(`${path}: cannot open: ${(e as Error).message}`);
  }
  try {
    let buf = Buffer.allocUnsafe(blockBytes);
    let have = 0; // bytes of an unfinished line at buf[0..have)
    let offset = 0; // file offset of buf[0]
    let line = 1;
    let readPos = 0;
    let skipping = false; // inside an overlong line: drop bytes up to the next newline
    for (;;) {
      if (have === buf.length) {
        if (buf.length >= maxLine) {
          yield { buf: buf.subarray(0, 0), offset, line, overlong: true };
          skipping = true;
          offset += have;
          have = 0;
        } else {
          const bigger = Buffer.allocUnsafe(Math.min(maxLine, buf.length * 2));
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
      }
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, have, buf.length - have, readPos));
      } catch (e) {
        throw new EsmmError(`${path}: cannot read: ${(e as Error).message}`);
      }
      readPos += bytesRead;
      if (bytesRead === 0) {
        if (have > 0 && !skipping) yield { buf: buf.subarray(0, have), offset, line, overlong: false };
        return;
      }
      let start = 0;
      const end = have + bytesRead;
      if (skipping) {
        const nl = buf.indexOf(LF, have);
        if (nl === -1 || nl >= end) {
          offset += end;
          have = 0;
          continue;
        }
        skipping = false;
        start = nl + 1;
        line++;
      }
      const lastNl = buf.lastIndexOf(LF, end - 1);
      if (lastNl < start) {
        // No complete line yet: keep what we have at the front of the buffer.
        if (start > 0) buf.copy(buf, 0, start, end);
        offset += start;
        have = end - start;
        continue;
      }
      const block = buf.subarray(start, lastNl + 1);
      const blockLine = line;
      line += countLines(block);
      yield { buf: block, offset: offset + start, line: blockLine, overlong: false };
      buf.copy(buf, 0, lastNl + 1, end);
      offset += lastNl + 1;
      have = end - lastNl - 1;
    }
  } finally {
    await fh.close().catch(() => {});
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) n++;
  return n;
}

/**
 * Calls `visit(start, end, line)` for every line of a block: buf[start..end) without its '\n' and a
 * trailing '\r'. Blank lines are visited too (start === end).
 */
export function forEachLine(block: LineBlock, visit: (start: number, end: number, line: number) => void): void {
  const buf = block.buf;
  const len = buf.length;
  let line = block.line;
  let pos = 0;
  while (pos < len) {
    let nl = buf.indexOf(LF, pos);
    if (nl === -1) nl = len;
    let end = nl;
    if (end > pos && buf[end - 1] === CR) end--;
    visit(pos, end, line);
    line++;
    pos = nl + 1;
  }
}
