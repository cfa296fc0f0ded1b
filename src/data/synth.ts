/**
 * The built-in data set: a funnel simulator (impression → click → buy) whose true probabilities are known.
 *
 * A latent-factor world (users, items, categories, shops, brands) is drawn once from the seed; then each
 * impression draws a user and an item (Zipf popularity), a list position, the true pCTR and pCVR, a click
 * and a counterfactual conversion ("would it have been bought had it been clicked"), for every impression.
 * The observed buy is click · buy_if_clicked, so pCVR = P(buy | click, x) = P(buy_if_clicked | x) exactly.
 *
 *   click logit      ℓc = βc + core(u,i) + λ·bait(i) − γ·ln(position)
 *   conversion logit ℓv = βv + ρ·core(u,i) + √(1−ρ²)·own(u,i) − λ·bait(i)
 *   core(u,i) = σu·a(u) + σi·a(i) + σm·⟨u, v⟩/√k + κ·[category(i) ∈ recent(u)]
 *   own(u,i)  = σu·a′(u) + σi·a′(i) + σm·⟨u′, v′⟩/√k        (factors the click never sees)
 *
 * βc and βv are solved so the rates hit the `ctr` and `cvr` targets. See docs/simulator.md.
 *
 * Everything streams: rows are produced in fixed-size columnar chunks, and the CSV writer holds one chunk.
 * Memory is bounded by the catalogue (users + items), never by the row count.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';

// ---------------------------------------------------------------------------------------------------
// Zipf popularity

/**
 * Draws ids 0..n−1 with P(rank r) ∝ 1/(r+1)^exponent. Ranks are mapped to ids by a seeded permutation, so
 * an id's popularity says nothing about its number (nor about its latent factors).
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  private readonly idOfRank: Int32Array;

  constructor(readonly n: number, readonly exponent: number, rng: Rng) {
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = total += Math.pow(r + 1, -exponent);
    for (let r = 0; r < n; r++) this.cdf[r] /= total;
    this.idOfRank = new Int32Array(n);
    for (let r = 0; r < n; r++) this.idOfRank[r] = r;
    for (let r = n - 1; r > 0; r--) { // Fisher–Yates
      const j = rng.below(r + 1);
      const t = this.idOfRank[r]; this.idOfRank[r] = this.idOfRank[j]; this.idOfRank[j] = t;
    }
  }

  /** The id for a uniform draw `u` ∈ [0, 1). */
  sample(u: number): number {
    let lo = 0, hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid; else lo = mid + 1;
    }
    return this.idOfRank[lo];
  }
}

// ---------------------------------------------------------------------------------------------------
// Options

/** Every knob of the simulator. All are optional where accepted; missing ones take {@link SYNTH_DEFAULTS}. */
export interface SynthOptions {
  /** Impressions to generate, train and test together. */
  rows: number;
  /** Seed of everything: same seed and options → identical rows and bytes. */
  seed: number;
  /** Share of impressions (random, per row) that go to the test split. */
  testFraction: number;

  /** Number of users. More users at the same row count → more rarely-seen (cold) users. */
  users: number;
  /** Number of items (plus a pool of items / 10 fresh items that only test rows can show). */
  items: number;
  /** Number of item categories (also the vocabulary of the users' recent-category lists). */
  categories: number;
  /** Number of shops; an item's shop carries part of its conversion quality. */
  shops: number;
  /** Number of brands; an item's brand carries part of its click appeal and of its clickbait. */
  brands: number;
  /** Number of user segments; a user's latent taste vectors are partly inherited from the segment. */
  segments: number;
  /** List positions 1..positions, uniform; position acts on clicks only. */
  positions: number;

  /** Zipf exponent of user popularity (0 = uniform; larger = a heavier head and a longer cold tail). */
  userZipf: number;
  /** Zipf exponent of item popularity (0 = uniform; larger = a heavier head and a longer cold tail). */
  itemZipf: number;
  /**
   * Share of test impressions that show a fresh item, one that never appears in training (cold start).
   * Models can only use its side features (category, shop, brand, price).
   */
  freshItemShare: number;

  /** Target click-through rate over all impressions (the click bias βc is solved for it). */
  ctr: number;
  /** Target conversion rate among clicks (the conversion bias βv is solved for it). Smaller = sparser. */
  cvr: number;

