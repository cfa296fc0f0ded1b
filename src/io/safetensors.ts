/**
 * The safetensors format (https://github.com/huggingface/safetensors), so checkpoints load in PyTorch,
 * JAX, … and back:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header, space-padded | data section
 *   header = { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *              "__metadata__": { "<key>": "<string value>" } }
 *
 * Offsets are relative to the data section; tensors tile it exactly (no gaps, no overlaps, nothing
 * after the last one); data is little-endian and row-major. The reader checks all of that and rejects
 * anything else with an EsmmError naming the file, so a truncated or altered file never loads silently.
 * (A flipped byte inside tensor data keeps the structure valid: that is what the sha256 check of
 * readSafetensorsFile, or a checkpoint manifest, is for.)
 */
import * as fs from 'node:fs';
import { EsmmError } from '../errors.js';
import { sha256, writeFileAtomic } from './atomic.js';

export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64';
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array;

export interface Tensor {
  dtype: SafetensorsDtype;
  /** Row-major; [] is a scalar. The product must equal data.length. */
  shape: number[];
  data: TensorData;
}

/** What the writers take (the same shape as a decoded tensor). */
export type TensorInput = Tensor;

export interface SafetensorsContent {
  /** In file order (by data offset). Decoded arrays are fresh, aligned copies. */
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

const ARRAY_OF_DTYPE = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
} as const;

function isSupportedDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(ARRAY_OF_DTYPE, d);
}

function checkLittleEndianHost(): void {
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new EsmmError('safetensors: big-endian hosts are not supported');
}

// ---- writing ----------------------------------------------------------------------------------------

/**
 * The file as a list of chunks: the length prefix and header, then a view on each tensor's own memory
 * (no copy of tensor data). Write them back to back, e.g. with writeFileAtomic.
 */
export function encodeSafetensorsChunks(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array[] {
  checkLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new EsmmError(`safetensors: metadata "${key}" must be a string, got ${typeof value}`);
    }
    header[METADATA_KEY] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === METADATA_KEY) throw new EsmmError(`safetensors: "${METADATA_KEY}" cannot be a tensor name`);
    checkTensor(name, tensor);
    const { data } = tensor;
    header[name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + data.byteLength] };
    chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + paddedLength, 0x20);
  head.writeBigUInt64LE(BigInt(paddedLength), 0);
  json.copy(head, 8);
  return [head, ...chunks];
}

/** The whole file in one Buffer (one copy of all tensor data; prefer writeSafetensorsFile for big models). */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  return Buffer.concat(encodeSafetensorsChunks(tensors, metadata));
}

/** Writes a safetensors file atomically, streaming tensor data from its own memory. Returns its sha256. */
export function writeSafetensorsFile(filePath: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): string {
  const chunks = encodeSafetensorsChunks(tensors, metadata);
  writeFileAtomic(filePath, chunks);
  return sha256(chunks);
}

