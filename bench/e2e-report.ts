/** Medians over repeats, ours/peer ratios, and the text table of the end-to-end benchmark. */
import type { Sample } from './e2e-runs.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface Row extends Sample {
  repeats: number;
  /** min and max over repeats of the AUCs and the headline rate, when repeated. */
  spread?: Record<string, [number, number]>;
}

const NUMERIC = ['rows', 'wall_s', 'wall_samples_per_s', 'own_s', 'own_samples_per_s', 'peak_rss_mb', 'cpu_s', 'load1', 'run_s', 'load_s', 'ctr_auc', 'cvr_auc', 'ctcvr_auc'] as const;
const SPREAD = ['wall_samples_per_s', 'own_samples_per_s', 'ctr_auc', 'cvr_auc', 'ctcvr_auc'] as const;

/** One row per (phase, who, backend, threads): each number the median of its repeats (nulls ignored). */
export function medians(samples: Sample[]): Row[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.phase}|${s.who}|${s.backend}|${s.threads}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const row: Row = { ...g[0], repeats: g.length };
    const out = row as unknown as Record<string, number | null | undefined>;
    for (const k of NUMERIC) {
      if (!(k in g[0])) continue;
      const xs = g.map((s) => s[k]).filter((x): x is number => typeof x === 'number');
      out[k] = xs.length ? median(xs) : null;
    }
    if (g.length > 1) {
      row.spread = {};
      for (const k of SPREAD) {
        const xs = g.map((s) => s[k]).filter((x): x is number => typeof x === 'number');
        if (xs.length) row.spread[k] = [Math.min(...xs), Math.max(...xs)];
      }
    }
    return row;
  });
}

export interface Ratio {
  phase: Sample['phase'];
  ours: string;
  peer: string;
  /** ours/peer samples/s by each side's own loop timing. */
  own: number | null;
  /** ours/peer samples/s by whole-process wall time (train only). */
  wall: number | null;
  /** ours/peer peak RSS. */
  rss: number | null;
  /** ours/peer samples per CPU-second of the whole processes (efficiency, not speed). */
  cpu?: number | null;
  /** For predict: the peer's time is an upper bound, so the ratio is one too. */
  upper_bound?: boolean;
}

const div = (a: number | null | undefined, b: number | null | undefined) => (a && b ? Math.round((100 * a) / b) / 100 : null);
export const label = (r: Sample) => `${r.backend} ×${r.threads}`;

/** Every ours row against every peer row of the same phase. */
export function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  for (const o of rows.filter((r) => r.who === 'ours')) {
    for (const p of rows.filter((r) => r.who === 'peer' && r.phase === o.phase)) {
      if (o.phase === 'train') {
        out.push({ phase: 'train', ours: label(o), peer: label(p), own: div(o.own_samples_per_s, p.own_samples_per_s), wall: div(o.wall_samples_per_s, p.wall_samples_per_s), rss: div(o.peak_rss_mb, p.peak_rss_mb), cpu: div(p.cpu_s, o.cpu_s) });
      } else {
        // our predict process (whole wall) against the peer's post-training scoring (bounded)
        out.push({ phase: 'predict', ours: label(o), peer: label(p), own: div(o.own_samples_per_s ?? o.wall_samples_per_s, p.own_samples_per_s), wall: null, rss: null, upper_bound: true });
      }
    }
  }
  return out;
}

const f = (x: number | null | undefined, digits = 1) => (typeof x === 'number' ? x.toFixed(digits) : '–');
const k = (x: number | null | undefined) => (typeof x === 'number' ? String(Math.round(x)) : '–');
const x = (r: number | null) => (r === null ? '–' : `${r.toFixed(2)}×`);

export function table(rows: Row[], rs: Ratio[]): string {
  const head = ['phase', 'who', 'backend', 'threads', 'rows', 'wall s', 'samples/s wall', 'own s', 'samples/s own', 'peak RSS MB', 'cpu s', 'load', 'AUC ctr / cvr / ctcvr'];
  const body = rows.map((r) => [
    r.phase, r.who, r.backend, String(r.threads), String(r.rows), f(r.wall_s), k(r.wall_samples_per_s),
    (r.bound ? '≤' : '') + f(r.own_s), (r.bound ? '≥' : '') + k(r.own_samples_per_s), k(r.peak_rss_mb), f(r.cpu_s), f(r.load1),
    r.phase === 'train' ? `${f(r.ctr_auc, 4)} / ${f(r.cvr_auc, 4)} / ${f(r.ctcvr_auc, 4)}` : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const lines = [line(head), ...body.map(line)];
  for (const r of rs) {
    lines.push(r.phase === 'train'
      ? `ours/peer train   ${r.ours} vs ${r.peer}: ${x(r.own)} samples/s (own loops), ${x(r.wall)} (whole processes), ${x(r.cpu ?? null)} per CPU-second, peak RSS ${x(r.rss)}`
      : `ours/peer predict ${r.ours} vs ${r.peer}: ≤ ${x(r.own)} samples/s (our predict process vs the peer's in-process scoring bound)`);
  }
  return `${lines.join('\n')}\n`;
}
