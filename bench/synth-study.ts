/**
 * When does ESMM beat a CVR model trained on clicks alone? Writes simulator data, trains the PyTorch peer
 * (../shared/bench/torch_esmm.py) as base / esmm-ns / esmm on it, and scores the predictions against the
 * simulator's truth. Results go to <work>/results.jsonl (a run already there is not repeated), and the
 * summary table (mean ± std over seeds) is printed as Markdown. Findings: docs/simulator.md.
 *
 *   node --import tsx bench/synth-study.ts --settings mixed,demo-e3 --seeds 1,2,3 --jobs 1 --threads 1
 *   node --import tsx bench/synth-study.ts --list                          # the settings
 *   node --import tsx bench/synth-study.ts --table --settings all          # only print what is logged
 *
 * Every (setting, seed) also gets an `oracle` record: the true pCVR's own scores and the data's stats.
 *
 * Metrics, all on the test split:
 *   cvr_auc       AUC of pCVR vs buy on clicked rows (the paper's CVR AUC)
 *   cvr_soft      the same AUC in expectation over the true pCVR (no label noise: a row is a positive with
 *                 weight pcvr and a negative with weight 1 − pcvr), a low-variance view of the same target
 *   es_auc        AUC of pCVR vs buy_if_clicked over ALL impressions (entire space, counterfactual labels)
 *   es_rho        Spearman correlation of pCVR with the true pCVR over all impressions
 *   cold_rho      the same on rows whose item had no click in train (a click-trained CVR net never saw it)
 *   calib         mean pCVR / mean true pCVR over all impressions (1 = calibrated in the entire space)
 *   ctr_auc, ctcvr_auc as printed by the peer
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWorld, describeSynth, generateFunnelChunks, writeSynth, type SynthOptions, type SynthStats } from '../src/data/synth.js';

const PEER = new URL('../../shared/bench/torch_esmm.py', import.meta.url).pathname;
const MODELS = ['base', 'esmm-ns', 'esmm'] as const;
type Model = (typeof MODELS)[number];

interface TrainArgs { epochs: number; dim: number; hidden: string; lr: number }
interface Setting { name: string; note: string; synth: Partial<SynthOptions>; train: Partial<TrainArgs> }

const TRAIN: TrainArgs = { epochs: 1, dim: 8, hidden: '64,32', lr: 0.001 };

/**
 * The world every setting starts from, pinned so that results stay reproducible when the simulator's defaults
 * move: the defaults at the time of the study with a "mixed" structure (ρ = 0.8, λ = 0.5), 500k rows. The
 * recommended demo world (the simulator's defaults now) is the setting `demo`.
 */
const BASE_SYNTH: Partial<SynthOptions> = { rows: 500_000, testFraction: 0.2, sharedStructure: 0.8, selectionBias: 0.5 };
const DEMO: Partial<SynthOptions> = { sharedStructure: 0.9, selectionBias: 0.2 };
const ALIGNED: Partial<SynthOptions> = { sharedStructure: 1, selectionBias: 0 };

