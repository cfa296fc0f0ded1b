/**
 * `npm run bench:e2e`: end to end against the PyTorch peer. One epoch of training from a generated CSV on
 * disk (2M rows by default) with evaluation on a held-out file (500k rows), then `esmm predict` on that
 * file; the peer (../shared/bench/torch_esmm.py) trains on the same file with the same settings in the
 * same run. Every run is a child process, timed as a whole and by its own report, with its own peak RSS.
 * Prints numbers, never fails on time. See docs/benchmarks.md for what each number covers.
 *
 *   node dist/bench/e2e.js [--rows 2000000] [--predict-rows 500000] [--repeat 1] [--threads 1,2]
 *     [--backends wasm,native] [--peer-threads <cores>] [--no-peer] [--json] [--init peer|ours]
 *     [--dim 18] [--hidden 200,80] [--batch 1024] [--epochs 1] [--lr 0.001] [--seed 1] [--data-seed 1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { e2eFiles } from './e2e-data.js';
import { hasGnuTime } from './e2e-measure.js';
import { medians, ratios, table } from './e2e-report.js';
import {
  cliSupport, ourPredict, ourStartup, ourTrain, peerMissing, peerRun, peerStartup, RunError, type OurRun, type Sample,
} from './e2e-runs.js';
import { towerShape, writeOurConfig, type Settings } from './e2e-settings.js';
import { SYNTH_FEATURES } from '../src/data/synth.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    'predict-rows': { type: 'string', default: '500000' },
    repeat: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1,2' },
    backends: { type: 'string', default: 'wasm,native' },
    'peer-threads': { type: 'string', default: String(availableParallelism()) },
    'no-peer': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    init: { type: 'string', default: 'peer' },
    dim: { type: 'string', default: '18' },
    hidden: { type: 'string', default: '200,80' },
    batch: { type: 'string', default: '1024' },
    epochs: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.001' },
    seed: { type: 'string', default: '1' },
    'data-seed': { type: 'string', default: '1' },
  },
});

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const int = (name: string, s: string, min = 1): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${s}"`);
  return n;
};

function emit(kind: string, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(values.json ? `${JSON.stringify({ kind, ...obj })}\n` : `${text}\n`);
}
const note = (text: string) => emit('note', { text }, `note: ${text}`);
const progress = (text: string) => process.stderr.write(`e2e: ${text}\n`);

/** The (backend, threads) runs the CLI supports, with a note for each one skipped. */
function ourRuns(backends: string[], threads: number[]): { train: OurRun[]; predict: Set<OurRun> } {
  const tr = cliSupport('train'), pr = cliSupport('predict');
  const train: OurRun[] = [], predict = new Set<OurRun>();
  if (!tr.threads) note(`esmm train has no --threads yet: ours runs single-threaded${threads.some((t) => t !== 1) ? `; threads ${threads.filter((t) => t !== 1).join(',')} skipped` : ''}`);
  for (const backend of backends) {
    if (!tr.backends.has(backend)) { note(`esmm train has no --backend ${backend} yet: skipped`); continue; }
    for (const t of threads) {
      if (t !== 1 && !tr.threads) continue;
      const run: OurRun = { backend, threads: t, threadsFlag: tr.threads };
      train.push(run);
      if (!pr.backends.has(backend)) note(`esmm predict has no --backend ${backend} yet: prediction skipped for it`);
      else if (t !== 1 && !pr.threads) note(`esmm predict has no --threads yet: prediction at ${t} threads skipped`);
      else predict.add({ ...run, threadsFlag: pr.threads });
    }
  }
  return { train, predict };
}

