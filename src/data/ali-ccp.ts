/**
 * Readers of the two Ali-CCP formats, each a RecordSource with the same columns (ali-ccp-columns.ts):
 *   click, buy (named by input.click / input.buy), sample_id, then one column per field id.
 *
 * - `ali-ccp-tokens` (PaddleRec's files): `sample_id,click,ctcvr,field:feat,...` per line; see
 *   ali-ccp-tokens.ts. Streams the file; memory is one read block.
 * - `ali-ccp` (the raw data set): the path is a `sample_skeleton_*.csv`; its common-features file is the
 *   sibling with `sample_skeleton` replaced by `common_features` in the file name, or given explicitly as
 *   `SKELETON::COMMON`. Joined in bounded memory and in skeleton order (ali-ccp-join.ts). The budget is
 *   `memoryMb`, else the environment variable ESMM_JOIN_MEMORY_MB, else 256 MB; scratch files go to
 *   `tmpDir`, else ESMM_JOIN_TMPDIR, else os.tmpdir().
 *
 * Records come out in file order (skeleton order for the raw format), each with its 1-based line (the
 * skeleton's line for the raw format). Malformed rows are records with a DataError naming file, line and,
 * where one is to blame, the column; labels are passed through unchecked.
 */
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config.js';
import { EsmmError } from '../errors.js';
import { aliCcpLayout, FieldCollector } from './ali-ccp-columns.js';
import { joinedRecords, newJoinStats, type JoinStats } from './ali-ccp-join.js';
import { tokenRecords } from './ali-ccp-tokens.js';
import type { RecordSource, SourceRecord } from './source.js';

export { ALI_CCP_FIELDS, ALI_CCP_MULTI_VALUED, SAMPLE_ID } from './ali-ccp-columns.js';
export type { JoinStats } from './ali-ccp-join.js';

export interface AliCcpOptions {
  /** Join memory budget in MB (raw format). */
  memoryMb?: number;
  /** The same in bytes (takes precedence; for tests of tiny budgets). */
  memoryBytes?: number;
  /** Parent directory of the join's scratch directory (raw format). */
  tmpDir?: string;
  /** Bytes per read. */
  blockBytes?: number;
  /** Lines longer than this are malformed records (default 64 MiB). */
  maxLineBytes?: number;
}

export interface AliCcpSource extends RecordSource {
  /** The skeleton (raw) or token file. */
  readonly file: string;
  /** Field ids found in the data that no column names: they are not read. Filled while reading. */
  readonly unknownFields: Set<string>;
}

export interface AliCcpRawSource extends AliCcpSource {
  readonly commonFile: string;
  /** What the last chunks() pass of the join did. */
  readonly stats: JoinStats;
}

const DEFAULT_MEMORY_MB = 256;

/** The raw Ali-CCP format: `path` is the skeleton file, or `SKELETON::COMMON`. */
export async function openAliCcpSource(path: string, cfg: Config, opts: AliCcpOptions = {}): Promise<AliCcpRawSource> {
  const { skeleton, common } = aliCcpFiles(path);
  requireFile(skeleton, 'sample skeleton file');
  try {
    statSync(common);
  } catch {
    throw new EsmmError(`${skeleton}: its common-features file ${common} does not exist (give it explicitly as ${skeleton}::COMMON_FILE)`);
  }
  const layout = aliCcpLayout(cfg, skeleton);
  const joinOpts = {
    memoryBytes: memoryBudget(opts),
    tmpDir: opts.tmpDir ?? process.env.ESMM_JOIN_TMPDIR ?? tmpdir(),
    blockBytes: opts.blockBytes,
    maxLineBytes: opts.maxLineBytes,
  };
  return new RawSource(path, skeleton, common, layout.columns, (stats, isClosed) => joinedRecords(skeleton, common, layout, joinOpts, stats, isClosed));
}