/** Each setting changes one or two things; `-e3` = 3 epochs instead of 1. */
const SETTINGS: Setting[] = [
  { name: 'mixed', note: 'ρ 0.8, λ 0.5 (the study\'s starting world)', synth: {}, train: {} },
  { name: 'mixed-e3', note: 'mixed, 3 epochs', synth: {}, train: { epochs: 3 } },
  { name: 'mixed-lr01', note: 'mixed, learning rate 0.01', synth: {}, train: { lr: 0.01 } },
  { name: 'mixed-cvr10', note: 'mixed, dense conversions (cvr 0.10)', synth: { cvr: 0.1 }, train: {} },
  { name: 'mixed-cvr10-e3', note: 'mixed, cvr 0.10, 3 epochs', synth: { cvr: 0.1 }, train: { epochs: 3 } },
  { name: 'mixed-small', note: 'mixed, 5k users, 2k items', synth: { users: 5_000, items: 2_000 }, train: {} },
  { name: 'mixed-small-e3', note: 'mixed, 5k users, 2k items, 3 epochs', synth: { users: 5_000, items: 2_000 }, train: { epochs: 3 } },
  { name: 'grouped', note: 'mixed, groupShare 0.8', synth: { groupShare: 0.8 }, train: {} },
  { name: 'grouped-aligned', note: 'groupShare 0.8, ρ 1, λ 0', synth: { groupShare: 0.8, ...ALIGNED }, train: {} },
  { name: 'rho0-e3', note: 'ρ 0, λ 0.5, 3 epochs', synth: { sharedStructure: 0 }, train: { epochs: 3 } },
  { name: 'bias0-e3', note: 'ρ 0.8, λ 0, 3 epochs', synth: { selectionBias: 0 }, train: { epochs: 3 } },
  { name: 'bias15-e3', note: 'ρ 0.8, λ 1.5, 3 epochs', synth: { selectionBias: 1.5 }, train: { epochs: 3 } },
  { name: 'aligned', note: 'ρ 1, λ 0', synth: ALIGNED, train: {} },
  { name: 'aligned-e3', note: 'ρ 1, λ 0, 3 epochs', synth: ALIGNED, train: { epochs: 3 } },
  { name: 'aligned-cvr10-e3', note: 'ρ 1, λ 0, cvr 0.10, 3 epochs', synth: { ...ALIGNED, cvr: 0.1 }, train: { epochs: 3 } },
  { name: 'demo', note: 'ρ 0.9, λ 0.2 (the simulator defaults), 1 epoch', synth: DEMO, train: {} },
  { name: 'demo-e3', note: 'ρ 0.9, λ 0.2 (the simulator defaults), 3 epochs', synth: DEMO, train: { epochs: 3 } },
  // Defined but not run in the study (docs/simulator.md lists them as open).
  { name: 'demo-e3-paper-size', note: 'demo-e3 with dim 18, towers 200,80', synth: DEMO, train: { epochs: 3, dim: 18, hidden: '200,80' } },
  { name: 'demo-e3-rows1m', note: 'demo-e3 with 1M rows', synth: { ...DEMO, rows: 1_000_000 }, train: { epochs: 3 } },
  { name: 'demo-e3-fresh', note: 'demo-e3, 10% of test rows show fresh items', synth: { ...DEMO, freshItemShare: 0.1 }, train: { epochs: 3 } },
  { name: 'demo-e3-longtail', note: 'demo-e3, 200k users, 100k items, Zipf 1.1', synth: { ...DEMO, users: 200_000, items: 100_000, userZipf: 1.1, itemZipf: 1.1 }, train: { epochs: 3 } },
];

// ---------------------------------------------------------------------------------------------------
// Metrics

/** Exact AUC with ties averaged; each row is a positive with weight pos[i] and a negative with neg[i]. */
function weightedAuc(score: Float64Array, pos: Float64Array, neg: Float64Array): number {
  const order = Uint32Array.from(score.keys()).sort((a, b) => score[a] - score[b]);
  let negBelow = 0, num = 0, den = 0, totalNeg = 0;
  for (let i = 0; i < neg.length; i++) totalNeg += neg[i];
  for (let s = 0; s < order.length;) {
    let e = s, groupNeg = 0;
    while (e < order.length && score[order[e]] === score[order[s]]) groupNeg += neg[order[e++]];
    for (let t = s; t < e; t++) {
      const i = order[t];
      num += pos[i] * (negBelow + 0.5 * (groupNeg - neg[i])); // a row is never paired with itself
      den += pos[i] * (totalNeg - neg[i]);
    }
    negBelow += groupNeg;
    s = e;
  }
  return den > 0 ? num / den : NaN;
}

function auc(score: Float64Array, label: Float64Array): number {
  return weightedAuc(score, label, label.map((y) => 1 - y));
}

function ranks(x: Float64Array): Float64Array {
  const order = Uint32Array.from(x.keys()).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e < order.length && x[order[e]] === x[order[s]]) e++;
    for (let t = s; t < e; t++) r[order[t]] = (s + e - 1) / 2;
    s = e;
  }
  return r;
}

