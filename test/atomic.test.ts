import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveDir, sha256, sha256File, writeDirAtomic, writeFileAtomic, type DirWriteStep } from '../src/io/atomic.js';
import { EsmmError } from '../src/errors.js';

function withTempDir(body: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esmm-atomic-'));
  try {
    body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Directory content as name → text. */
function readTree(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((name) => [name, fs.readFileSync(path.join(dir, name), 'utf8')]));
}

test('sha256 of text, bytes and chunk lists; sha256File agrees', () => {
  const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  assert.equal(sha256('abc'), abc);
  assert.equal(sha256(Buffer.from('abc')), abc);
  assert.equal(sha256([Buffer.from('a'), new Uint8Array([0x62]), Buffer.from('c')]), abc);
  assert.equal(sha256(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  withTempDir((dir) => {
    const file = path.join(dir, 'big.bin');
    const big = Buffer.alloc(20 << 20, 7); // spans several read pieces
    fs.writeFileSync(file, big);
    assert.equal(sha256File(file), sha256(big));
  });
});

test('writeFileAtomic writes, replaces, streams chunks and leaves no temporaries', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'sub', 'out.txt'); // the parent is created
    writeFileAtomic(file, 'first');
    assert.equal(fs.readFileSync(file, 'utf8'), 'first');
    writeFileAtomic(file, Buffer.from('second'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'second');
    const f32 = new Float32Array([1, 2, 3]);
    writeFileAtomic(file, [Buffer.from('x'), new Uint8Array(f32.buffer), new Uint8Array(0)]);
    assert.deepEqual(fs.readFileSync(file), Buffer.concat([Buffer.from('x'), Buffer.from(f32.buffer)]));
    assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')), ['out.txt']);
  });
});

test('writeFileAtomic removes temporaries of dead writers, keeps those of live ones, and reports errors', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'out.txt');
    const dead = `${file}.tmp-999999999-deadbeef`; // no such pid
    const live = `${file}.tmp-${process.ppid}-0badf00d`; // the test runner: alive
    fs.writeFileSync(dead, 'partial');
    fs.writeFileSync(live, 'in progress');
    writeFileAtomic(file, 'x');
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(live), 'out.txt'].sort());

    fs.mkdirSync(path.join(dir, 'a-directory'));
    assert.throws(() => writeFileAtomic(path.join(dir, 'a-directory'), 'x'), EsmmError);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a-directory', path.basename(live), 'out.txt'].sort(), 'temp removed after failure');
  });
});

test('writeDirAtomic creates and replaces a directory as a whole', () => {
  withTempDir((root) => {
    const dir = path.join(root, 'ckpt');
    const steps: DirWriteStep[] = [];
    writeDirAtomic(dir, { 'a.txt': 'A1', 'b.bin': Buffer.from('B1') }, { onStep: (s) => steps.push(s) });
    assert.deepEqual(readTree(dir), { 'a.txt': 'A1', 'b.bin': 'B1' });
    assert.deepEqual(steps, ['staged-file', 'staged-file', 'staged', 'installed', 'done']);

    steps.length = 0;
    writeDirAtomic(dir, { 'a.txt': 'A2', 'c.txt': [Buffer.from('C'), Buffer.from('2')] }, { onStep: (s) => steps.push(s) });
    assert.deepEqual(readTree(dir), { 'a.txt': 'A2', 'c.txt': 'C2' }, 'b.bin is gone');
    assert.deepEqual(steps, ['staged-file', 'staged-file', 'staged', 'old-retired', 'installed', 'done']);
    assert.deepEqual(fs.readdirSync(root), ['ckpt'], 'no temporaries or retired copies left');

    writeDirAtomic(dir, {});
    assert.deepEqual(readTree(dir), {});
    assert.equal(resolveDir(dir), dir);
  });
});

