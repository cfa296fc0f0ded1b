#!/usr/bin/env node
/**
 * Builds build/esmm_native.node (native/esmm_native.c against OpenBLAS) with the system C compiler:
 * no node-gyp, which would download Node's headers. The N-API headers come from the node-api-headers
 * package (or Node's own include/node), cblas.h and libopenblas from Debian's libopenblas-dev.
 *
 *   node scripts/build-native.mjs [--optional]
 *
 * --optional (used by `npm run build`): when something is missing, say in one line that the native
 * backend is skipped and why, remove a stale addon, and exit 0.
 * ESMM_OPENBLAS_INCLUDE / ESMM_OPENBLAS_LIB (colon-separated directories) replace the default search
 * for cblas.h and libopenblas; CC replaces `cc`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'esmm_native.c');
const target = join(root, 'build', 'esmm_native.node');
const optional = process.argv.includes('--optional');

class Missing extends Error {}

function run(command, args) {
  return spawnSync(command, args, { encoding: 'utf8' });
}

function compiler() {
  const cc = process.env.CC || 'cc';
  const probe = run(cc, ['--version']);
  if (probe.error || probe.status !== 0) throw new Missing(`no C compiler (${cc}); apt-get install build-essential`);
  return cc;
}

function napiInclude() {
  const candidates = [];
  try {
    candidates.push(createRequire(import.meta.url)('node-api-headers').include_dir);
  } catch {
    // not installed: Node's own headers below
  }
  candidates.push(join(dirname(process.execPath), '..', 'include', 'node'));
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) throw new Missing(`node_api.h not found (looked in ${candidates.join(', ')}); npm install node-api-headers`);
  return found;
}

function searchDirs(envName, defaults) {
  const fromEnv = process.env[envName];
  return fromEnv ? fromEnv.split(':').filter(Boolean) : defaults;
}

/** Debian's multiarch triplet (x86_64-linux-gnu), where libopenblas-dev puts its files. */
function multiarch(cc) {
  const r = run(cc, ['-print-multiarch']);
  return r.status === 0 ? r.stdout.trim() : '';
}

function blasVariants(base) {
  return ['openblas-pthread', 'openblas-openmp', 'openblas-serial', 'openblas'].map((v) => join(base, v));
}

/** A directory with OpenBLAS's cblas.h (the reference BLAS has one too, without openblas_set_num_threads). */
function cblasInclude(triplet) {
  const arch = triplet ? [...blasVariants(`/usr/include/${triplet}`), `/usr/include/${triplet}`] : [];
  const dirs = searchDirs('ESMM_OPENBLAS_INCLUDE', [...arch, '/usr/include/openblas', '/usr/include', '/usr/local/include']);
  const found = dirs.find((dir) => {
    const header = join(dir, 'cblas.h');
    return existsSync(header) && readFileSync(header, 'utf8').includes('openblas_set_num_threads');
  });
  if (!found) throw new Missing(`OpenBLAS cblas.h not found (looked in ${dirs.join(', ')}); apt-get install libopenblas-dev`);
  return found;
}

function openblasLib(triplet) {
  const custom = Boolean(process.env.ESMM_OPENBLAS_LIB);
  const arch = triplet ? [`/usr/lib/${triplet}`, ...blasVariants(`/usr/lib/${triplet}`)] : [];
  const dirs = searchDirs('ESMM_OPENBLAS_LIB', [...arch, '/usr/lib64', '/usr/lib', '/usr/local/lib']);
  const found = dirs.find((dir) => existsSync(join(dir, 'libopenblas.so')));
  if (!found) throw new Missing(`libopenblas.so not found (looked in ${dirs.join(', ')}); apt-get install libopenblas-dev`);
  // A directory the user named is not on the loader's path; Debian's are (and its alternatives must stay switchable).
  return { dir: found, rpath: custom };
}

/** Loads the freshly built addon in a child process, so a broken build never replaces a working one. */
function checkLoads(file) {
  const script = `const m = require(${JSON.stringify(file)}); const i = m.info(); if (typeof i.openblasConfig !== 'string') process.exit(3);`;
  const r = run(process.execPath, ['-e', script]);
  if (r.status !== 0) throw new Error(`the built addon does not load: ${(r.stderr || r.stdout).trim()}`);
}

function build() {
  const cc = compiler();
  const triplet = multiarch(cc);
  const includes = [napiInclude(), cblasInclude(triplet)];
  const lib = openblasLib(triplet);
  mkdirSync(dirname(target), { recursive: true });
  const temporary = join(dirname(target), `esmm_native.${process.pid}.tmp.node`);
  const args = [
    '-O2', '-fPIC', '-shared', '-std=c11', '-Wall', '-Wextra', '-DNAPI_VERSION=8',
    ...includes.map((dir) => `-I${dir}`), source, '-o', temporary,
    `-L${lib.dir}`, ...(lib.rpath ? [`-Wl,-rpath,${lib.dir}`] : []), '-lopenblas',
  ];
  try {
    const r = run(cc, args);
    if (r.error || r.status !== 0) throw new Error(`${cc} ${args.join(' ')}\n${r.stderr || r.error?.message}`);
    if (r.stderr.trim()) process.stderr.write(r.stderr);
    checkLoads(temporary);
    renameSync(temporary, target);
  } finally {
    rmSync(temporary, { force: true });
  }
  console.log(`native backend built: ${target} (OpenBLAS from ${lib.dir})`);
}

try {
  build();
} catch (error) {
  if (optional) {
    rmSync(target, { force: true });
    // A missing part is expected on machines without OpenBLAS; a failing compile is worth the whole message.
    const why = error instanceof Missing ? error.message : `${error.message}\n(the native backend is optional: continuing without it)`;
    console.log(`native backend skipped: ${why}`);
  } else {
    console.error(`build:native failed: ${error.message}`);
    process.exitCode = 1;
  }
}