function checkTensor(name: string, tensor: Tensor): void {
  const { dtype, shape, data } = tensor;
  if (!isSupportedDtype(dtype)) throw new EsmmError(`safetensors: tensor "${name}" has unsupported dtype ${String(dtype)}`);
  if (!(data instanceof ARRAY_OF_DTYPE[dtype])) {
    throw new EsmmError(`safetensors: tensor "${name}" is ${dtype} but its data is a ${data?.constructor?.name ?? typeof data}`);
  }
  const count = elementCount(shape);
  if (count === null) throw new EsmmError(`safetensors: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
  if (count !== data.length) throw new EsmmError(`safetensors: tensor "${name}" has shape [${shape.join(', ')}] (${count} values) but ${data.length} values`);
}

/** Product of the dimensions, or null unless every one is a non-negative integer and the product is safe. */
function elementCount(shape: unknown): number | null {
  if (!Array.isArray(shape)) return null;
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return null;
    count *= d;
    if (!Number.isSafeInteger(count)) return null;
  }
  return count;
}

// ---- reading ----------------------------------------------------------------------------------------

/** Reads and fully validates a safetensors file; with `sha256`, the file's hash must match too. */
export function readSafetensorsFile(filePath: string, options: { sha256?: string } = {}): SafetensorsContent {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (e) {
    throw new EsmmError(`cannot read ${filePath}: ${(e as Error).message}`);
  }
  if (options.sha256 !== undefined) {
    const actual = sha256(bytes);
    if (actual !== options.sha256.toLowerCase()) {
      throw new EsmmError(`${filePath}: checksum mismatch (sha256 ${actual}, expected ${options.sha256}): the file is corrupted or was changed`);
    }
  }
  return decodeSafetensors(bytes, filePath);
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a whole safetensors file held in memory. `source` (usually the path) names the file in errors.
 * Every structural problem throws an EsmmError; nothing is guessed or skipped.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsContent {
  checkLittleEndianHost();
  const fail = (problem: string): never => {
    throw new EsmmError(`${source}: not a valid safetensors file: ${problem}`);
  };
  if (bytes.length < 8) fail(`it is ${bytes.length} bytes long, too short for the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    fail(`the header length field says ${declared} bytes but only ${bytes.length - 8} follow (truncated, or not a safetensors file)`);
  }
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  const header = parseHeaderJson(bytes.subarray(8, dataStart), fail);
  const metadata = parseMetadata(header[METADATA_KEY], fail);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, info]) => parseEntry(name, info, fail));
  checkTiling(entries, dataLength, fail);

  const tensors: [string, Tensor][] = entries.map(({ name, dtype, shape, begin, end }) => {
    const Make = ARRAY_OF_DTYPE[dtype];
    const data = new Make((end - begin) / Make.BYTES_PER_ELEMENT);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    return [name, { dtype, shape, data }];
  });
  // fromEntries defines own properties, so a tensor named "__proto__" cannot touch the prototype.
  return { tensors: Object.fromEntries(tensors), metadata };
}

type Fail = (problem: string) => never;

function parseHeaderJson(raw: Uint8Array, fail: Fail): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  return header as Record<string, unknown>;
}

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(`"${METADATA_KEY}" is not an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`metadata "${key}" is not a string`);
  }
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function parseEntry(name: string, info: unknown, fail: Fail): HeaderEntry {
  const where = `tensor "${name}"`;
  if (info === null || typeof info !== 'object' || Array.isArray(info)) return fail(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets, ...extra } = info as Record<string, unknown>;
  const unknownKeys = Object.keys(extra);
  if (unknownKeys.length > 0) fail(`${where}: unknown field(s) ${unknownKeys.join(', ')}`);
  if (!isSupportedDtype(dtype)) {
    fail(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ARRAY_OF_DTYPE).join(', ')})`);
  }
  const count = elementCount(shape);
  if (count === null) fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const d = dtype as SafetensorsDtype;
  const expectedBytes = count! * ARRAY_OF_DTYPE[d].BYTES_PER_ELEMENT;
  if (end - begin !== expectedBytes) {
    fail(`${where}: shape ${JSON.stringify(shape)} of ${d} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype: d, shape: shape as number[], begin, end };
}

/** Tensors must cover the data section exactly: sorted by offset, each starts where the previous ended. */
function checkTiling(entries: HeaderEntry[], dataLength: number, fail: Fail): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    if (e.begin > covered) fail(`tensor "${e.name}" starts at data byte ${e.begin}, leaving a gap after byte ${covered}`);
    if (e.begin < covered) fail(`tensor "${e.name}" starts at data byte ${e.begin}, overlapping the previous tensor (which ends at ${covered})`);
    if (e.end > dataLength) fail(`tensor "${e.name}" ends at data byte ${e.end} but the data section has only ${dataLength} bytes (truncated?)`);
    covered = e.end;
  }
  if (covered !== dataLength) fail(`${dataLength - covered} unexpected bytes after the last tensor`);
}
