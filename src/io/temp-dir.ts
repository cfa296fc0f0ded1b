/**
 * Scratch directories that do not outlive their use: removed by their owner on success or error, at
 * process exit, and on SIGINT / SIGTERM / SIGHUP. A signal handler only cleans up: when no one else
 * listens for the signal it then re-raises it, so the default (terminate) still happens; when the
 * program has its own handler, that handler decides and the exit hook cleans up later. Directories left
 * by a killed process (SIGKILL, power loss) are named after its pid and removed by the next process
 * that creates one in the same parent.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EsmmError } from '../errors.js';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it (idempotent). */
  remove(): void;
}

const live = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooked = false;

/** Creates `<parent>/<prefix><pid>-<random>/`. */
export function createTempDir(parent: string, prefix: string): TempDir {
  removeStale(parent, prefix);
  const path = join(parent, `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw new EsmmError(`cannot create a temporary directory in ${parent}: ${(e as Error).message}`);
  }
  live.add(path);
  hook();
  return {
    path,
    remove: () => {
      if (!live.delete(path)) return;
      rmSync(path, { recursive: true, force: true });
      if (live.size === 0) unhook();
    },
  };
}

function removeAll(): void {
  for (const path of live) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the program handles it; the exit hook cleans up
  removeAll();
  unhook();
  process.kill(process.pid, signal); // no listener left: the default action (terminate) happens
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('exit', removeAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Removes `<prefix><pid>-*` directories in `parent` whose process is gone. */
function removeStale(parent: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !isAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
