/**
 * A synthetic Ali-CCP data set with the real field ids and realistic shapes, for tests and for showing
 * that the raw-format join runs in bounded memory on tens of millions of rows.
 *
 * - Users (~100k): one common-features row each: profile fields 101 (user id), 121, 122, 124–129 and
 *   the histories 109_14 / 110_14 / 127_14 / 150_14 (category, shop, brand, intention) of tens of
 *   entries, each weighted by a count. The user's favourite categories and brands lead the histories
 *   with the largest counts.
 * - Impressions: visits of ~20 consecutive impressions by one user (skeleton rows that share a common
 *   row are contiguous, as in the real data; `interleave` > 1 mixes several visits at a time), users
 *   returning in later visits. Item side per row: 205 item, 206 category, 207 shop, 216 brand, 210
 *   intention nodes (1–5), 301 position, crosses 508 / 509 / 702 / 853 (present or not, 853 repeated).
 * - Labels carry signal: click (~4%) rises with an item in a favourite category or brand, the first
 *   position, the item's quality, its category's appeal, the user's age group and activity; buy given
 *   click (~0.5%) with a favourite brand or category, a second item quality and the user's spending. A few rows have click = 0, buy = 1 (as in the real data).
 *
 * Everything about a user or an item is derived from the seed and its index, so generation streams with
 * memory independent of the number of rows; a test split takes the same seed (the same users and items)
 * and another sampleSeed. Values are written as the raw data has them: counts for the
 * *_14 fields, 1.0 otherwise. The common file lists users in a scrambled order (not aligned with the
 * skeleton).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';

export interface AliCcpSynthOptions {
  /** Skeleton rows (impressions). */
  rows: number;
  /** Seed of the world: users, their tastes and histories, items. */
  seed?: number;
  /** Seed of the impression stream (default `seed`): a test split shares the world, not the impressions. */
  sampleSeed?: number;
  /** Users = common-features rows (default min(100k, rows / 20), at least 10). */
  users?: number;
  /** Items (default min(2M, rows / 10), at least 100). */
  items?: number;
  /** Mean impressions per visit (default 20). */
  visitLength?: number;
  /** Visits whose impressions are mixed at any time (default 1: a visit's rows are contiguous). */
  interleave?: number;
  /** First sample_id (default 1). */
  firstSampleId?: number;
}

export interface AliCcpSynthStats {
  rows: number;
  users: number;
  clicks: number;
  /** Rows with click = 1 and buy = 1. */
  buys: number;
  /** Rows with click = 0 and buy = 1 (invalid, as in the real data). */
  click0buy1: number;
}

/** [field id, feat id, value as written]. */
export type SynthFeature = [string, number, string];

export interface SynthSample {
  sampleId: number;
  click: number;
  buy: number;
  user: number;
  /** The sample's own (item side) features. */
  features: SynthFeature[];
}

const MAX_USERS = 10_000_000, MAX_ITEMS = 100_000_000;
const CATEGORIES = 2000, BRANDS = 20_000, INTENTIONS = 5000, CROSS = 50_000;
const CARD: Record<string, number> = {
  '121': 98, '122': 13, '124': 2, '125': 7, '126': 3, '127': 3, '128': 2, '129': 4, '301': 4,
  '109_14': CATEGORIES, '127_14': BRANDS, '150_14': INTENTIONS, '206': CATEGORIES, '216': BRANDS, '210': INTENTIONS,
  '508': CROSS, '509': CROSS, '702': CROSS, '853': CROSS,
};

interface Taste {
  cats: number[];
  brands: number[];
  age: number;
  activity: number;
  spending: number;
}

export class AliCcpSimulator {
  readonly rows: number;
  readonly users: number;
  readonly items: number;
  readonly shops: number;
  private readonly seed: number;
  private readonly sampleSeed: number;
  private readonly visitLength: number;
  private readonly interleave: number;
  private readonly firstSampleId: number;
  private readonly base = new Map<string, number>();

