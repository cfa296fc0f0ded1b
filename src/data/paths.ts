/** Data paths as users give them: files or glob patterns (`data/part-*.csv`), several per split. */
import { globSync } from 'tinyglobby';
import { EsmmError } from '../errors.js';

const GLOB_CHARS = /[*?[\]{}]/;

/** Each pattern's matches in sorted order (so runs are reproducible), literal paths as they are. */
export function expandPaths(patterns: string[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (!GLOB_CHARS.test(p)) {
      out.push(p);
      continue;
    }
    const matches = globSync(p, { onlyFiles: true, expandDirectories: false }).sort();
    if (matches.length === 0) throw new EsmmError(`${p}: no file matches this pattern`);
    out.push(...matches);
  }
  return out;
}