  /** Dimension k of the latent user and item vectors. */
  latentDim: number;
  /**
   * ρ ∈ [0, 1], shared structure: the weight of the click score core(u,i) in the conversion logit; the
   * conversion's own factors own(u,i) get √(1−ρ²), so the conversion signal's strength stays about the same.
   * 1 = conversion is driven by exactly the user/item factors that drive clicks (what a shared embedding
   * can transfer); 0 = conversion factors independent of the click factors.
   */
  sharedStructure: number;
  /**
   * λ ≥ 0, selection bias: each item has a clickbait factor (partly from its brand) that adds λ·bait to the
   * click logit and subtracts λ·bait from the conversion logit. Larger λ → clicked impressions differ more
   * from the impression space, and click and conversion propensities become negatively correlated.
   */
  selectionBias: number;
  /**
   * Share (0..1) of the variance of the latent vectors and main effects inherited from groups (the user's
   * segment, the item's category/brand/shop); the rest is idiosyncratic to the id. 0 = only the id knows.
   */
  groupShare: number;

  /** σu: scale of the user main effects a(u), a′(u) (logit units). */
  userScale: number;
  /** σi: scale of the item main effects a(i), a′(i) (logit units). */
  itemScale: number;
  /** σm: scale of the user × item match terms ⟨u,v⟩/√k and ⟨u′,v′⟩/√k (logit units). */
  matchScale: number;
  /** κ: logit bonus when the item's category is among the user's recent categories. */
  affinityScale: number;
  /** γ: click logit falls by γ·ln(position). */
  positionDecay: number;
}

/** Defaults: the setting the study in docs/simulator.md recommends for a demo (where ESMM's gain shows). */
export const SYNTH_DEFAULTS: Readonly<SynthOptions> = Object.freeze({
  rows: 1_000_000,
  seed: 1,
  testFraction: 0.3,
  users: 50_000,
  items: 20_000,
  categories: 100,
  shops: 2_000,
  brands: 500,
  segments: 20,
  positions: 10,
  userZipf: 1.0,
  itemZipf: 1.0,
  freshItemShare: 0,
  ctr: 0.05,
  cvr: 0.02,
  latentDim: 8,
  sharedStructure: 0.9,
  selectionBias: 0.2,
  groupShare: 0.3,
  userScale: 0.6,
  itemScale: 0.6,
  matchScale: 0.8,
  affinityScale: 0.5,
  positionDecay: 0.5,
});

