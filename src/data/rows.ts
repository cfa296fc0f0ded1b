/**
 * One pass over labeled files of any format with the row validation that fitting the encoder and reading
 * data share: label and feature columns resolved from each file's columns, labels parsed as 0/1, rows
 * with click = 0 and buy = 1 dropped and counted, malformed rows thrown or skipped and counted.
 */
import { featureColumn, type Config } from '../config.js';
import { DataError, EsmmError } from '../errors.js';
import { expandPaths } from './paths.js';
import { openSource } from './source.js';

export type BadRowPolicy = 'error' | 'skip';

export interface ScanOptions {
  onBadRow: BadRowPolicy;
  /** Stop after this many used rows. */
  maxRows?: number;
  /**
   * 'required' (default): read and validate the label columns. 'ignore': rows for scoring — label columns
   * need not exist, every row is used with click = buy = 0, so outputs stay aligned with input rows.
   */
  labels?: 'required' | 'ignore';
}

export interface RowCounts {
  files: string[];
  /** Data records read (header and blank lines excluded), good or bad. */
  rowsRead: number;
  /** Rows handed on (valid labels, not dropped). */
  rowsUsed: number;
  /** Rows with click = 0 and buy = 1: invalid by definition (buy implies click), dropped. */
  droppedClick0Buy1: number;
  /** Malformed rows skipped under onBadRow = 'skip'. */
  skippedBadRows: number;
  /** Skipped rows by reason (the message without its file and line), for the run summary. */
  skippedByReason: Record<string, number>;
  /** The first few malformed-row messages (file:line column: reason). */
  badRowExamples: string[];
  /** Used rows with click = 1 / buy = 1. */
  clicks: number;
  buys: number;
}

/** A problem with one value of a row, found by the row handler: the column and why. */
export interface RowProblem {
  column: string;
  reason: string;
}

/** Called for every row with valid labels; `fields` are the raw values, indexed by the file's columns. */
export type RowHandler = (fields: string[], click: number, buy: number) => RowProblem | null;

/**
 * Called once per file with the column index of every config feature in that file; returns the handler
 * for that file's rows.
 */
export type FileStart = (path: string, featureColumns: Int32Array) => RowHandler;

export const BAD_ROW_EXAMPLES = 5;
const MAX_REASONS = 50;

export function emptyCounts(files: string[]): RowCounts {
  return { files, rowsRead: 0, rowsUsed: 0, droppedClick0Buy1: 0, skippedBadRows: 0, skippedByReason: {}, badRowExamples: [], clicks: 0, buys: 0 };
}

/** Every file of `paths` (globs expanded) in order; the counts are returned. */
export async function scanLabeledRows(paths: string[], cfg: Config, opts: ScanOptions, startFile: FileStart): Promise<RowCounts> {
  const files = expandPaths(paths);
  const counts = emptyCounts(files);
  for (const path of files) {
    if (counts.rowsUsed >= (opts.maxRows ?? Infinity)) break;
    for await (const _ of scanFile(path, cfg, opts, counts, startFile)) { /* drained */ }
  }
  return counts;
}

/**
 * One file, yielding after each chunk of records so that a caller can hand on what the handler built.
 * Adds to `counts`.
 */
export async function* scanFile(path: string, cfg: Config, opts: ScanOptions, counts: RowCounts, startFile: FileStart): AsyncGenerator<void> {
  const maxRows = opts.maxRows ?? Infinity;
  const badRow = (error: DataError) => {
    if (opts.onBadRow === 'error') throw error;
    counts.skippedBadRows++;
    const reason = `${error.column !== null ? `column "${error.column}": ` : ''}${error.reason.replace(/"[^"]*"/g, '"…"')}`;
    if (reason in counts.skippedByReason || Object.keys(counts.skippedByReason).length < MAX_REASONS) {
      counts.skippedByReason[reason] = (counts.skippedByReason[reason] ?? 0) + 1;
    }
    if (counts.badRowExamples.length < BAD_ROW_EXAMPLES) counts.badRowExamples.push(error.message);
  };
  const source = await openSource(path, cfg);
  let onRow: RowHandler;
  let clickAt = -1, buyAt = -1;
  try {
    const columns = columnIndex(path, source.columns);
    if (opts.labels !== 'ignore') {
      clickAt = columns.require(cfg.input.click, 'click label (input.click)');
      buyAt = columns.require(cfg.input.buy, 'buy label (input.buy)');
    }
    const featureColumns = Int32Array.from(cfg.features, (f) => columns.require(featureColumn(f), `feature "${f.name}"`));
    onRow = startFile(path, featureColumns);
  } catch (e) {
    source.close();
    throw e;
  }
  const clickName = cfg.input.click, buyName = cfg.input.buy;
  const unit = source.unit ?? 'line';
  const readBefore = counts.rowsRead;
  for await (const chunk of source.chunks()) {
    for (let r = 0; r < chunk.length; r++) {
      const record = chunk[r];
      counts.rowsRead++;
      const fields = record.fields;
      if (fields === null) {
        badRow(record.error ?? new DataError(path, record.line, null, 'malformed row', unit));
        continue;
      }
      let click = 0, buy = 0;
      if (clickAt >= 0) {
        click = parseLabel(fields[clickAt]);
        if (click < 0) {
          badRow(new DataError(path, record.line, clickName, `label must be 0 or 1, got ${JSON.stringify(fields[clickAt])}`, unit));
          continue;
        }
        buy = parseLabel(fields[buyAt]);
        if (buy < 0) {
          badRow(new DataError(path, record.line, buyName, `label must be 0 or 1, got ${JSON.stringify(fields[buyAt])}`, unit));
          continue;
        }
        if (click === 0 && buy === 1) {
          counts.droppedClick0Buy1++;
          continue;
        }
      }
      const problem = onRow(fields, click, buy);
      if (problem !== null) {
        badRow(new DataError(path, record.line, problem.column, problem.reason, unit));
        continue;
      }
      counts.rowsUsed++;
      counts.clicks += click;
      counts.buys += buy;
      if (counts.rowsUsed >= maxRows) {
        source.close();
        yield;
        return;
      }
    }
    yield;
  }
  if (counts.rowsRead === readBefore) throw new EsmmError(`${path}: no data rows`);
}

/** "0", "1", "0.0", "1.0" (any number of zeros after the point) → 0 or 1; anything else → -1. */
export function parseLabel(s: string): number {
  if (s.length === 1) return s === '0' ? 0 : s === '1' ? 1 : -1;
  return DECIMAL_LABEL.test(s) ? s.charCodeAt(0) - 48 : -1;
}
const DECIMAL_LABEL = /^[01]\.0+$/;

/** Column lookup in one file's columns, with errors that name the file, the column and what needed it. */
export function columnIndex(path: string, header: string[]) {
  const first = new Map<string, number>();
  const duplicated = new Set<string>();
  header.forEach((name, i) => {
    if (first.has(name)) duplicated.add(name);
    else first.set(name, i);
  });
  return {
    /** Index of `column`; `role` says who needs it, e.g. 'feature "user"'. */
    require(column: string, role: string): number {
      const i = first.get(column);
      if (i === undefined) {
        const shown = header.slice(0, 40).map((h) => JSON.stringify(h)).join(', ') + (header.length > 40 ? ', ...' : '');
        throw new EsmmError(`${path}: ${role}: column "${column}" is not in the file (columns: ${shown})`);
      }
      if (duplicated.has(column)) throw new EsmmError(`${path}: ${role}: column "${column}" appears more than once in the header`);
      return i;
    },
  };
}
