/**
 * Line and column information for protobuf text format, which @bufbuild/protobuf's parser (txtpb) does
 * not report: a lenient tokenizer that remembers where each token starts, and a schema-free walk of the
 * field structure that records where each field occurrence is written. The parsing itself — types,
 * values, unknown fields — stays with txtpb; this module only answers "where is that?":
 *
 * - `fieldPositions(text)`: the position of every field occurrence by its path, for errors found after
 *   parsing (`model_config.esmm.cvr_tower.num_class`, `feature_config.features[3].hash_bucket_size`).
 * - `locateError(text, parse)`: where a parse error happened, found as the shortest token prefix of the
 *   text that fails with the same message (a parser reads left to right, so a prefix that contains the
 *   offending token fails the same way, and a shorter one fails differently or not at all).
 */

export interface TextPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  offset: number;
}

type TokenKind = 'ident' | 'number' | 'string' | 'punct';

interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

/** A text-format syntax error found by this module's own scan, at a position. */
export class TextSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'TextSyntaxError';
  }
}

/** Maps offsets to line/column. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  at(offset: number): TextPosition {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1, offset };
  }
}

const PUNCT = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '/']);

/**
 * Tokens of `text`, leniently: numbers and identifiers are runs of word characters (their validity is the
 * parser's business), strings end at their closing quote. Stops at the first character it cannot read,
 * returning the tokens so far and that offset as `stop`.
 */