/** Defaults filled in and every value checked; throws RangeError naming the bad option. */
export function resolveSynthOptions(partial: Partial<SynthOptions> = {}): SynthOptions {
  const o: SynthOptions = { ...SYNTH_DEFAULTS };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined && key in SYNTH_DEFAULTS) (o as unknown as Record<string, number>)[key] = value as number;
  }
  const check = (key: keyof SynthOptions, ok: boolean, want: string): void => {
    if (!ok || !Number.isFinite(o[key])) throw new RangeError(`synth option ${key} = ${o[key]}: must be ${want}`);
  };
  const int = (key: keyof SynthOptions, min: number): void => check(key, Number.isInteger(o[key]) && o[key] >= min, `an integer ≥ ${min}`);
  int('rows', 0); int('seed', 0);
  int('users', 1); int('items', 1); int('categories', 1); int('shops', 1); int('brands', 1); int('segments', 1);
  int('positions', 1); int('latentDim', 1);
  check('positions', o.positions <= 255, '≤ 255');
  check('testFraction', o.testFraction >= 0 && o.testFraction <= 1, 'in [0, 1]');
  check('freshItemShare', o.freshItemShare >= 0 && o.freshItemShare <= 1, 'in [0, 1]');
  check('ctr', o.ctr > 0 && o.ctr < 1, 'in (0, 1)');
  check('cvr', o.cvr > 0 && o.cvr < 1, 'in (0, 1)');
  check('sharedStructure', o.sharedStructure >= 0 && o.sharedStructure <= 1, 'in [0, 1]');
  check('groupShare', o.groupShare >= 0 && o.groupShare <= 1, 'in [0, 1]');
  for (const key of ['userZipf', 'itemZipf', 'selectionBias', 'userScale', 'itemScale', 'matchScale', 'affinityScale', 'positionDecay'] as const) {
    check(key, o[key] >= 0, '≥ 0');
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------
// The world: catalogue, latent factors and calibrated biases

/** The drawn catalogue and latent factors. Ids are dense indices; fresh items are ids ≥ options.items. */
export interface SynthWorld {
  readonly options: SynthOptions;
  readonly userSegment: Uint16Array;
  readonly userAge: Uint8Array;
  readonly userGender: Uint8Array;
  /** CSR: the recent categories of user u are recentCats[recentOffsets[u] .. recentOffsets[u+1]). */
  readonly recentOffsets: Int32Array;
  readonly recentCats: Int32Array;
  /** σu·a(u), the user's click-side main effect. */
  readonly userCore: Float32Array;
  /** σu·a′(u), the user's conversion-only main effect. */
  readonly userOwn: Float32Array;
  /** Latent vectors, row-major [users × k]: u (shared with clicks) and u′ (conversion only). */
  readonly userVec: Float32Array;
  readonly userVecOwn: Float32Array;
  /** Number of items including the fresh pool. */
  readonly itemCount: number;
  readonly itemCategory: Int32Array;
  readonly itemShop: Int32Array;
  readonly itemBrand: Int32Array;
  readonly itemPrice: Uint8Array;
  readonly itemCore: Float32Array;
  readonly itemOwn: Float32Array;
  /** The clickbait factor (unit variance, before λ). */
  readonly itemBait: Float32Array;
  readonly itemVec: Float32Array;
  readonly itemVecOwn: Float32Array;
  readonly userSampler: ZipfSampler;
  readonly itemSampler: ZipfSampler;
  readonly freshSampler: ZipfSampler;
  /** βc and βv, solved on a calibration sample to hit the ctr and cvr targets. */
  readonly clickBias: number;
  readonly conversionBias: number;
}

/** PRNG streams, so that e.g. changing the row count never changes the world. */
const STREAM = { world: 1, calibration: 2, rows: 3 } as const;
const PRICE_LEVELS = 10;

/** Unit-variance mixture √g·group + √(1−g)·own of two standard normals. */
function mix(group: number, own: number, g: number): number {
  return Math.sqrt(g) * group + Math.sqrt(1 - g) * own;
}

function normals(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** Draw the world for these options (deterministic by seed; independent of rows and testFraction). */
export function buildWorld(partial: Partial<SynthOptions> = {}): SynthWorld {
  const o = resolveSynthOptions(partial);
  const rng = new Rng(o.seed, STREAM.world);
  const k = o.latentDim, g = o.groupShare;

  // Group-level factors: segments shape users; categories, brands and shops shape items.
  const segVec = normals(rng, o.segments * k), segVecOwn = normals(rng, o.segments * k);
  const segCore = normals(rng, o.segments), segOwn = normals(rng, o.segments);
  const catVec = normals(rng, o.categories * k), catVecOwn = normals(rng, o.categories * k);
  const catPrice = normals(rng, o.categories);
  const brandAppeal = normals(rng, o.brands), brandBait = normals(rng, o.brands);
  const shopQuality = normals(rng, o.shops);
  const categorySampler = new ZipfSampler(o.categories, 1.0, rng);
  const shopSampler = new ZipfSampler(o.shops, 1.0, rng);
  const brandSampler = new ZipfSampler(o.brands, 1.0, rng);

  // Users.
  const segmentSampler = new ZipfSampler(o.segments, 0.5, rng);
  const userSegment = new Uint16Array(o.users), userAge = new Uint8Array(o.users), userGender = new Uint8Array(o.users);
  const userCore = new Float32Array(o.users), userOwn = new Float32Array(o.users);
  const userVec = new Float32Array(o.users * k), userVecOwn = new Float32Array(o.users * k);
  const recentOffsets = new Int32Array(o.users + 1);
  const recent: number[] = [];
  for (let u = 0; u < o.users; u++) {
    const s = segmentSampler.sample(rng.uniform());
    userSegment[u] = s;
    userAge[u] = rng.below(7);
    userGender[u] = rng.below(2);
    userCore[u] = o.userScale * mix(segCore[s], rng.normal(), g);
    userOwn[u] = o.userScale * mix(segOwn[s], rng.normal(), g);
    for (let d = 0; d < k; d++) {
      userVec[u * k + d] = mix(segVec[s * k + d], rng.normal(), g);
      userVecOwn[u * k + d] = mix(segVecOwn[s * k + d], rng.normal(), g);
    }
    const wanted = 2 + rng.below(4); // 2..5 draws, duplicates dropped
    const start = recent.length;
    for (let t = 0; t < wanted; t++) {
      const c = categorySampler.sample(rng.uniform());
      if (!recent.slice(start).includes(c)) recent.push(c);
    }
    recentOffsets[u + 1] = recent.length;
  }

  // Items: the catalogue plus a fresh pool (items / 10) that only test rows may show.
  const freshCount = Math.max(1, Math.ceil(o.items / 10));
  const itemCount = o.items + freshCount;
  const itemCategory = new Int32Array(itemCount), itemShop = new Int32Array(itemCount), itemBrand = new Int32Array(itemCount);
  const itemPrice = new Uint8Array(itemCount);
  const itemCore = new Float32Array(itemCount), itemOwn = new Float32Array(itemCount), itemBait = new Float32Array(itemCount);
  const itemVec = new Float32Array(itemCount * k), itemVecOwn = new Float32Array(itemCount * k);
  for (let i = 0; i < itemCount; i++) {
    const c = categorySampler.sample(rng.uniform());
    const b = brandSampler.sample(rng.uniform()), s = shopSampler.sample(rng.uniform());
    itemCategory[i] = c; itemBrand[i] = b; itemShop[i] = s;
    const priceZ = mix(catPrice[c], rng.normal(), 0.5);
    itemPrice[i] = Math.min(PRICE_LEVELS - 1, Math.max(0, Math.floor((priceZ + 2.5) * 2)));
    itemCore[i] = o.itemScale * mix(brandAppeal[b], rng.normal(), g);
    // Conversion quality: the shop's reputation and a lower price help; the rest is the item's own.
    const groupQuality = Math.SQRT1_2 * (shopQuality[s] - priceZ);
    itemOwn[i] = o.itemScale * mix(groupQuality, rng.normal(), g);
    itemBait[i] = mix(brandBait[b], rng.normal(), g);
    for (let d = 0; d < k; d++) {
      itemVec[i * k + d] = mix(catVec[c * k + d], rng.normal(), g);
      itemVecOwn[i * k + d] = mix(catVecOwn[c * k + d], rng.normal(), g);
    }
  }
  const userSampler = new ZipfSampler(o.users, o.userZipf, rng);
  const itemSampler = new ZipfSampler(o.items, o.itemZipf, rng);
  const freshSampler = new ZipfSampler(freshCount, o.itemZipf, rng);

  const partialWorld = {
    options: o, userSegment, userAge, userGender, recentOffsets, recentCats: Int32Array.from(recent),
    userCore, userOwn, userVec, userVecOwn, itemCount, itemCategory, itemShop, itemBrand, itemPrice,
    itemCore, itemOwn, itemBait, itemVec, itemVecOwn, userSampler, itemSampler, freshSampler,
    clickBias: 0, conversionBias: 0,
  };
  return { ...partialWorld, ...calibrateBiases(partialWorld) };
}

/** The two bias-free logit parts of one impression (written into `out` to avoid allocation). */
interface LogitParts { click: number; conversion: number }

function logitParts(w: SynthWorld, user: number, item: number, position: number, out: LogitParts): void {
  const o = w.options, k = o.latentDim;
  let match = 0, matchOwn = 0;
  for (let d = 0, ub = user * k, ib = item * k; d < k; d++) {
    match += w.userVec[ub + d] * w.itemVec[ib + d];
    matchOwn += w.userVecOwn[ub + d] * w.itemVecOwn[ib + d];
  }
  const invSqrtK = 1 / Math.sqrt(k);
  let affinity = 0;
  const cat = w.itemCategory[item];
  for (let t = w.recentOffsets[user]; t < w.recentOffsets[user + 1]; t++) {
    if (w.recentCats[t] === cat) { affinity = 1; break; }
  }
  const core = w.userCore[user] + w.itemCore[item] + o.matchScale * match * invSqrtK + o.affinityScale * affinity;
  const own = w.userOwn[user] + w.itemOwn[item] + o.matchScale * matchOwn * invSqrtK;
  const bait = o.selectionBias * w.itemBait[item];
  const rho = o.sharedStructure;
  out.click = core + bait - o.positionDecay * Math.log(position);
  out.conversion = rho * core + Math.sqrt(1 - rho * rho) * own - bait;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Smallest bias b (bisection) with f(b) ≥ target, for f increasing in b. */
function solveBias(f: (b: number) => number, target: number): number {
  let lo = -30, hi = 30;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Solve βc and βv on 100k impressions drawn like training rows (own PRNG stream). */
function calibrateBiases(w: SynthWorld): { clickBias: number; conversionBias: number } {
  const n = 100_000, o = w.options;
  const rng = new Rng(o.seed, STREAM.calibration);
  const click = new Float64Array(n), conversion = new Float64Array(n);
  const parts: LogitParts = { click: 0, conversion: 0 };
  for (let r = 0; r < n; r++) {
    const user = w.userSampler.sample(rng.uniform()), item = w.itemSampler.sample(rng.uniform());
    logitParts(w, user, item, 1 + rng.below(o.positions), parts);
    click[r] = parts.click; conversion[r] = parts.conversion;
  }
  const clickBias = solveBias((b) => {
    let s = 0;
    for (let r = 0; r < n; r++) s += sigmoid(b + click[r]);
    return s / n;
  }, o.ctr);
  const pctr = click.map((x) => sigmoid(clickBias + x));
  const conversionBias = solveBias((b) => {
    let num = 0, den = 0;
    for (let r = 0; r < n; r++) { num += pctr[r] * sigmoid(b + conversion[r]); den += pctr[r]; }
    return num / den;
  }, o.cvr);
  return { clickBias, conversionBias };
}

// ---------------------------------------------------------------------------------------------------
// Impressions

/** A block of consecutive impressions, column by column. */
export interface FunnelChunk {
  /** Index of the chunk's first row in the whole stream. */
  start: number;
  size: number;
  user: Int32Array;
  item: Int32Array;
  /** 1-based list position. */
  position: Uint8Array;
  /** 1 = test split, 0 = train. */
  test: Uint8Array;
  click: Uint8Array;
  /** Observed conversion: click · buyIfClicked. */
  buy: Uint8Array;
  /** The counterfactual conversion draw, defined for every impression. */
  buyIfClicked: Uint8Array;
  /** True P(click | x). */
  pctr: Float64Array;
  /** True P(buy | click, x), defined for every impression. */
  pcvr: Float64Array;
}

/**
 * The impressions of `world`, in chunks of `chunkSize` rows (the last may be shorter). Each row consumes
 * exactly seven uniform draws of the row stream, so a shorter run is a prefix of a longer one.
 */
export function* generateFunnelChunks(world: SynthWorld, chunkSize = 65_536): Generator<FunnelChunk> {
  const o = world.options;
  const rng = new Rng(o.seed, STREAM.rows);
  const parts: LogitParts = { click: 0, conversion: 0 };
  for (let start = 0; start < o.rows; start += chunkSize) {
    const size = Math.min(chunkSize, o.rows - start);
    const c: FunnelChunk = {
      start, size, user: new Int32Array(size), item: new Int32Array(size), position: new Uint8Array(size),
      test: new Uint8Array(size), click: new Uint8Array(size), buy: new Uint8Array(size),
      buyIfClicked: new Uint8Array(size), pctr: new Float64Array(size), pcvr: new Float64Array(size),
    };
    for (let r = 0; r < size; r++) {
      const isTest = rng.uniform() < o.testFraction;
      const user = world.userSampler.sample(rng.uniform());
      const uItem = rng.uniform(), uFresh = rng.uniform();
      const item = isTest && uFresh < o.freshItemShare ? o.items + world.freshSampler.sample(uItem) : world.itemSampler.sample(uItem);
      const position = 1 + rng.below(o.positions);
      logitParts(world, user, item, position, parts);
      const pctr = sigmoid(world.clickBias + parts.click), pcvr = sigmoid(world.conversionBias + parts.conversion);
      const click = rng.uniform() < pctr ? 1 : 0, buyIfClicked = rng.uniform() < pcvr ? 1 : 0;
      c.user[r] = user; c.item[r] = item; c.position[r] = position; c.test[r] = isTest ? 1 : 0;
      c.click[r] = click; c.buyIfClicked[r] = buyIfClicked; c.buy[r] = click & buyIfClicked;
      c.pctr[r] = pctr; c.pcvr[r] = pcvr;
    }
    yield c;
  }
}

/** The feature columns written to CSV, in order (after click,buy). */
export const SYNTH_FEATURES = [
  { name: 'user_id', type: 'id' },
  { name: 'user_segment', type: 'id' },
  { name: 'user_age', type: 'id' },
  { name: 'user_gender', type: 'id' },
  { name: 'user_recent_cats', type: 'id_list' },
  { name: 'item_id', type: 'id' },
  { name: 'item_category', type: 'id' },
  { name: 'item_shop', type: 'id' },
  { name: 'item_brand', type: 'id' },
  { name: 'item_price', type: 'id' },
  { name: 'position', type: 'id' },
] as const;

export type SynthFeatureName = (typeof SYNTH_FEATURES)[number]['name'];

/** Raw feature values of one impression; the list feature is an array (joined with `|` in CSV). */
export type SynthFeatures = { [K in SynthFeatureName]: K extends 'user_recent_cats' ? string[] : string };

/** One impression as an object (convenient; the chunked generator is the fast path). */
export interface FunnelRow {
  split: 'train' | 'test';
  click: 0 | 1;
  buy: 0 | 1;
  buyIfClicked: 0 | 1;
  pctr: number;
  pcvr: number;
  features: SynthFeatures;
}

/** Feature values of a user and an item, as written to CSV. */
function userFeatures(w: SynthWorld, u: number): Pick<SynthFeatures, 'user_id' | 'user_segment' | 'user_age' | 'user_gender' | 'user_recent_cats'> {
  return {
    user_id: `u${u}`,
    user_segment: `g${w.userSegment[u]}`,
    user_age: `a${w.userAge[u]}`,
    user_gender: w.userGender[u] ? 'f' : 'm',
    user_recent_cats: Array.from(w.recentCats.subarray(w.recentOffsets[u], w.recentOffsets[u + 1]), (c) => `c${c}`),
  };
}

function itemFeatures(w: SynthWorld, i: number): Pick<SynthFeatures, 'item_id' | 'item_category' | 'item_shop' | 'item_brand' | 'item_price'> {
  return {
    item_id: `i${i}`,
    item_category: `c${w.itemCategory[i]}`,
    item_shop: `s${w.itemShop[i]}`,
    item_brand: `b${w.itemBrand[i]}`,
    item_price: `p${w.itemPrice[i]}`,
  };
}

/** The impressions for these options, one object per row (train and test interleaved; see `split`). */
export function* generateFunnel(partial: Partial<SynthOptions> = {}): Generator<FunnelRow> {
  const world = buildWorld(partial);
  for (const c of generateFunnelChunks(world)) {
    for (let r = 0; r < c.size; r++) {
      yield {
        split: c.test[r] ? 'test' : 'train',
        click: c.click[r] as 0 | 1,
        buy: c.buy[r] as 0 | 1,
        buyIfClicked: c.buyIfClicked[r] as 0 | 1,
        pctr: c.pctr[r],
        pcvr: c.pcvr[r],
        features: { ...userFeatures(world, c.user[r]), ...itemFeatures(world, c.item[r]), position: `${c.position[r]}` },
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Statistics

/** What a generated data set looks like. Rates are observed (drawn labels) unless named `true…`. */
export interface SynthStats {
  rows: number;
  trainRows: number;
  testRows: number;
  clicks: number;
  buys: number;
  /** clicks / rows. */
  ctr: number;
  /** buys / clicks: the CVR a click-trained model sees. */
  cvr: number;
  /** buys / rows. */
  ctcvr: number;
  /** Mean true pCTR over all impressions (≈ ctr). */
  truePctr: number;
  /** Mean true pCVR over clicked impressions (≈ cvr). */
  truePcvrClicked: number;
  /** Mean true pCVR over all impressions (the entire space; differs from cvr under selection bias). */
  truePcvrAll: number;
  /** Distinct users / items that appear in any row. */
  distinctUsers: number;
  distinctItems: number;
  /** Share of all impressions on the top 1% most shown items (Zipf skew; 0.01 when uniform). */
  topItemShare: number;
  /** Share of train items shown at most 5 times in train (the long tail). */
  rareTrainItemShare: number;
  /** Share of test rows whose user / item never appears in train. */
  testRowsUnseenUser: number;
  testRowsUnseenItem: number;
  /** Share of distinct test users / items that never appear in train. */
  testIdsUnseenUser: number;
  testIdsUnseenItem: number;
  /** Share of test rows whose item has no click in train (a click-trained CVR model never saw it labelled). */
  testRowsItemNeverClicked: number;
  /** The solved biases βc, βv. */
  clickBias: number;
  conversionBias: number;
}

/** Accumulates {@link SynthStats} over chunks; memory is per user and per item, never per row. */
export class SynthStatsCollector {
  private rows = 0; private trainRows = 0; private clicks = 0; private buys = 0;
  private sumPctr = 0; private sumPcvrAll = 0; private sumPcvrClicked = 0;
  private readonly trainUser: Int32Array; private readonly testUser: Int32Array;
  private readonly trainItem: Int32Array; private readonly testItem: Int32Array; private readonly trainItemClicks: Int32Array;

  constructor(private readonly world: SynthWorld) {
    this.trainUser = new Int32Array(world.options.users); this.testUser = new Int32Array(world.options.users);
    this.trainItem = new Int32Array(world.itemCount); this.testItem = new Int32Array(world.itemCount);
    this.trainItemClicks = new Int32Array(world.itemCount);
  }

  add(c: FunnelChunk): void {
    for (let r = 0; r < c.size; r++) {
      const click = c.click[r];
      this.clicks += click; this.buys += c.buy[r];
      this.sumPctr += c.pctr[r]; this.sumPcvrAll += c.pcvr[r];
      if (click) this.sumPcvrClicked += c.pcvr[r];
      if (c.test[r]) { this.testUser[c.user[r]]++; this.testItem[c.item[r]]++; } else {
        this.trainRows++;
        this.trainUser[c.user[r]]++; this.trainItem[c.item[r]]++; this.trainItemClicks[c.item[r]] += click;
      }
    }
    this.rows += c.size;
  }

  stats(): SynthStats {
    const testRows = this.rows - this.trainRows;
    const unseen = (train: Int32Array, test: Int32Array) => {
      let rows = 0, ids = 0, testIds = 0;
      for (let i = 0; i < train.length; i++) {
        if (test[i] === 0) continue;
        testIds++;
        if (train[i] === 0) { ids++; rows += test[i]; }
      }
      return { rows: testRows ? rows / testRows : 0, ids: testIds ? ids / testIds : 0 };
    };
    const u = unseen(this.trainUser, this.testUser), it = unseen(this.trainItem, this.testItem);
    const shown = this.trainItem.map((n, i) => n + this.testItem[i]);
    const distinct = (a: Int32Array, b: Int32Array) => a.reduce((n, x, i) => n + (x + b[i] > 0 ? 1 : 0), 0);
    const top = Math.max(1, Math.round(this.world.options.items / 100));
    const topShown = Float64Array.from(shown).sort().reverse().subarray(0, top).reduce((s, x) => s + x, 0);
    let trainItems = 0, rareTrainItems = 0, neverClicked = 0;
    for (let i = 0; i < this.trainItem.length; i++) {
      if (this.trainItem[i] > 0) { trainItems++; if (this.trainItem[i] <= 5) rareTrainItems++; }
      if (this.trainItemClicks[i] === 0) neverClicked += this.testItem[i];
    }
    const ratio = (a: number, b: number) => (b ? a / b : 0);
    return {
      rows: this.rows, trainRows: this.trainRows, testRows, clicks: this.clicks, buys: this.buys,
      ctr: ratio(this.clicks, this.rows), cvr: ratio(this.buys, this.clicks), ctcvr: ratio(this.buys, this.rows),
      truePctr: ratio(this.sumPctr, this.rows), truePcvrClicked: ratio(this.sumPcvrClicked, this.clicks),
      truePcvrAll: ratio(this.sumPcvrAll, this.rows),
      distinctUsers: distinct(this.trainUser, this.testUser), distinctItems: distinct(this.trainItem, this.testItem),
      topItemShare: ratio(topShown, this.rows), rareTrainItemShare: ratio(rareTrainItems, trainItems),
      testRowsUnseenUser: u.rows, testRowsUnseenItem: it.rows, testIdsUnseenUser: u.ids, testIdsUnseenItem: it.ids,
      testRowsItemNeverClicked: ratio(neverClicked, testRows),
      clickBias: this.world.clickBias, conversionBias: this.world.conversionBias,
    };
  }
}

/** Generate (without writing anything) and describe the data set these options produce. */
export function describeSynth(partial: Partial<SynthOptions> = {}): SynthStats {
  const world = buildWorld(partial);
  const collector = new SynthStatsCollector(world);
  for (const c of generateFunnelChunks(world)) collector.add(c);
  return collector.stats();
}

// ---------------------------------------------------------------------------------------------------
// CSV files

export interface WriteSynthOptions extends Partial<SynthOptions> {
  rows: number;
  seed: number;
  /** Directory for train.csv, test.csv and test_truth.csv (created if missing). */
  outDir: string;
}

export interface SynthFiles {
  train: string;
  test: string;
  /** pctr,pcvr,buy_if_clicked per test row, in test.csv's order. */
  truth: string;
}

/** Header of train.csv and test.csv. */
export const SYNTH_HEADER = ['click', 'buy', ...SYNTH_FEATURES.map((f) => f.name)].join(',');
export const SYNTH_TRUTH_HEADER = 'pctr,pcvr,buy_if_clicked';

/** A write stream that waits for the OS when its buffer is full (bounded memory at any row count). */
class CsvSink {
  private readonly stream: WriteStream;
  constructor(readonly path: string, header: string) {
    this.stream = createWriteStream(path);
    this.stream.write(header + '\n');
  }
  async write(text: string): Promise<void> {
    if (text && !this.stream.write(text)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** Every user's (and item's) feature columns as one CSV fragment, built once and reused for every row. */
function csvFragments(w: SynthWorld): { users: string[]; items: string[] } {
  const users = Array.from({ length: w.options.users }, (_, u) => {
    const f = userFeatures(w, u);
    return [f.user_id, f.user_segment, f.user_age, f.user_gender, f.user_recent_cats.join('|')].join(',');
  });
  const items = Array.from({ length: w.itemCount }, (_, i) => {
    const f = itemFeatures(w, i);
    return [f.item_id, f.item_category, f.item_shop, f.item_brand, f.item_price].join(',');
  });
  return { users, items };
}

/** Write outDir/train.csv, outDir/test.csv and outDir/test_truth.csv, streaming, and return their stats. */
export async function writeSynth(opts: WriteSynthOptions): Promise<{ files: SynthFiles; stats: SynthStats }> {
  const { outDir, ...synth } = opts;
  const world = buildWorld(synth);
  mkdirSync(outDir, { recursive: true });
  const files: SynthFiles = { train: join(outDir, 'train.csv'), test: join(outDir, 'test.csv'), truth: join(outDir, 'test_truth.csv') };
  const train = new CsvSink(files.train, SYNTH_HEADER), test = new CsvSink(files.test, SYNTH_HEADER);
  const truth = new CsvSink(files.truth, SYNTH_TRUTH_HEADER);
  const { users, items } = csvFragments(world);
  const collector = new SynthStatsCollector(world);
  try {
    for (const c of generateFunnelChunks(world)) {
      collector.add(c);
      let trainText = '', testText = '', truthText = '';
      for (let r = 0; r < c.size; r++) {
        const line = `${c.click[r]},${c.buy[r]},${users[c.user[r]]},${items[c.item[r]]},${c.position[r]}\n`;
        if (c.test[r]) {
          testText += line;
          truthText += `${c.pctr[r].toPrecision(6)},${c.pcvr[r].toPrecision(6)},${c.buyIfClicked[r]}\n`;
        } else {
          trainText += line;
        }
      }
      await train.write(trainText); await test.write(testText); await truth.write(truthText);
    }
  } finally {
    await Promise.all([train.close(), test.close(), truth.close()]);
  }
  return { files, stats: collector.stats() };
}