  constructor(opts: AliCcpSynthOptions) {
    this.rows = Math.max(0, Math.floor(opts.rows));
    this.seed = opts.seed ?? 1;
    this.sampleSeed = opts.sampleSeed ?? this.seed;
    this.users = Math.min(MAX_USERS, Math.max(10, Math.floor(opts.users ?? Math.min(100_000, this.rows / 20))));
    this.items = Math.min(MAX_ITEMS, Math.max(100, Math.floor(opts.items ?? Math.min(2_000_000, this.rows / 10))));
    this.shops = Math.max(10, Math.floor(this.items / 20));
    this.visitLength = Math.max(1, opts.visitLength ?? 20);
    this.interleave = Math.max(1, Math.floor(opts.interleave ?? 1));
    this.firstSampleId = opts.firstSampleId ?? 1;
    // Feat ids are global, as in the real data: each field owns a fixed range (the same for any size, so
    // that splits of different sizes share ids).
    let next = 1;
    const sizes: [string, number][] = [['101', MAX_USERS], ['205', MAX_ITEMS], ['207', MAX_ITEMS], ['110_14', MAX_ITEMS], ...Object.entries(CARD)];
    for (const [field, size] of sizes) {
      this.base.set(field, next);
      next += size;
    }
  }

  feat(field: string, local: number): number {
    return this.base.get(field)! + local;
  }

  /** The common_feature_index of user u: 16 hex digits, distinct for distinct users. */
  userKey(u: number): string {
    const a = mix32(Math.imul(u + 1, 0x9e3779b1) ^ this.seed); // a bijection of u (mod 2^32) ...
    const b = mix32(a ^ 0x5bd1e995 ^ this.seed);
    return hex8(a) + hex8(b);
  }

  /** The order of users in the common file: a scrambled permutation (a·j + c mod users). */
  commonOrder(j: number): number {
    let a = 7919 % this.users || 1;
    while (gcd(a, this.users) !== 1) a++;
    return (a * j + 13) % this.users;
  }

  private taste(u: number): Taste {
    const r = new Rng(this.seed, 2 * u + 2);
    const cats = Array.from({ length: 3 + r.below(4) }, () => zipf(r, CATEGORIES));
    const brands = Array.from({ length: 3 + r.below(4) }, () => zipf(r, BRANDS));
    return { cats, brands, age: r.below(CARD['125']), activity: 0.5 * r.normal(), spending: 0.5 * r.normal() };
  }

  /** The user side: the features of user u's common row. */
  userFeatures(u: number): SynthFeature[] {
    const t = this.taste(u);
    const r = new Rng(this.seed, 2 * u + 3);
    const out: SynthFeature[] = [];
    const one = (field: string, local: number) => out.push([field, this.feat(field, local), '1.0']);
    one('101', u);
    for (const f of ['121', '122', '124', '125', '126', '127', '128', '129']) {
      if (f === '126' && r.uniform() < 0.1) continue; // occasionally missing
      one(f, f === '125' ? t.age : r.below(CARD[f]));
    }
    const history = (field: string, favourites: number[], card: number, min: number, max: number) => {
      const seen = new Set<number>();
      for (const f of favourites) seen.add(f % card);
      const n = Math.min(min + r.below(max - min + 1), Math.max(seen.size, Math.floor(card / 2)));
      while (seen.size < n) seen.add(zipf(r, card));
      let i = 0;
      for (const local of seen) {
        const count = i++ < favourites.length ? 10 + r.below(40) : 1 + r.below(8);
        out.push([field, this.feat(field, local), String(count)]);
      }
    };
    history('109_14', t.cats, CATEGORIES, 10, 60);
    history('110_14', [], this.shops, 20, 120);
    history('127_14', t.brands, BRANDS, 15, 90);
    history('150_14', t.cats.map((c) => (c * 7) % INTENTIONS), INTENTIONS, 10, 80);
    return out;
  }

