/**
 * One measurement each: our `esmm train` and `esmm predict` and the PyTorch peer, every one a child
 * process timed from outside (wall, peak RSS) and also by its own report where it gives one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { lastJsonLine, measure } from './e2e-measure.js';
import { peerArgs, type Settings } from './e2e-settings.js';

export const BIN = join(packageRoot(), 'bin', 'esmm.js');
export const PEER_SCRIPT = join(packageRoot(), '..', 'shared', 'bench', 'torch_esmm.py');
export const PYTHON = '/usr/bin/python3';

/** One measured run. `own_*` is the tool's own timing of its loop (see docs/benchmarks.md for what each covers). */
export interface Sample {
  phase: 'train' | 'predict';
  who: 'ours' | 'peer';
  backend: string;
  threads: number;
  rows: number;
  /** Null for the peer's prediction, which has no process of its own. */
  wall_s: number | null;
  wall_samples_per_s: number | null;
  own_s: number | null;
  own_samples_per_s: number | null;
  peak_rss_mb: number | null;
  /** User + system CPU seconds of the whole process. */
  cpu_s: number | null;
  /** 1-minute load average just before the run. */
  load1: number | null;
  /** ours: the whole train() call (vocabulary pass, epoch, eval, save); peer: reading and encoding the CSVs. */
  run_s?: number | null;
  load_s?: number | null;
  ctr_auc?: number | null;
  cvr_auc?: number | null;
  ctcvr_auc?: number | null;
  /** Set when the number is an estimate bounded from one side (the peer's prediction time). */
  bound?: 'upper-time';
}

/** What one `esmm` command accepts, read from its --help. */
export interface CliSupport {
  threads: boolean;
  json: boolean;
  backends: Set<string>;
}

export function cliSupport(command: 'train' | 'predict'): CliSupport {
  const help = spawnSync(process.execPath, [BIN, command, '--help'], { encoding: 'utf8' }).stdout;
  // the --backend option's description, up to the next option
  const backendText = /--backend[\s\S]*?(?=\n\s+-)/.exec(help)?.[0] ?? '';
  return {
    threads: /--threads\b/.test(help),
    json: /--json\b/.test(help),
    backends: new Set(backendText.match(/\b(auto|wasm|native|reference)\b/g) ?? []),
  };
}

export class RunError extends Error {}

