/**
 * Crash-safe writes: a reader (or a restart after a crash or power loss) sees either the complete old
 * content or the complete new one, never a mix or a truncated file.
 *
 * Files: write a temporary sibling, fsync it, rename it over the target (rename is atomic within one
 * file system), fsync the directory so the rename itself is durable.
 *
 * Directories cannot be swapped by one rename, so writeDirAtomic uses two, with a recoverable gap:
 *   1. stage   DIR.tmp-<pid>-<rand>/ with every file, fsynced
 *   2. retire  DIR → DIR.old-<pid>-<rand>     (only when DIR exists)
 *   3. install DIR.tmp-… → DIR
 *   4. remove  DIR.old-…
 * A crash before 2 leaves DIR untouched; between 2 and 3 only DIR.old-… holds a complete copy, which
 * resolveDir finds and moves back; after 3 DIR is the new content. Leftover temporaries of dead processes
 * are removed by the next write. One writer per target at a time is assumed.
 *
 * All functions are synchronous: simple to reason about for crash ordering, and checkpoints are written
 * between training steps anyway.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EsmmError } from '../errors.js';

/** Content to write: text (UTF-8), bytes, or a list of byte chunks written back to back (no concatenation). */
export type FileContent = string | Uint8Array | readonly Uint8Array[];

/** Steps of writeDirAtomic, reported to `onStep` after each has completed durably. */
export type DirWriteStep = 'staged-file' | 'staged' | 'old-retired' | 'installed' | 'done';

export interface WriteDirOptions {
  /** Called after each step (once per file for 'staged-file'); tests use it to simulate a crash there. */
  onStep?: (step: DirWriteStep) => void;
}

const TEMP_MARK = '.tmp-';
const OLD_MARK = '.old-';
// Larger single writes are not accepted by fs.writeSync (it takes at most 2^31 − 1 bytes).
const MAX_WRITE = 1 << 30;

/** Writes `data` to `filePath` atomically and durably (see the module comment). */
export function writeFileAtomic(filePath: string, data: FileContent): void {
  const parent = path.dirname(path.resolve(filePath));
  fs.mkdirSync(parent, { recursive: true });
  removeStaleSiblings(filePath);
  const temp = uniqueSibling(filePath, TEMP_MARK);
  try {
    writeFileDurable(temp, data);
    fs.renameSync(temp, filePath);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw wrapIoError(e, `cannot write ${filePath}`);
  }
  fsyncDir(parent);
}

/**
 * A file written piece by piece and installed atomically: appends go to a temporary sibling; commit()
 * fsyncs and renames it over the target; abort() (or any failure) removes it, leaving the target as it was.
 */
export class AtomicFileWriter {
  private readonly temp: string;
  private fd: number;

  constructor(readonly filePath: string) {
    fs.mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    removeStaleSiblings(filePath);
    this.temp = uniqueSibling(filePath, TEMP_MARK);
    try {
      this.fd = fs.openSync(this.temp, 'w');
    } catch (e) {
      throw wrapIoError(e, `cannot write ${filePath}`);
    }
  }

  write(data: string | Uint8Array): void {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let at = 0; at < bytes.length;) at += fs.writeSync(this.fd, bytes, at, Math.min(MAX_WRITE, bytes.length - at));
    } catch (e) {
      this.abort();
      throw wrapIoError(e, `cannot write ${this.filePath}`);
    }
  }

  commit(): void {
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
      fs.renameSync(this.temp, this.filePath);
    } catch (e) {
      this.abort();
      throw wrapIoError(e, `cannot write ${this.filePath}`);
    }
    fsyncDir(path.dirname(path.resolve(this.filePath)));
  }

  abort(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = -1;
    }
    fs.rmSync(this.temp, { force: true });
  }
}

/**
 * A fresh temporary sibling path of `filePath` (nothing is created), for a file another writer (e.g.
 * DuckDB) produces before installFile puts it in place. Leftovers of dead processes are removed first,
 * as by every writer here.
 */
export function tempSibling(filePath: string): string {
  fs.mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
  removeStaleSiblings(filePath);
  return uniqueSibling(filePath, TEMP_MARK);
}

/** Makes the complete file `temp` durable and renames it over `filePath` (see the module comment). */
export function installFile(temp: string, filePath: string): void {
  try {
    const fd = fs.openSync(temp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, filePath);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw wrapIoError(e, `cannot write ${filePath}`);
  }
  fsyncDir(path.dirname(path.resolve(filePath)));
}

/**
 * Replaces the whole content of directory `dir` with `files` (plain file names → content) so that a crash
 * at any point leaves either the complete old directory or the complete new one (see the module comment).
 * Files of the old directory that are not in `files` are gone afterwards.
 */