test('writeDirAtomic rejects bad names and non-directories, and keeps the old content on failure', () => {
  withTempDir((root) => {
    const dir = path.join(root, 'ckpt');
    writeDirAtomic(dir, { 'a.txt': 'old' });
    for (const bad of ['', '.', '..', 'x/y', 'x\\y', 'nul\0']) {
      assert.throws(() => writeDirAtomic(dir, { [bad]: 'x' }), /not a plain file name/);
    }
    const file = path.join(root, 'plain-file');
    fs.writeFileSync(file, 'x');
    assert.throws(() => writeDirAtomic(file, { 'a.txt': 'x' }), /not a directory/);

    // A failure while staging (the hook throws like a full disk would) leaves the old directory intact.
    assert.throws(() => writeDirAtomic(dir, { 'a.txt': 'new', 'b.txt': 'new' }, {
      onStep: (s) => { if (s === 'staged-file') throw new Error('disk full'); },
    }), /disk full/);
    // A failure right after the old copy was retired puts it back.
    assert.throws(() => writeDirAtomic(dir, { 'a.txt': 'new' }, {
      onStep: (s) => { if (s === 'old-retired') throw new Error('interrupted'); },
    }), /interrupted/);
    assert.deepEqual(readTree(dir), { 'a.txt': 'old' });
    assert.deepEqual(fs.readdirSync(root).sort(), ['ckpt', 'plain-file']);
  });
});

test('resolveDir: the directory itself, a retired copy moved back, or null', () => {
  withTempDir((root) => {
    const dir = path.join(root, 'ckpt');
    assert.equal(resolveDir(dir), null);
    fs.mkdirSync(`${dir}.tmp-999999999-aaaa`); // an incomplete staging dir is never used
    assert.equal(resolveDir(dir), null);
    const retired = `${dir}.old-123-abcd`;
    fs.mkdirSync(retired);
    fs.writeFileSync(path.join(retired, 'a.txt'), 'old');
    assert.equal(resolveDir(dir), dir);
    assert.deepEqual(readTree(dir), { 'a.txt': 'old' });
    assert.equal(fs.existsSync(retired), false);
  });
});

// ---- real crashes: a child process SIGKILLs itself in the middle of writeDirAtomic -------------------

const atomicModuleUrl = new URL('../src/io/atomic.js', import.meta.url).href;

/** Runs writeDirAtomic(dir, files) in a child process that is killed right after `step` (its nth time). */
function crashDuringWrite(dir: string, files: Record<string, string>, step: DirWriteStep, nth = 1): void {
  const script = `
    const { writeDirAtomic } = await import(${JSON.stringify(atomicModuleUrl)});
    let seen = 0;
    writeDirAtomic(${JSON.stringify(dir)}, ${JSON.stringify(files)}, {
      onStep: (s) => { if (s === ${JSON.stringify(step)} && ++seen === ${nth}) process.kill(process.pid, 'SIGKILL'); },
    });
    process.exit(3); // must not get here
  `;
  // execArgv carries the TypeScript loader (e.g. --import tsx) when the tests run from sources.
  const child = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `child did not crash as planned: status ${child.status}, ${child.stderr}`);
}

test('a crash at any step leaves the complete old or the complete new directory', () => {
  const oldFiles = { 'weights.bin': 'old weights', 'state.json': '{"step":1}', 'extra.txt': 'only in old' };
  const newFiles = { 'weights.bin': 'new weights', 'state.json': '{"step":2}' };
  const crashes: [DirWriteStep, number, 'old' | 'new'][] = [
    ['staged-file', 1, 'old'],
    ['staged-file', 2, 'old'],
    ['staged', 1, 'old'],
    ['old-retired', 1, 'old'], // only DIR.old-… exists now
    ['installed', 1, 'new'],
    ['done', 1, 'new'],
  ];
  withTempDir((root) => {
    for (const [step, nth, expected] of crashes) {
      const dir = path.join(root, `ckpt-${step}-${nth}`);
      writeDirAtomic(dir, oldFiles);
      crashDuringWrite(dir, newFiles, step, nth);
      const readFrom = resolveDir(dir);
      assert.equal(readFrom, dir, `after a crash at ${step}`);
      assert.deepEqual(readTree(dir), expected === 'old' ? oldFiles : newFiles, `after a crash at ${step} #${nth}`);

      // The next write succeeds and clears what the crashed writer left behind.
      writeDirAtomic(dir, { 'weights.bin': 'third' });
      assert.deepEqual(readTree(dir), { 'weights.bin': 'third' });
      assert.deepEqual(fs.readdirSync(root).filter((n) => n.startsWith(path.basename(dir))), [path.basename(dir)], `leftovers after ${step}`);
    }
    // A crash while creating a directory for the first time leaves nothing that looks like content.
    const fresh = path.join(root, 'fresh');
    crashDuringWrite(fresh, newFiles, 'staged');
    assert.equal(resolveDir(fresh), null);
  });
});