  /** The samples in skeleton order. */
  *samples(stats?: AliCcpSynthStats): Generator<SynthSample> {
    const r = new Rng(this.sampleSeed, 1);
    interface Visit { user: number; taste: Taste; left: number }
    const newVisit = (): Visit => {
      const user = zipf(r, this.users);
      return { user, taste: this.taste(user), left: 1 + Math.floor(-Math.log(1 - r.uniform()) * this.visitLength) };
    };
    const visits: Visit[] = Array.from({ length: this.interleave }, newVisit);
    for (let n = 0; n < this.rows; n++) {
      const slot = this.interleave === 1 ? 0 : r.below(this.interleave);
      const v = visits[slot];
      if (v.left-- <= 0) {
        visits[slot] = newVisit();
        n--;
        continue;
      }
      yield this.impression(r, this.firstSampleId + n, v.user, v.taste, stats);
    }
  }

  private impression(r: Rng, sampleId: number, user: number, t: Taste, stats?: AliCcpSynthStats): SynthSample {
    // The recommender shows items from a favourite category a third of the time.
    let item: number;
    if (r.uniform() < 0.35) {
      const c = t.cats[r.below(t.cats.length)];
      item = c + CATEGORIES * r.below(Math.max(1, Math.floor(this.items / CATEGORIES)));
      if (item >= this.items) item = c % this.items;
    } else {
      item = zipf(r, this.items);
    }
    const h = mix32(item ^ Math.imul(this.seed, 0x27d4eb2d));
    const cat = item % CATEGORIES;
    const brand = h % BRANDS;
    const shop = mix32(h) % this.shops;
    const quality = ((h >>> 8) & 0xff) / 128 - 1; // in [-1, 1)
    const quality2 = ((h >>> 16) & 0xff) / 128 - 1;
    const appeal = (mix32(cat ^ this.seed) & 0xff) / 128 - 1; // of the category
    const position = Math.min(3, Math.floor(-Math.log(1 - r.uniform()) * 1.2));
    const favCat = t.cats.includes(cat) ? 1 : 0;
    const favBrand = t.brands.includes(brand) || (favCat === 1 && r.uniform() < 0.3) ? 1 : 0;

    const f: SynthFeature[] = [];
    const nInt = 1 + (h % 5);
    for (let i = 0; i < nInt; i++) f.push(['210', this.feat('210', (cat * 7 + i * 131 + (mix32(h + i) % 3)) % INTENTIONS), '1.0']);
    f.push(['216', this.feat('216', brand), '1.0']);
    f.push(['301', this.feat('301', position), '1.0']);
    f.push(['205', this.feat('205', item), '1.0']);
    f.push(['206', this.feat('206', cat), '1.0']);
    f.push(['207', this.feat('207', shop), '1.0']);
    if (r.uniform() < 0.75) f.push(['508', this.feat('508', mix32(user * 31 + cat) % CROSS), '1.0']);
    if (r.uniform() < 0.3) f.push(['509', this.feat('509', mix32(user * 17 + brand) % CROSS), '1.0']);
    if (r.uniform() < 0.25) f.push(['702', this.feat('702', mix32(user * 13 + shop) % CROSS), '1.0']);
    if (r.uniform() < 0.4) {
      const k = 1 + r.below(3);
      for (let i = 0; i < k; i++) f.push(['853', this.feat('853', mix32(user * 7 + cat + i) % CROSS), '1.0']);
    }

    const clickLogit =
      -4.6 + 1.6 * favCat + 0.7 * favBrand + (position === 0 ? 0.5 : position >= 2 ? -0.3 : 0) + t.activity + 0.6 * quality + 0.6 * appeal + 0.1 * (t.age - 3);
    const click = r.uniform() < sigmoid(clickLogit) ? 1 : 0;
    let buy = 0;
    if (click === 1) buy = r.uniform() < sigmoid(-6.7 + 1.4 * favBrand + 0.5 * favCat + 0.8 * quality2 + t.spending) ? 1 : 0;
    else if (r.uniform() < 5e-5) buy = 1; // the data's few invalid rows
    if (stats) {
      stats.rows++;
      stats.clicks += click;
      stats.buys += click & buy;
      stats.click0buy1 += buy & (1 - click);
    }
    return { sampleId, click, buy, user, features: f };
  }
}