async function main(): Promise<void> {
  const rows = int('rows', values.rows), predictRows = int('predict-rows', values['predict-rows']);
  const repeat = int('repeat', values.repeat), peerThreads = int('peer-threads', values['peer-threads']);
  const baseSeed = int('seed', values.seed, 0);
  if (values.init !== 'peer' && values.init !== 'ours') throw new Error(`--init must be peer or ours, got "${values.init}"`);
  const settings: Settings = {
    dim: int('dim', values.dim), hidden: list(values.hidden).map((h) => int('hidden', h)), batch: int('batch', values.batch),
    epochs: int('epochs', values.epochs), lr: Number(values.lr), seed: baseSeed, init: values.init,
  };
  const threads = list(values.threads).map((t) => int('threads', t));
  const seeds = Array.from({ length: repeat }, (_, i) => baseSeed + i);

  const files = await e2eFiles(rows, predictRows, int('data-seed', values['data-seed'], 0));
  if (files.generated) progress(`generated ${files.dir} in ${files.seconds.toFixed(1)}s (cached for later runs)`);
  const peerWhy = values['no-peer'] ? 'not run (--no-peer)' : peerMissing();
  const fields = `${SYNTH_FEATURES.length} fields (${SYNTH_FEATURES.filter((x) => x.type === 'id').length} ids + ${SYNTH_FEATURES.filter((x) => x.type === 'id_list').length} mean-pooled list)`;
  const ourStart: number[] = [], peerStart: number[] = [];
  emit('settings', {
    rows, predict_rows: predictRows, train_file: files.train, predict_file: files.predict, data: 'esmm synth (funnel simulator)',
    fields: SYNTH_FEATURES.length, towers: towerShape(settings), ...settings, seeds, cores: availableParallelism(), cpu: cpus()[0]?.model,
    node: process.version, peer_threads: peerWhy ? null : peerThreads, peak_rss_from: hasGnuTime() ? '/usr/bin/time %M' : 'rss probe (node) / peer report',
  }, [
    `end to end: train ${rows} rows, 1 file from disk; eval and predict ${predictRows} held-out rows`,
    `  data: esmm synth, ${fields}; model: ESMM dim ${settings.dim}, towers ${towerShape(settings)}, ReLU; batch ${settings.batch}, ${settings.epochs} epoch(s), Adam lr ${settings.lr} (lazy Adam on embedding rows), init ${settings.init}`,
    `  seeds ${seeds.join(',')} (one per repeat, both sides); ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; peak RSS from ${hasGnuTime() ? '/usr/bin/time' : 'an RSS probe / the peer\'s own report'}`,
  ].join('\n'));

  const runs = ourRuns(list(values.backends), threads);
  if (peerWhy) note(`peer ${peerWhy}: ours only`);
  const work = mkdtempSync(join(tmpdir(), 'esmm-e2e-run-'));
  const config = join(work, 'config.json');
  writeOurConfig(config, settings);
  const samples: Sample[] = [];
  let failed = false;
  try {
    for (const [rep, seed] of seeds.entries()) {
      ourStart.push(await ourStartup());
      for (const run of runs.train) {
        const tag = `${run.backend} ×${run.threads}`, model = join(work, `model-${run.backend}-${run.threads}`);
        try {
          progress(`[${rep + 1}/${repeat}] ours train ${tag}…`);
          const t = await ourTrain(run, config, files.train, files.predict, model, seed);
          samples.push(t);
          const predict = [...runs.predict].find((p) => p.backend === run.backend && p.threads === run.threads);
          if (!predict) continue;
          progress(`[${rep + 1}/${repeat}] ours predict ${tag}…`);
          samples.push(await ourPredict(predict, cliSupport('predict').json, model, files.predict, join(work, 'predictions.csv'), predictRows));
        } catch (e) {
          if (!(e instanceof RunError)) throw e;
          failed = true;
          note(`ours ${tag}: ${e.message}`);
        }
      }
      if (peerWhy) continue;
      peerStart.push(await peerStartup());
      try {
        progress(`[${rep + 1}/${repeat}] peer ×${peerThreads}…`);
        samples.push(...(await peerRun({ ...settings, seed }, files.train, files.predict, peerThreads, join(work, 'peer-predictions.csv'), peerStart.at(-1)!)));
      } catch (e) {
        if (!(e instanceof RunError)) throw e;
        note(`peer: ${e.message}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const rows_ = medians(samples);
  const rs = ratios(rows_);
  if (values.json) {
    for (const r of rows_) emit('result', { ...r }, '');
    for (const r of rs) emit('ratio', { ...r }, '');
  } else {
    process.stdout.write(table(rows_, rs));
  }
  const startup = { ours_startup_s: ourStart.length ? Math.min(...ourStart) : null, peer_startup_s: peerStart.length ? Math.min(...peerStart) : null };
  emit('startup', startup, `startup (fixed cost inside each wall time): ours ${startup.ours_startup_s?.toFixed(2) ?? '–'}s (node + CLI modules), peer ${startup.peer_startup_s?.toFixed(2) ?? '–'}s (python + numpy + torch)`);
  if (failed) process.exitCode = 1;
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