function check(what: string, r: { status: number | null; stderr: string }): void {
  if (r.status !== 0) throw new RunError(`${what} exited with ${r.status}: ${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const rate = (rows: number, s: number | null) => (s && s > 0 ? Math.round(rows / s) : null);

export interface OurRun {
  backend: string;
  threads: number;
  /** Pass --threads (only when the CLI has it). */
  threadsFlag: boolean;
}

export async function ourTrain(run: OurRun, config: string, train: string, evalFile: string, outDir: string, seed: number): Promise<Sample> {
  const args = [BIN, 'train', '--config', config, '--train', train, '--eval', evalFile, '--out', outDir,
    '--backend', run.backend, '--seed', String(seed), '--progress', 'quiet', '--json', ...(run.threadsFlag ? ['--threads', String(run.threads)] : [])];
  const m = await measure(process.execPath, args, true);
  check('esmm train', m);
  const j = lastJsonLine(m.stdout);
  const metrics = (j.metrics ?? {}) as Record<string, unknown>;
  const rows = num((j.train as Record<string, unknown> | undefined)?.rowsUsed) ?? 0;
  const ownRate = num(j.samples_per_s);
  return {
    phase: 'train', who: 'ours', backend: String(j.backend ?? run.backend), threads: run.threads, rows,
    wall_s: m.wallSeconds, wall_samples_per_s: Math.round(rows / m.wallSeconds), cpu_s: m.cpuSeconds, load1: m.load1,
    own_s: ownRate ? rows / ownRate : null, own_samples_per_s: ownRate,
    peak_rss_mb: m.peakRssMb ?? num(j.peak_rss_mb), run_s: num(j.seconds),
    ctr_auc: num(metrics.ctr_auc), cvr_auc: num(metrics.cvr_auc), ctcvr_auc: num(metrics.ctcvr_auc),
  };
}

export async function ourPredict(run: OurRun, json: boolean, modelDir: string, data: string, out: string, rows: number): Promise<Sample> {
  const args = [BIN, 'predict', '--model', modelDir, '--data', data, '--out', out, '--backend', run.backend,
    ...(run.threadsFlag ? ['--threads', String(run.threads)] : []), ...(json ? ['--json'] : [])];
  const m = await measure(process.execPath, args, true);
  check('esmm predict', m);
  // forward-compatible: if predict ever reports its own timing as JSON, quote it too
  let own: number | null = null, backend = run.backend;
  if (json) {
    try {
      const j = lastJsonLine(m.stdout);
      own = num(j.seconds);
      if (typeof j.backend === 'string') backend = j.backend;
    } catch { /* no JSON line */ }
  }
  return {
    phase: 'predict', who: 'ours', backend, threads: run.threads, rows,
    wall_s: m.wallSeconds, wall_samples_per_s: Math.round(rows / m.wallSeconds), cpu_s: m.cpuSeconds, load1: m.load1,
    own_s: own, own_samples_per_s: rate(rows, own), peak_rss_mb: m.peakRssMb,
  };
}

/** Whether the peer can run here: the script beside the package and /usr/bin/python3 with torch; null if it can. */
export function peerMissing(): string | null {
  if (!existsSync(PEER_SCRIPT)) return `${PEER_SCRIPT} not found`;
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy, torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import torch (apt-get install -y python3-torch)`;
}

/** Wall seconds of starting python and importing numpy and torch: the fixed cost inside the peer's wall time. */
export async function peerStartup(): Promise<number> {
  const m = await measure(PYTHON, ['-c', 'import numpy, torch'], false);
  return m.wallSeconds;
}

/** Wall seconds of starting our CLI (node, and loading every module of the CLI). */
export async function ourStartup(): Promise<number> {
  const m = await measure(process.execPath, [BIN, '--version'], true);
  return m.wallSeconds;
}

/**
 * The peer trains, then scores the eval file (our predict file) and writes its predictions in the same
 * process. Its prediction time is not reported, so it is bounded: wall − startup − load − train, which
 * also holds its three exact AUCs (a Python loop) and the CSV writing.
 */
export async function peerRun(s: Settings, train: string, evalFile: string, threads: number, predictions: string, startup: number): Promise<Sample[]> {
  const m = await measure(PYTHON, [PEER_SCRIPT, ...peerArgs(s, train, evalFile, threads, predictions)], false);
  check('torch_esmm.py', m);
  const j = lastJsonLine(m.stdout);
  const rows = num(j.train_rows) ?? 0, evalRows = num(j.eval_rows) ?? 0;
  const load = num(j.load_seconds), trainS = num(j.train_seconds);
  const backend = `torch ${String(j.torch)}`, peak = m.peakRssMb ?? num(j.peak_rss_mb);
  const after = load !== null && trainS !== null ? Math.max(0, m.wallSeconds - startup - load - trainS) : null;
  return [
    {
      phase: 'train', who: 'peer', backend, threads, rows, wall_s: m.wallSeconds, wall_samples_per_s: Math.round(rows / m.wallSeconds),
      cpu_s: m.cpuSeconds, load1: m.load1, own_s: trainS, own_samples_per_s: num(j.samples_per_s), peak_rss_mb: peak, load_s: load,
      ctr_auc: num(j.ctr_auc), cvr_auc: num(j.cvr_auc), ctcvr_auc: num(j.ctcvr_auc),
    },
    {
      phase: 'predict', who: 'peer', backend, threads, rows: evalRows, wall_s: null, wall_samples_per_s: null, cpu_s: null, load1: null,
      own_s: after, own_samples_per_s: rate(evalRows, after), peak_rss_mb: peak, bound: 'upper-time',
    },
  ];
}