/** Raw-format feature_list: field 0x02 feat 0x03 value, joined by 0x01. */
export function rawFeatureList(features: SynthFeature[]): string {
  let s = '';
  for (let i = 0; i < features.length; i++) {
    const [field, feat, value] = features[i];
    s += (i === 0 ? '' : '\x01') + field + '\x02' + feat + '\x03' + value;
  }
  return s;
}

/**
 * Writes `sample_skeleton_<split>.csv` and `common_features_<split>.csv` to `dir` (the raw format),
 * streaming. Returns the label counts.
 */
export function writeAliCcpRaw(dir: string, opts: AliCcpSynthOptions & { split?: string }): AliCcpSynthStats {
  mkdirSync(dir, { recursive: true });
  const split = opts.split ?? 'train';
  const sim = new AliCcpSimulator(opts);
  const common = new TextSink(join(dir, `common_features_${split}.csv`));
  try {
    for (let j = 0; j < sim.users; j++) {
      const u = sim.commonOrder(j);
      const feats = sim.userFeatures(u);
      common.write(`${sim.userKey(u)},${feats.length},${rawFeatureList(feats)}\n`);
    }
  } finally {
    common.close();
  }
  const stats: AliCcpSynthStats = { rows: 0, users: sim.users, clicks: 0, buys: 0, click0buy1: 0 };
  const skeleton = new TextSink(join(dir, `sample_skeleton_${split}.csv`));
  try {
    for (const s of sim.samples(stats)) {
      skeleton.write(`${s.sampleId},${s.click},${s.buy},${sim.userKey(s.user)},${s.features.length},${rawFeatureList(s.features)}\n`);
    }
  } finally {
    skeleton.close();
  }
  return stats;
}

/**
 * Writes the same samples in the token format (`sample_id,click,ctcvr,field:feat,...`, own features
 * then the user's) to `path`. ctcvr = click·buy, so the click = 0, buy = 1 rows have ctcvr 0 here.
 */
export function writeAliCcpTokens(path: string, opts: AliCcpSynthOptions): AliCcpSynthStats {
  const sim = new AliCcpSimulator(opts);
  const stats: AliCcpSynthStats = { rows: 0, users: sim.users, clicks: 0, buys: 0, click0buy1: 0 };
  const out = new TextSink(path);
  let lastUser = -1, userTokens = '';
  try {
    for (const s of sim.samples(stats)) {
      if (s.user !== lastUser) {
        lastUser = s.user;
        userTokens = sim.userFeatures(s.user).map(([field, feat]) => `,${field}:${feat}`).join('');
      }
      let line = `${s.sampleId},${s.click},${s.click & s.buy}`;
      for (const [field, feat] of s.features) line += `,${field}:${feat}`;
      out.write(`${line}${userTokens}\n`);
    }
  } finally {
    out.close();
  }
  return stats;
}

/** Appends latin1 text to a file through a 1 MB byte buffer. */
class TextSink {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(text: string): void {
    if (this.used + text.length > this.buf.length) {
      this.flush();
      if (text.length > this.buf.length) this.buf = Buffer.allocUnsafe(text.length);
    }
    this.used += this.buf.write(text, this.used, 'latin1');
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }

  private flush(): void {
    for (let done = 0; done < this.used; ) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
}

/** Skewed index in [0, n): small indices much more frequent (density ∝ x^-2/3 on [0, 1)). */
function zipf(r: Rng, n: number): number {
  const u = r.uniform();
  return Math.min(n - 1, Math.floor(n * u * u * u));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
