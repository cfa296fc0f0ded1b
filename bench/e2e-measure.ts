/**
 * Runs one command as a child process and measures it from outside: wall time of the whole process and
 * its peak RSS and CPU time (GNU time's %M %U %S; for node children without it, the rss-probe module;
 * otherwise unknown). CPU time is the number to watch on a machine that other processes share.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
const PROBE = new URL('./rss-probe.js', import.meta.url);

export interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole child process, start to exit. */
  wallSeconds: number;
  /** Peak resident set size of the child, MB; null when it could not be measured. */
  peakRssMb: number | null;
  /** How peak RSS was measured. */
  rssSource: 'gnu-time' | 'probe' | 'none';
  /** User + system CPU seconds of the child; null when unknown. */
  cpuSeconds: number | null;
  /** The 1-minute load average just before the run (other processes on the machine slow it). */
  load1: number;
}

/** ESMM_BENCH_NO_GNU_TIME=1 forces the fallback (to test it). */
export const hasGnuTime = (): boolean => !process.env.ESMM_BENCH_NO_GNU_TIME && existsSync(GNU_TIME);

/** `node` children (isNode) can fall back to the probe; others only have GNU time. */
export async function measure(cmd: string, args: string[], isNode: boolean): Promise<Measured> {
  const scratch = mkdtempSync(join(tmpdir(), 'esmm-measure-'));
  const rssFile = join(scratch, 'rss');
  const useTime = hasGnuTime();
  const useProbe = !useTime && isNode;
  const argv = useTime ? ['-f', '%M %U %S', '-o', rssFile, cmd, ...args] : useProbe ? ['--import', PROBE.href, ...args] : args;
  const load1 = loadavg()[0];
  const t0 = performance.now();
  const { status, stdout, stderr } = await run(useTime ? GNU_TIME : cmd, argv, useProbe ? { ...process.env, ESMM_BENCH_RSS_FILE: rssFile } : process.env);
  const wallSeconds = (performance.now() - t0) / 1000;
  let peakRssMb: number | null = null, cpuSeconds: number | null = null;
  if (existsSync(rssFile)) {
    // GNU time writes a "Command exited with non-zero status" line first when the child fails
    const [kb, user, sys] = readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    if (Number.isFinite(kb) && kb > 0) peakRssMb = Math.round(kb / 1024);
    if (Number.isFinite(user) && Number.isFinite(sys)) cpuSeconds = user + sys;
  }
  rmSync(scratch, { recursive: true, force: true });
  return { status, stdout, stderr, wallSeconds, peakRssMb, rssSource: peakRssMb === null ? 'none' : useTime ? 'gnu-time' : 'probe', cpuSeconds, load1 };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The last line of a child's stdout, parsed as JSON (both trainers end with one JSON line). */
export function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}