/** The Ali-CCP token format. */
export async function openAliCcpTokenSource(path: string, cfg: Config, opts: AliCcpOptions = {}): Promise<AliCcpSource> {
  requireFile(path, 'Ali-CCP token file');
  const layout = aliCcpLayout(cfg, path);
  const collector = new FieldCollector(layout);
  return new TokenSource(path, layout.columns, collector.unknownFields, () => tokenRecords(path, collector, opts));
}

/**
 * The skeleton and common-features files of a raw-format path: `SKELETON::COMMON`, or the skeleton
 * with the common file beside it (`sample_skeleton` → `common_features` in the file name).
 */
export function aliCcpFiles(path: string): { skeleton: string; common: string } {
  const sep = path.indexOf('::');
  if (sep >= 0) {
    const skeleton = path.slice(0, sep), common = path.slice(sep + 2);
    if (skeleton === '' || common === '') throw new EsmmError(`${path}: expected SKELETON_FILE::COMMON_FEATURES_FILE`);
    return { skeleton, common };
  }
  const name = basename(path);
  const at = name.lastIndexOf('sample_skeleton');
  if (at < 0) {
    throw new EsmmError(
      `${path}: cannot tell its common-features file (the name has no "sample_skeleton" to replace by "common_features"); give it as ${path}::COMMON_FILE`,
    );
  }
  const commonName = name.slice(0, at) + 'common_features' + name.slice(at + 'sample_skeleton'.length);
  return { skeleton: path, common: join(dirname(path), commonName) };
}

function memoryBudget(opts: AliCcpOptions): number {
  if (opts.memoryBytes !== undefined) return positive(opts.memoryBytes, 'memoryBytes');
  if (opts.memoryMb !== undefined) return positive(opts.memoryMb, 'memoryMb') * (1 << 20);
  const env = process.env.ESMM_JOIN_MEMORY_MB;
  if (env !== undefined && env !== '') return positive(Number(env), 'ESMM_JOIN_MEMORY_MB') * (1 << 20);
  return DEFAULT_MEMORY_MB * (1 << 20);
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new EsmmError(`${name}: the join memory budget must be a positive number, got ${v}`);
  return v;
}

function requireFile(path: string, what: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (e) {
    throw new EsmmError(`${path}: cannot open the ${what}: ${(e as Error).message}`);
  }
  if (!isFile) throw new EsmmError(`${path}: the ${what} is not a file`);
}

/**
 * A RecordSource over a generator of chunks. chunks() may be called again for a fresh pass; close() ends
 * the pass in progress (the generator's finally blocks release files and scratch space).
 */
abstract class GeneratorSource implements RecordSource {
  private closed = false;
  private active: AsyncGenerator<SourceRecord[]> | null = null;

  constructor(readonly path: string, readonly columns: string[]) {}

  protected abstract start(isClosed: () => boolean): AsyncGenerator<SourceRecord[]>;

  chunks(): AsyncGenerator<SourceRecord[]> {
    this.closed = false;
    this.active = this.start(() => this.closed);
    return this.active;
  }

  close(): void {
    this.closed = true;
    this.active?.return(undefined).catch(() => {});
    this.active = null;
  }
}

class TokenSource extends GeneratorSource implements AliCcpSource {
  constructor(path: string, columns: string[], readonly unknownFields: Set<string>, private readonly make: () => AsyncGenerator<SourceRecord[]>) {
    super(path, columns);
  }

  get file(): string {
    return this.path;
  }

  protected start(): AsyncGenerator<SourceRecord[]> {
    return this.make();
  }
}

class RawSource extends GeneratorSource implements AliCcpRawSource {
  stats: JoinStats = newJoinStats();

  constructor(
    path: string,
    readonly file: string,
    readonly commonFile: string,
    columns: string[],
    private readonly make: (stats: JoinStats, isClosed: () => boolean) => AsyncGenerator<SourceRecord[]>,
  ) {
    super(path, columns);
  }

  get unknownFields(): Set<string> {
    return this.stats.unknownFields;
  }

  protected start(isClosed: () => boolean): AsyncGenerator<SourceRecord[]> {
    this.stats = newJoinStats();
    return this.make(this.stats, isClosed);
  }
}
