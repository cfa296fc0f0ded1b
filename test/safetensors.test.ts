import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodeSafetensors, encodeSafetensors, encodeSafetensorsChunks, readSafetensorsFile, writeSafetensorsFile, type Tensor,
} from '../src/io/safetensors.js';
import { sha256 } from '../src/io/atomic.js';
import { EsmmError } from '../src/errors.js';

const SOURCE = '/models/m1/weights.safetensors';

function sampleTensors(): Record<string, Tensor> {
  const backing = new Float32Array([9, 9, 1.5, -2.25, 3e-38, Infinity, -0, 6, 9]);
  return {
    'embedding.user': { dtype: 'F32', shape: [2, 3], data: backing.subarray(2, 8) }, // a view at a byte offset
    'scalar.f64': { dtype: 'F64', shape: [], data: new Float64Array([Math.PI]) },
    'ids.i32': { dtype: 'I32', shape: [4], data: new Int32Array([0, -1, 2147483647, -2147483648]) },
    'ids.i64': { dtype: 'I64', shape: [2, 2], data: new BigInt64Array([0n, -1n, 9007199254740993n, -(2n ** 63n)]) },
    'empty': { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    'ctr.dense.0.bias': { dtype: 'F32', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
  };
}

function assertSameTensors(actual: Record<string, Tensor>, expected: Record<string, Tensor>) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, t] of Object.entries(expected)) {
    const got = actual[name];
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, [...t.shape], name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), name);
  }
}