function spearman(a: Float64Array, b: Float64Array): number {
  const ra = ranks(a), rb = ranks(b), n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n, mb = rb.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - ma, db = rb[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

const pick = (x: Float64Array, mask: Uint8Array): Float64Array => x.filter((_, i) => mask[i] === 1);
const mean = (x: Float64Array): number => x.reduce((s, v) => s + v, 0) / x.length;

/** Test-split labels and truth, straight from the generator (the same rows as test.csv, in order). */
interface TestTruth { click: Uint8Array; buy: Float64Array; buyIfClicked: Float64Array; pctr: Float64Array; pcvr: Float64Array; coldItem: Uint8Array }

function testTruth(synth: SynthOptions): TestTruth {
  const world = buildWorld(synth);
  const itemTrainClicks = new Int32Array(world.itemCount);
  const click: number[] = [], buy: number[] = [], buyIfClicked: number[] = [], pctr: number[] = [], pcvr: number[] = [], item: number[] = [];
  for (const c of generateFunnelChunks(world)) {
    for (let r = 0; r < c.size; r++) {
      if (!c.test[r]) { itemTrainClicks[c.item[r]] += c.click[r]; continue; }
      click.push(c.click[r]); buy.push(c.buy[r]); buyIfClicked.push(c.buyIfClicked[r]); pctr.push(c.pctr[r]); pcvr.push(c.pcvr[r]); item.push(c.item[r]);
    }
  }
  return {
    click: Uint8Array.from(click), buy: Float64Array.from(buy), buyIfClicked: Float64Array.from(buyIfClicked),
    pctr: Float64Array.from(pctr), pcvr: Float64Array.from(pcvr), coldItem: Uint8Array.from(item, (i) => (itemTrainClicks[i] === 0 ? 1 : 0)),
  };
}

type Metrics = Record<string, number>;

function scorePredictions(path: string, t: TestTruth): Metrics {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  if (lines.length !== t.pcvr.length) throw new Error(`${path}: ${lines.length} predictions for ${t.pcvr.length} test rows`);
  const pcvr = Float64Array.from(lines, (l) => Number(l.split(',')[1]));
  const clickedPcvr = pick(pcvr, t.click), clickedTrue = pick(t.pcvr, t.click);
  return {
    cvr_auc: auc(clickedPcvr, pick(t.buy, t.click)),
    cvr_soft: weightedAuc(clickedPcvr, clickedTrue, clickedTrue.map((p) => 1 - p)),
    es_auc: auc(pcvr, t.buyIfClicked),
    es_rho: spearman(pcvr, t.pcvr),
    cold_rho: spearman(pick(pcvr, t.coldItem), pick(t.pcvr, t.coldItem)),
    calib: mean(pcvr) / mean(t.pcvr),
  };
}

/** The same measures for the true pCVR itself: the ceiling. */
function oracleMetrics(t: TestTruth): Metrics {
  const clickedTrue = pick(t.pcvr, t.click);
  return {
    cvr_auc: auc(clickedTrue, pick(t.buy, t.click)),
    cvr_soft: weightedAuc(clickedTrue, clickedTrue, clickedTrue.map((p) => 1 - p)),
    es_auc: auc(t.pcvr, t.buyIfClicked), es_rho: 1, cold_rho: 1, calib: 1,
    ctr_auc: auc(t.pctr, Float64Array.from(t.click)), ctcvr_auc: auc(t.pctr.map((p, i) => p * t.pcvr[i]), t.buy),
  };
}

// ---------------------------------------------------------------------------------------------------
// Runs

interface RunRecord { setting: string; seed: number; model: Model | 'oracle'; metrics: Metrics; seconds?: number; stats?: SynthStats }

function runPeer(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`torch_esmm.py exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

function synthOf(s: Setting, seed: number): SynthOptions & { seed: number } {
  return { ...(BASE_SYNTH as SynthOptions), ...s.synth, seed } as SynthOptions;
}

function dataKey(synth: Partial<SynthOptions>): string {
  return createHash('sha1').update(JSON.stringify(Object.entries(synth).sort())).digest('hex').slice(0, 10);
}

/** Run every (setting, seed, model) not yet logged, `jobs` peer processes at a time. */
async function study(work: string, settings: Setting[], seeds: number[], models: Model[], jobs: number, threads: number, keepData: boolean): Promise<void> {
  const log = join(work, 'results.jsonl');
  const done = new Set(readLog(log).map((r) => `${r.setting}/${r.seed}/${r.model}`));
  const tasks: { s: Setting; seed: number; model: Model }[] = [];
  for (const s of settings) for (const seed of seeds) for (const model of models) {
    if (!done.has(`${s.name}/${seed}/${model}`)) tasks.push({ s, seed, model });
  }
  const prepared = new Map<string, Promise<{ dir: string; truth: TestTruth; pending: number }>>();
  const prepare = (s: Setting, seed: number) => {
    const synth = synthOf(s, seed), dir = join(work, 'data', dataKey(synth));
    if (!prepared.has(dir)) { // settings that differ only in training share their data
      prepared.set(dir, (async () => {
        await writeSynth({ ...synth, outDir: dir });
        const pending = tasks.filter((t) => dataKey(synthOf(t.s, t.seed)) === dataKey(synth)).length;
        return { dir, truth: testTruth(synth), pending };
      })());
    }
    return prepared.get(dir)!;
  };
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const { s, seed, model } = tasks[next++];
      const data = await prepare(s, seed);
      const t = { ...TRAIN, ...s.train };
      const pred = join(data.dir, `pred-${s.name}-${model}.csv`);
      const t0 = Date.now();
      const peer = await runPeer([
        '--train', join(data.dir, 'train.csv'), '--eval', join(data.dir, 'test.csv'), '--model', model,
        '--threads', String(threads), '--epochs', String(t.epochs), '--dim', String(t.dim), '--hidden', t.hidden, '--lr', String(t.lr),
        '--seed', String(seed), '--predictions', pred,
      ]);
      const metrics = { ...scorePredictions(pred, data.truth), ctr_auc: peer.ctr_auc, ctcvr_auc: peer.ctcvr_auc };
      const seconds = (Date.now() - t0) / 1000;
      appendFileSync(log, JSON.stringify({ setting: s.name, seed, model, metrics, seconds } satisfies RunRecord) + '\n');
      console.error(`${s.name} seed ${seed} ${model}: ${fmtMetrics(metrics)} (${seconds.toFixed(0)} s)`);
      rmSync(pred);
      if (--data.pending === 0 && !keepData) rmSync(data.dir, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}

/** Log the true pCVR's own scores and the data's stats for every (setting, seed) that lacks them. */
function logOracles(work: string, settings: Setting[], seeds: number[]): void {
  const log = join(work, 'results.jsonl');
  const records = readLog(log);
  const done = new Set(records.map((r) => `${r.setting}/${r.seed}/${r.model}`));
  for (const s of settings) for (const seed of seeds) {
    if (done.has(`${s.name}/${seed}/oracle`) || !records.some((r) => r.setting === s.name)) continue;
    const synth = synthOf(s, seed);
    const record: RunRecord = { setting: s.name, seed, model: 'oracle', metrics: oracleMetrics(testTruth(synth)), stats: describeSynth(synth) };
    appendFileSync(log, JSON.stringify(record) + '\n');
  }
}

// ---------------------------------------------------------------------------------------------------
// Reporting

const COLUMNS = ['cvr_auc', 'cvr_soft', 'es_auc', 'es_rho', 'cold_rho', 'calib', 'ctr_auc', 'ctcvr_auc'] as const;

/** The logged runs, the first record of each (setting, seed, model) only. */
function readLog(path: string): RunRecord[] {
  if (!existsSync(path)) return [];
  const seen = new Set<string>();
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunRecord)
    .filter((r) => r.model !== 'oracle' || r.metrics.ctr_auc !== undefined) // early oracle records lacked ctr_auc
    .filter((r) => !seen.has(`${r.setting}/${r.seed}/${r.model}`) && seen.add(`${r.setting}/${r.seed}/${r.model}`));
}

const fmtMetrics = (m: Metrics) => COLUMNS.map((c) => `${c} ${m[c]?.toFixed(4)}`).join(' ');

function meanStd(xs: number[]): string {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

/** Markdown: per setting, one row per model (mean ± std over seeds), then esmm − base paired over seeds. */
function table(records: RunRecord[], settings: Setting[]): string {
  const out: string[] = [`| setting | model | n | ${COLUMNS.join(' | ')} |`, `|---|---|---|${COLUMNS.map(() => '---').join('|')}|`];
  for (const s of settings) {
    const rs = records.filter((r) => r.setting === s.name);
    if (!rs.length) continue;
    for (const model of ['oracle', ...MODELS] as const) {
      const m = rs.filter((r) => r.model === model);
      if (m.length) out.push(`| ${s.name} | ${model} | ${m.length} | ${COLUMNS.map((c) => meanStd(m.map((r) => r.metrics[c]))).join(' | ')} |`);
    }
    for (const model of ['esmm', 'esmm-ns'] as const) {
      const seeds = rs.filter((r) => r.model === model).map((r) => r.seed).filter((seed) => rs.some((r) => r.model === 'base' && r.seed === seed));
      if (!seeds.length) continue;
      const diff = (c: string) => seeds.map((seed) => rs.find((r) => r.model === model && r.seed === seed)!.metrics[c] - rs.find((r) => r.model === 'base' && r.seed === seed)!.metrics[c]);
      const wins = (c: string) => diff(c).filter((d) => d > 0).length;
      out.push(`| ${s.name} | Δ ${model}−base | ${seeds.length} | ${COLUMNS.map((c) => `${meanStd(diff(c))} (${wins(c)}/${seeds.length})`).join(' | ')} |`);
    }
  }
  return out.join('\n');
}

function statsTable(records: RunRecord[], settings: Setting[]): string {
  const out = ['| setting | note | CTR | CVR (clicks) | true pCVR all | buys in train | test rows, item never clicked in train | test ids unseen (users) |', '|---|---|---|---|---|---|---|---|'];
  for (const s of settings) {
    const st = records.filter((r) => r.setting === s.name && r.model === 'oracle' && r.stats).map((r) => r.stats!);
    if (!st.length) continue;
    const avg = (f: (x: SynthStats) => number) => st.reduce((a, x) => a + f(x), 0) / st.length;
    out.push(`| ${s.name} | ${s.note} | ${avg((x) => x.ctr).toFixed(4)} | ${avg((x) => x.cvr).toFixed(4)} | ${avg((x) => x.truePcvrAll).toFixed(4)} | ${avg((x) => x.buys * x.trainRows / x.rows).toFixed(0)} | ${avg((x) => x.testRowsItemNeverClicked).toFixed(3)} | ${avg((x) => x.testIdsUnseenUser).toFixed(3)} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      work: { type: 'string', default: '/tmp/esmm-synth-study' },
      settings: { type: 'string', default: 'default' },
      seeds: { type: 'string', default: '1,2,3' },
      models: { type: 'string', default: MODELS.join(',') },
      jobs: { type: 'string', default: '1' },
      threads: { type: 'string', default: '1' },
      'keep-data': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      table: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const s of SETTINGS) console.log(`${s.name.padEnd(12)} ${s.note}  synth=${JSON.stringify(s.synth)} train=${JSON.stringify({ ...TRAIN, ...s.train })}`);
    return;
  }
  const names = values.settings === 'all' ? SETTINGS.map((s) => s.name) : values.settings.split(',');
  const settings = names.map((n) => SETTINGS.find((s) => s.name === n) ?? (() => { throw new Error(`unknown setting ${n}`); })());
  mkdirSync(values.work, { recursive: true });
  if (!values.table) {
    await study(values.work, settings, values.seeds.split(',').map(Number), values.models.split(',') as Model[],
      Number(values.jobs), Number(values.threads), values['keep-data']);
  }
  logOracles(values.work, settings, values.seeds.split(',').map(Number));
  const records = readLog(join(values.work, 'results.jsonl'));
  console.log(statsTable(records, settings) + '\n\n' + table(records, settings));
}

await main();