function tokenize(text: string): { tokens: Token[]; stop: number | null; stopReason?: string } {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#') { while (i < n && text[i] !== '\n') i++; continue; }
    const start = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\n') return { tokens, stop: start, stopReason: 'unterminated string' };
        i += text[i] === '\\' ? 2 : 1;
      }
      if (i >= n) return { tokens, stop: start, stopReason: 'unterminated string' };
      i++;
      tokens.push({ kind: 'string', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (/[0-9.]/.test(c)) {
      i++;
      while (i < n && (/[\w.]/.test(text[i]) || ((text[i] === '-' || text[i] === '+') && /[eE]/.test(text[i - 1]) && !/^0[xX]/.test(text.slice(start, i))))) i++;
      tokens.push({ kind: 'number', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /\w/.test(text[i])) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (PUNCT.has(c)) {
      i++;
      tokens.push({ kind: 'punct', text: c, start, end: i });
      continue;
    }
    return { tokens, stop: start, stopReason: `unexpected character ${JSON.stringify(c)}` };
  }
  return { tokens, stop: null };
}

/** A field path: names, with the occurrence index after a repeated field's name (`features`, 3). */
export type FieldPath = ReadonlyArray<string | number>;

/** `a.b[3].c` */
export function formatPath(path: FieldPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

/** The key of a path whose every name carries an occurrence index (0 when the path gives none). */
function keyOf(path: FieldPath): string {
  const parts: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    if (typeof p === 'number') continue;
    const next = path[i + 1];
    parts.push(`${p}#${typeof next === 'number' ? next : 0}`);
  }
  return parts.join('/');
}

/** Where each field occurrence (and each element of a `[...]` list) is written. */
export class FieldPositions {
  constructor(
    private readonly byKey: Map<string, number>, private readonly lines: LineIndex,
    /** Occurrences of each field name in each message occurrence: `parentKey/name` → count. */
    private readonly counts: Map<string, number>,
  ) {}

  /** The path of the field occurrence whose name (or list element) starts at `offset`, for messages. */
  pathAtOffset(offset: number, exact = true): string | null {
    let best: string | null = null, bestOff = -1;
    for (const [key, off] of this.byKey) {
      if (exact ? off === offset : off <= offset && off > bestOff) { best = key; bestOff = off; }
    }
    if (best === null) return null;
    {
      const key = best;
      const segs = key.split('/');
      let parent = '';
      let out = '';
      for (const seg of segs) {
        const hash = seg.lastIndexOf('#');
        const name = seg.slice(0, hash);
        const many = (this.counts.get(`${parent}/${name}`) ?? 0) > 1;
        out += (out ? '.' : '') + name + (many ? `[${seg.slice(hash + 1)}]` : '');
        parent += `/${seg}`;
      }
      return out;
    }
  }

  /** The position of the field (its name, or the element for a list value), if it is written in the text. */
  at(path: FieldPath): TextPosition | undefined {
    const off = this.byKey.get(keyOf(path));
    return off === undefined ? undefined : this.lines.at(off);
  }

  /** The position of the nearest written ancestor of `path` (the path itself first). */
  nearest(path: FieldPath): TextPosition | undefined {
    for (let len = path.length; len > 0; len--) {
      const p = this.at(path.slice(0, len));
      if (p) return p;
    }
    return undefined;
  }
}

/**
 * Walks the field structure of `text` without a schema and records where every field occurrence is.
 * Throws TextSyntaxError where the structure is broken (call it on text the parser accepted to be sure
 * it does not).
 */
export function fieldPositions(text: string): FieldPositions {
  const { tokens, stop, stopReason } = tokenize(text);
  if (stop !== null) throw new TextSyntaxError(stopReason ?? 'unreadable text', stop);
  const byKey = new Map<string, number>();
  const totals = new Map<string, number>();
  let k = 0;
  const peek = (): Token | undefined => tokens[k];
  const fail = (msg: string): never => {
    throw new TextSyntaxError(msg, tokens[k]?.start ?? text.length);
  };

  const body = (prefix: string, close: string | null): void => {
    const counts = new Map<string, number>();
    for (;;) {
      const t = peek();
      if (t === undefined) {
        if (close === null) return;
        fail(`unexpected end of input, expected "${close}"`);
      }
      if (close !== null && t!.kind === 'punct' && t!.text === close) { k++; return; }
      let name: string;
      const nameTok = t!;
      if (nameTok.kind === 'ident') {
        name = nameTok.text;
        k++;
      } else if (nameTok.kind === 'punct' && nameTok.text === '[') {
        k++;
        const from = k;
        while (peek() && !(peek()!.kind === 'punct' && peek()!.text === ']')) k++;
        if (!peek()) fail('unterminated [...] name');
        name = `[${tokens.slice(from, k).map((x) => x.text).join('')}]`;
        k++;
      } else {
        return fail(`expected a field name, got "${nameTok.text}"`);
      }
      const occurrence = (): string => {
        const i = counts.get(name) ?? 0;
        counts.set(name, i + 1);
        totals.set(`${prefix ? `/${prefix}` : ''}/${name}`, i + 1);
        return `${prefix}${prefix ? '/' : ''}${name}#${i}`;
      };
      const colon = peek()?.kind === 'punct' && peek()!.text === ':';
      if (colon) k++;
      const v = peek();
      if (v === undefined) fail(`expected a value for field "${name}"`);
      if (v!.kind === 'punct' && (v!.text === '{' || v!.text === '<')) {
        const key = occurrence();
        byKey.set(key, nameTok.start);
        k++;
        body(key, v!.text === '{' ? '}' : '>');
      } else if (v!.kind === 'punct' && v!.text === '[') {
        k++;
        const before = counts.get(name) ?? 0;
        let first = true;
        for (;;) {
          const e = peek();
          if (e === undefined) fail('unexpected end of input in list');
          if (e!.kind === 'punct' && e!.text === ']') { k++; break; }
          if (!first) {
            if (!(e!.kind === 'punct' && e!.text === ',')) fail(`expected "," or "]" in list, got "${e!.text}"`);
            k++;
          }
          first = false;
          const el = peek();
          if (el === undefined) fail('unexpected end of input in list');
          const key = occurrence();
          byKey.set(key, el!.start);
          if (el!.kind === 'punct' && (el!.text === '{' || el!.text === '<')) {
            k++;
            body(key, el!.text === '{' ? '}' : '>');
          } else {
            scalar();
          }
        }
        // An empty list still marks the field as written (at its name).
        const emptyKey = `${prefix}${prefix ? '/' : ''}${name}#${before}`;
        if ((counts.get(name) ?? 0) === before && !byKey.has(emptyKey)) byKey.set(emptyKey, nameTok.start);
      } else {
        if (!colon) fail(`expected ":" after field "${name}"`);
        const key = occurrence();
        byKey.set(key, nameTok.start);
        scalar();
      }
      const sep = peek();
      if (sep && sep.kind === 'punct' && (sep.text === ',' || sep.text === ';')) k++;
    }
  };

  const scalar = (): void => {
    let t = peek();
    if (t && t.kind === 'punct' && t.text === '-') { k++; t = peek(); }
    if (t === undefined || t.kind === 'punct') fail(`expected a value, got ${t ? `"${t.text}"` : 'end of input'}`);
    k++;
    if (t!.kind === 'string') while (peek()?.kind === 'string') k++;
  };

  body('', null);
  return new FieldPositions(byKey, new LineIndex(text), totals);
}

/**
 * Where `parse(text)` fails: the start of the last token of the shortest prefix of the text (cut at a
 * token boundary) for which `parse` throws the same message. Undefined when `parse(text)` succeeds.
 */
export function locateError(text: string, parse: (text: string) => void): { message: string; position?: TextPosition } | undefined {
  const messageOf = (t: string): string | null => {
    try {
      parse(t);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const message = messageOf(text);
  if (message === null) return undefined;
  const lines = new LineIndex(text);
  const { tokens, stop } = tokenize(text);
  if (/end of input|unterminated/.test(message)) {
    // The parser ran off the end: the error is at the end of the text (or where a string never closes).
    return { message, position: lines.at(stop ?? (tokens.length ? tokens[tokens.length - 1].start : 0)) };
  }
  let lo = 0, hi = tokens.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (messageOf(text.slice(0, tokens[mid].end)) === message) { found = mid; hi = mid - 1; } else lo = mid + 1;
  }
  if (found >= 0) return { message, position: lines.at(tokens[found].start) };
  if (stop !== null) return { message, position: lines.at(stop) };
  return { message };
}