/** Builds a file from a header (object or raw JSON text) and data bytes, the way an arbitrary writer might. */
function craft(header: object | string, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

function decodeError(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes, SOURCE);
  } catch (e) {
    assert.ok(e instanceof EsmmError, `expected an EsmmError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.includes(SOURCE), `the message names the file: ${e.message}`);
    return e.message;
  }
  assert.fail('decoding was expected to fail');
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'esmm-safetensors-'));
}

test('round trip keeps names, dtypes, shapes, values, metadata and file order', () => {
  const tensors = sampleTensors();
  const metadata = { format: 'esmm-model', step: '42', note: 'ünïcode ✓' };
  const bytes = encodeSafetensors(tensors, metadata);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0, 'header padded to a multiple of 8');
  assert.equal(bytes.subarray(8, 8 + headerLength).toString('utf8').trimEnd().endsWith('}'), true);

  const decoded = decodeSafetensors(bytes, SOURCE);
  assertSameTensors(decoded.tensors, tensors);
  assert.deepEqual(decoded.metadata, metadata);
  assert.deepEqual(Object.keys(decoded.tensors), Object.keys(tensors), 'file order = insertion order');
  assert.ok(Object.is((decoded.tensors['embedding.user'].data as Float32Array)[4], -0));
  for (const t of Object.values(decoded.tensors)) assert.equal(t.data.byteOffset, 0, 'fresh, aligned arrays');

  // Decoding from a Buffer at an odd offset inside a larger allocation works too.
  const shifted = Buffer.alloc(bytes.length + 3);
  bytes.copy(shifted, 3);
  assertSameTensors(decodeSafetensors(shifted.subarray(3), SOURCE).tensors, tensors);

  const noMetadata = decodeSafetensors(encodeSafetensors({}), SOURCE);
  assert.deepEqual(noMetadata, { tensors: {}, metadata: {} });
});

test('chunks reference tensor memory without copying; file writer streams them atomically', () => {
  const tensors = sampleTensors();
  const chunks = encodeSafetensorsChunks(tensors);
  assert.equal(chunks.length, 1 + Object.keys(tensors).length);
  assert.equal(chunks[1].buffer, tensors['embedding.user'].data.buffer);
  assert.deepEqual(Buffer.concat(chunks), encodeSafetensors(tensors));

  const dir = tempDir();
  try {
    const file = path.join(dir, 'w.safetensors');
    const hash = writeSafetensorsFile(file, tensors, { a: 'b' });
    assert.equal(hash, sha256(fs.readFileSync(file)));
    assert.deepEqual(fs.readdirSync(dir), ['w.safetensors'], 'no temporary files left');
    const read = readSafetensorsFile(file, { sha256: hash });
    assertSameTensors(read.tensors, tensors);
    assert.deepEqual(read.metadata, { a: 'b' });
    assert.throws(() => readSafetensorsFile(file, { sha256: '0'.repeat(64) }), /checksum mismatch/);
    assert.throws(() => readSafetensorsFile(path.join(dir, 'missing.safetensors')), EsmmError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the writer rejects inconsistent tensors', () => {
  const f32 = new Float32Array(6);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: f32 } }), /shape \[2, 2\] \(4 values\) but 6 values/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'I32', shape: [6], data: f32 } }), /is I32 but its data is a Float32Array/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'BF16' as 'F32', shape: [6], data: f32 } }), /unsupported dtype BF16/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [-1, -6], data: f32 } }), /invalid shape/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [6], data: f32 } }), EsmmError);
  assert.throws(() => encodeSafetensors({}, { n: 1 as unknown as string }), /must be a string/);
});

test('truncation at every cut point is a clear error', () => {
  const bytes = encodeSafetensors(sampleTensors(), { step: '1' });
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  for (let cut = 0; cut < bytes.length; cut++) {
    const message = decodeError(bytes.subarray(0, cut));
    if (cut < 8) assert.match(message, /too short/);
    else if (cut < headerEnd) assert.match(message, /header length field says/);
    else assert.match(message, /truncated|gap|unexpected bytes/);
  }
  // A larger file, cut at many points.
  const big = encodeSafetensors({ w: { dtype: 'F32', shape: [1000, 300], data: new Float32Array(300_000).fill(0.5) } });
  for (let cut = 0; cut < big.length; cut += 9973) decodeError(big.subarray(0, cut));
  decodeError(big.subarray(0, big.length - 1));
});

test('trailing bytes, gaps, overlaps and inconsistent headers are rejected', () => {
  const bytes = encodeSafetensors(sampleTensors());
  assert.match(decodeError(Buffer.concat([bytes, Buffer.from([0])])), /1 unexpected bytes after the last tensor/);

  const eight = new Uint8Array(8);
  const f32 = (begin: number, end: number, shape: number[] = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const cases: [Buffer, RegExp][] = [
    [craft({ a: f32(0, 4), b: f32(4, 8) }, eight), /./], // valid control case, checked below
    [craft({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)), /gap/],
    [craft({ a: f32(4, 8) }, eight), /gap/],
    [craft({ a: f32(0, 8), b: f32(4, 8) }, eight), /overlapping/],
    [craft({ a: f32(0, 4) }, eight), /4 unexpected bytes/],
    [craft({ a: f32(0, 8) }, new Uint8Array(4)), /truncated/],
    [craft({ a: f32(0, 8, [3]) }, eight), /needs 12 bytes/],
    [craft({ a: f32(8, 4, [1]) }, eight), /end before they begin/],
    [craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, -8] } }, eight), /data_offsets/],
    [craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8.5] } }, eight), /data_offsets/],
    [craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, eight), /data_offsets/],
    [craft({ a: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, eight), /shape/],
    [craft({ a: { dtype: 'F32', shape: 'x', data_offsets: [0, 8] } }, eight), /shape/],
    [craft({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, eight), /shape/],
    [craft({ a: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, eight), /unsupported dtype "BF16"/],
    [craft({ a: { shape: [2], data_offsets: [0, 8] } }, eight), /unsupported dtype undefined/],
    [craft({ a: { ...f32(0, 8), extra: 1 } }, eight), /unknown field\(s\) extra/],
    [craft({ a: [0, 8] }, eight), /entry is not an object/],
    [craft({ __metadata__: { k: 1 } }), /metadata "k" is not a string/],
    [craft({ __metadata__: ['x'] }), /"__metadata__" is not an object/],
    [craft('[1, 2]'), /not a JSON object/],
    [craft('null'), /not a JSON object/],
    [craft('{"a": '), /not valid JSON/],
    [craft(''), /not valid JSON/],
    [craft({}, new Uint8Array(0), 2n ** 64n - 1n), /header length field says 18446744073709551615 bytes/],
    // Duplicate names: JSON.parse keeps the last one, which leaves a hole that must not go unnoticed.
    [craft('{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight), /gap/],
  ];
  assert.deepEqual(Object.keys(decodeSafetensors(cases[0][0], SOURCE).tensors), ['a', 'b']);
  for (const [file, pattern] of cases.slice(1)) assert.match(decodeError(file), pattern);

  // Invalid UTF-8 inside a string is caught as such (JSON.parse alone would accept U+FFFD).
  const badUtf8 = Buffer.concat([Buffer.from('{"__metadata__":{"k":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
  assert.match(decodeError(withRawHeader(badUtf8)), /not valid UTF-8/);

  // Zero-size tensors anywhere are fine; "__proto__" is an ordinary name.
  const ok = decodeSafetensors(craft({ z: f32(0, 0, [0]), __proto__x: f32(0, 4), ['__proto__']: f32(4, 8) }, eight), SOURCE);
  assert.deepEqual(Object.keys(ok.tensors).sort(), ['__proto__', '__proto__x', 'z']);
  assert.equal(Object.getPrototypeOf(ok.tensors), Object.prototype);
});

function withRawHeader(header: Buffer, data: Uint8Array = new Uint8Array(0)): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([prefix, header, data]);
}

test('byte flips: header flips fail cleanly or leave values intact; every flip fails the checksum', () => {
  const tensors = sampleTensors();
  const bytes = encodeSafetensors(tensors, { step: '7' });
  const hash = sha256(bytes);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  let rejected = 0, loaded = 0;
  for (let at = 0; at < headerEnd; at++) {
    for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
      const flipped = Buffer.from(bytes);
      flipped[at] ^= mask;
      assert.notEqual(sha256(flipped), hash);
      let result: ReturnType<typeof decodeSafetensors> | null = null;
      try {
        result = decodeSafetensors(flipped, SOURCE);
      } catch (e) {
        assert.ok(e instanceof EsmmError && e.message.includes(SOURCE), `flip at ${at}: ${(e as Error).message}`);
      }
      if (result === null) { rejected++; continue; }
      loaded++;
      if (mask === 0xff) continue; // multi-bit changes (e.g. F32 → I32) are only caught by the checksum
      // One flipped bit can change a name, metadata text, whitespace or the shape of an empty tensor, but
      // never make a non-empty tensor read with another dtype, shape or bytes: dtype names differ in several
      // bits, and shapes and offsets are cross-checked against each other and the file size.
      for (const [name, t] of Object.entries(result.tensors)) {
        if (t.data.length === 0) continue;
        const twin = Object.values(tensors).find((o) => o.dtype === t.dtype && o.shape.join() === t.shape.join()
          && Array.from(o.data as ArrayLike<unknown>).join() === Array.from(t.data as ArrayLike<unknown>).join());
        assert.ok(twin, `flip of bit mask ${mask} at ${at} misread tensor ${name}`);
      }
    }
  }
  assert.ok(rejected > loaded * 3, `${rejected} flips rejected, ${loaded} loaded`);

  // Flips in tensor data keep the structure valid; the checksum layer catches them.
  const dir = tempDir();
  try {
    const file = path.join(dir, 'w.safetensors');
    for (let at = headerEnd; at < bytes.length; at += 3) {
      const flipped = Buffer.from(bytes);
      flipped[at] ^= 0x10;
      fs.writeFileSync(file, flipped);
      assert.throws(() => readSafetensorsFile(file, { sha256: hash }), /checksum mismatch/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- compatibility with an independent Python reader and writer ---------------------------------------

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

/** A minimal safetensors reader written from the spec, strict about layout; optionally also builds torch tensors. */
const PY_READER = String.raw`
import json, struct, sys
import numpy as np
DT = {'F32': '<f4', 'F64': '<f8', 'I32': '<i4', 'I64': '<i8'}
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0, 'header not padded to 8'
header = json.loads(raw[8:8 + n].decode('utf-8'))
data = raw[8 + n:]
meta = header.pop('__metadata__', {})
items = sorted(header.items(), key=lambda kv: kv[1]['data_offsets'])
pos = 0
out = {}
try:
    import torch
except Exception:
    torch = None
for name, info in items:
    b, e = info['data_offsets']
    assert b == pos, 'gap or overlap at ' + name
    arr = np.frombuffer(data[b:e], dtype=DT[info['dtype']]).reshape(info['shape'])
    if torch is not None:
        t = torch.from_numpy(arr.copy())
        assert list(t.shape) == info['shape']
    pos = e
    vals = [str(v) for v in arr.ravel().tolist()] if info['dtype'] in ('I32', 'I64') else [repr(float(v)) for v in arr.ravel().tolist()]
    out[name] = {'dtype': info['dtype'], 'shape': list(arr.shape), 'values': vals}
assert pos == len(data), 'trailing bytes'
print(json.dumps({'tensors': out, 'metadata': meta, 'torch': torch is not None}))
`;

/** A minimal independent writer: keys sorted by name, data laid out in a different (reverse) order. */
const PY_WRITER = String.raw`
import json, struct, sys
import numpy as np
tensors = {
    'b.weight': np.arange(12, dtype='<f4').reshape(3, 4) / 7,
    'a.ids': np.array([-5, 0, 2**31 - 1], dtype='<i4'),
    'c.big': np.array([[2**62 + 1, -(2**63)]], dtype='<i8'),
    'd.f64': np.array(np.e, dtype='<f8'),
}
header, blobs, pos = {'__metadata__': {'source': 'python'}}, [], 0
for name in reversed(list(tensors)):
    blob = tensors[name].tobytes()
    header[name] = {'dtype': {'float32': 'F32', 'int32': 'I32', 'int64': 'I64', 'float64': 'F64'}[str(tensors[name].dtype)],
                    'shape': list(tensors[name].shape), 'data_offsets': [pos, pos + len(blob)]}
    blobs.append(blob)
    pos += len(blob)
text = json.dumps(header, sort_keys=True).encode('utf-8')
text += b' ' * (-len(text) % 8)
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
print(json.dumps({k: {'shape': list(v.shape), 'values': [str(x) if v.dtype.kind == 'i' else repr(float(x)) for x in v.ravel().tolist()]} for k, v in tensors.items()}))
`;

function valuesAsText(t: Tensor): string[] {
  if (t.dtype === 'I32' || t.dtype === 'I64') return Array.from(t.data as ArrayLike<number | bigint>, (v) => String(v));
  return Array.from(t.data as ArrayLike<number>, (v) => String(v));
}

test('Python (struct + json + numpy, and torch when present) reads our files exactly', { skip: hasNumpy ? false : 'python3 with numpy not available' }, (t) => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'ours.safetensors');
    const tensors = sampleTensors();
    delete tensors['embedding.user']; // holds Infinity and -0, which Python's repr/JSON round trip spells differently
    tensors['emb'] = { dtype: 'F32', shape: [2, 2], data: new Float32Array([0.1, -2.5, 1e-20, 123456.789]) };
    writeSafetensorsFile(file, tensors, { format: 'esmm-model' });
    const run = spawnSync(PYTHON, ['-c', PY_READER, file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const fromPython = JSON.parse(run.stdout) as { tensors: Record<string, { dtype: string; shape: number[]; values: string[] }>; metadata: object; torch: boolean };
    t.diagnostic(fromPython.torch ? 'checked with numpy and torch.from_numpy' : 'checked with numpy (torch not importable)');
    assert.deepEqual(fromPython.metadata, { format: 'esmm-model' });
    assert.deepEqual(Object.keys(fromPython.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, tensor] of Object.entries(tensors)) {
      const py = fromPython.tensors[name];
      assert.equal(py.dtype, tensor.dtype);
      assert.deepEqual(py.shape, tensor.shape);
      if (tensor.dtype.startsWith('F')) assert.deepEqual(py.values.map(Number), Array.from(tensor.data as ArrayLike<number>), name);
      else assert.deepEqual(py.values, valuesAsText(tensor), name);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('we read files written by an independent Python writer', { skip: hasNumpy ? false : 'python3 with numpy not available' }, () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'python.safetensors');
    const run = spawnSync(PYTHON, ['-c', PY_WRITER, file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const expected = JSON.parse(run.stdout) as Record<string, { shape: number[]; values: string[] }>;
    const { tensors, metadata } = readSafetensorsFile(file);
    assert.deepEqual(metadata, { source: 'python' });
    assert.deepEqual(Object.keys(tensors), ['d.f64', 'c.big', 'a.ids', 'b.weight'], 'file (offset) order');
    for (const [name, e] of Object.entries(expected)) {
      assert.deepEqual(tensors[name].shape, e.shape, name);
      if (tensors[name].dtype.startsWith('F')) assert.deepEqual(Array.from(tensors[name].data as ArrayLike<number>), e.values.map(Number), name);
      else assert.deepEqual(valuesAsText(tensors[name]), e.values, name);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