export function writeDirAtomic(dir: string, files: Record<string, FileContent>, options: WriteDirOptions = {}): void {
  const onStep = options.onStep ?? (() => {});
  for (const name of Object.keys(files)) checkPlainFileName(name, dir);
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const existing = statOrNull(target);
  if (existing !== null && !existing.isDirectory()) throw new EsmmError(`cannot replace ${dir}: it exists and is not a directory`);
  removeStaleSiblings(target);

  const staging = uniqueSibling(target, TEMP_MARK);
  let retired: string | null = null;
  try {
    fs.mkdirSync(staging);
    for (const [name, content] of Object.entries(files)) {
      writeFileDurable(path.join(staging, name), content);
      onStep('staged-file');
    }
    fsyncDir(staging);
    onStep('staged');
    if (existing !== null) {
      retired = uniqueSibling(target, OLD_MARK);
      fs.renameSync(target, retired);
      fsyncDir(parent);
      onStep('old-retired');
    }
    fs.renameSync(staging, target);
    fsyncDir(parent);
    onStep('installed');
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (retired !== null && statOrNull(target) === null) fs.renameSync(retired, target); // put the old one back
    throw wrapIoError(e, `cannot write directory ${dir}`);
  }
  if (retired !== null) fs.rmSync(retired, { recursive: true, force: true });
  onStep('done');
}

/**
 * The directory to read `dir`'s content from. Normally `dir` itself. When a writer crashed between
 * retiring the old copy and installing the new one, only DIR.old-… exists: it is moved back to `dir`
 * (so later readers and writers see a normal state) and `dir` is returned; if that move is impossible
 * (e.g. read-only parent) the path of the old copy is returned. Null when there is no content at all.
 */
export function resolveDir(dir: string): string | null {
  const target = path.resolve(dir);
  if (statOrNull(target)?.isDirectory()) return dir;
  const retired = newestSibling(target, OLD_MARK);
  if (retired === null) return null;
  try {
    fs.renameSync(retired, target);
    fsyncDir(path.dirname(target));
    return dir;
  } catch {
    // A writer may have installed a new copy meanwhile; otherwise read the old copy where it is.
    return statOrNull(target)?.isDirectory() ? dir : retired;
  }
}

/** SHA-256 of the content, lowercase hex. */
export function sha256(data: FileContent): string {
  const hash = createHash('sha256');
  for (const chunk of asChunks(data)) hash.update(chunk);
  return hash.digest('hex');
}

/** SHA-256 of a file, lowercase hex, read in 8 MiB pieces (memory stays flat for large files). */
export function sha256File(filePath: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(8 << 20);
  const fd = fs.openSync(filePath, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

// ---- helpers ----------------------------------------------------------------------------------------

function asChunks(data: FileContent): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return data;
}

/** Creates `filePath` (it must not exist), writes all of `data` and fsyncs it. */
function writeFileDurable(filePath: string, data: FileContent): void {
  const fd = fs.openSync(filePath, 'wx');
  try {
    for (const chunk of asChunks(data)) {
      for (let done = 0; done < chunk.byteLength; ) {
        done += fs.writeSync(fd, chunk, done, Math.min(chunk.byteLength - done, MAX_WRITE));
      }
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a directory's entries (creations, renames) durable. Windows cannot open directories: skipped. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function uniqueSibling(target: string, mark: string): string {
  return `${target}${mark}${process.pid}-${randomBytes(4).toString('hex')}`;
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Names in `target`'s directory of the form <base><mark><pid>-<rand>, with the pid parsed. */
function siblings(target: string, mark: string): { fullPath: string; pid: number }[] {
  const parent = path.dirname(path.resolve(target));
  const prefix = path.basename(target) + mark;
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const found: { fullPath: string; pid: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (match) found.push({ fullPath: path.join(parent, name), pid: Number(match[1]) });
  }
  return found;
}

function newestSibling(target: string, mark: string): string | null {
  let best: string | null = null, bestTime = -Infinity;
  for (const { fullPath } of siblings(target, mark)) {
    const stats = statOrNull(fullPath);
    if (stats?.isDirectory() && stats.mtimeMs > bestTime) { best = fullPath; bestTime = stats.mtimeMs; }
  }
  return best;
}

/**
 * Removes what crashed writers left behind: temporaries whose process is gone, and retired copies once
 * the target exists again (a retired copy is the only complete one while the target is missing).
 */
function removeStaleSiblings(target: string): void {
  for (const { fullPath, pid } of siblings(target, TEMP_MARK)) {
    if (pid !== process.pid && !isProcessAlive(pid)) fs.rmSync(fullPath, { recursive: true, force: true });
  }
  if (statOrNull(target) !== null) {
    for (const { fullPath } of siblings(target, OLD_MARK)) fs.rmSync(fullPath, { recursive: true, force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function checkPlainFileName(name: string, dir: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new EsmmError(`cannot write directory ${dir}: "${name}" is not a plain file name`);
  }
}

function wrapIoError(e: unknown, what: string): Error {
  if (e instanceof EsmmError) return e;
  const err = e as NodeJS.ErrnoException;
  return err && typeof err.code === 'string' ? new EsmmError(`${what}: ${err.message}`) : (e as Error);
}
