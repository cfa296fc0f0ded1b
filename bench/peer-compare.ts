/**
 * Model quality against the PyTorch peer on the same simulated files and settings: trains our model and
 * `../shared/bench/torch_esmm.py --train --eval` for each seed and prints CTR / CVR / CTCVR AUCs side by
 * side with training time. Prints numbers, never asserts.
 *
 *   node dist/bench/peer-compare.js [--rows 1300000] [--test-fraction 0.2308] [--model esmm|esmm-ns|base]
 *        [--seeds 1] [--epochs 1] [--dim 18] [--hidden 200,80] [--batch 1024] [--peer-threads 2] [--json]
 *        [--init-std 0.1] [--dense-init he_uniform|torch] [--no-peer]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.js';
import { SYNTH_FEATURES, writeSynth } from '../src/data/synth.js';
import type { ModelKind } from '../src/model/esmm.js';
import { createProgress } from '../src/train/progress.js';
import { train } from '../src/train/trainer.js';
import { packageRoot } from '../src/util/package-root.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1300000' },
    'test-fraction': { type: 'string', default: '0.2308' },
    model: { type: 'string', default: 'esmm' },
    seeds: { type: 'string', default: '1' },
    epochs: { type: 'string', default: '1' },
    dim: { type: 'string', default: '18' },
    hidden: { type: 'string', default: '200,80' },
    batch: { type: 'string', default: '1024' },
    'peer-threads': { type: 'string', default: '2' },
    'data-seed': { type: 'string', default: '1' },
    /** Our embedding initialisation; 1 is the peer's (nn.Embedding's N(0, 1)), for a like-for-like run. */
    'init-std': { type: 'string', default: '0.1' },
    'no-peer': { type: 'boolean', default: false },
    /** Our tower initialisation: he_uniform (default) or torch (the peer's). */
    'dense-init': { type: 'string', default: 'he_uniform' },
    json: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const rows = Number(values.rows), dataSeed = Number(values['data-seed']);
  const dir = join(tmpdir(), `esmm-peer-${rows}-${values['test-fraction']}-${dataSeed}`);
  if (!existsSync(join(dir, 'test_truth.csv'))) await writeSynth({ rows, seed: dataSeed, testFraction: Number(values['test-fraction']), outDir: dir });
  const trainCsv = join(dir, 'train.csv'), testCsv = join(dir, 'test.csv');
  const peerScript = join(packageRoot(), '..', 'shared', 'bench', 'torch_esmm.py');
  const hasPeer = !values['no-peer'] && existsSync('/usr/bin/python3') && existsSync(peerScript);
  const kind = values.model as ModelKind;
  const out: Array<Record<string, unknown>> = [];
  for (let seed = 1; seed <= Number(values.seeds); seed++) {
    const config = parseConfig({
      features: SYNTH_FEATURES.map((f) => ({ name: f.name, type: f.type })),
      model: { kind, embedding_dim: Number(values.dim), hidden_units: values.hidden.split(',').map(Number), embedding_init_std: Number(values['init-std']), dense_init: values['dense-init'] as 'he_uniform' | 'torch' },
      train: { epochs: Number(values.epochs), batch_size: Number(values.batch), learning_rate: 1e-3, seed },
    }, 'peer-compare');
    const s = await train({ config, trainPaths: [trainCsv], evalPaths: [testCsv], outDir: join(dir, `model-${kind}-${seed}`), progress: createProgress('quiet') });
    const ours = { who: `esmm (ours, init ${values['init-std']}/${values['dense-init']})`, model: kind, seed, backend: s.backend, train_rows: s.trainStats.rowsUsed, samples_per_s: Math.round(s.samplesPerSecond), ctr_auc: s.final?.ctr_auc, cvr_auc: s.final?.cvr_auc, ctcvr_auc: s.final?.ctcvr_auc };
    out.push(ours);
    if (hasPeer) {
      const r = spawnSync('/usr/bin/python3', [peerScript, '--train', trainCsv, '--eval', testCsv, '--model', kind, '--dim', values.dim, '--hidden', values.hidden,
        '--batch', values.batch, '--epochs', values.epochs, '--threads', values['peer-threads'], '--seed', String(seed)], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status === 0) {
        const p = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
        out.push({ who: 'pytorch (peer)', model: kind, seed, backend: `torch ${p.torch}, ${p.threads} threads`, train_rows: p.train_rows, samples_per_s: p.samples_per_s, ctr_auc: p.ctr_auc, cvr_auc: p.cvr_auc, ctcvr_auc: p.ctcvr_auc, peer: 'pytorch' });
      } else {
        process.stderr.write(`peer failed: ${r.stderr.slice(-2000)}\n`);
      }
    }
    for (const line of out.slice(hasPeer ? -2 : -1)) {
      if (values.json) process.stdout.write(`${JSON.stringify(line)}\n`);
      else process.stdout.write(`${String(line.who).padEnd(22)} ${kind.padEnd(8)} seed ${seed}  ctr_auc ${(line.ctr_auc as number)?.toFixed(4)}  cvr_auc ${(line.cvr_auc as number)?.toFixed(4)}  ctcvr_auc ${(line.ctcvr_auc as number)?.toFixed(4)}  ${line.samples_per_s} samples/s  (${line.backend})\n`);
    }
  }
  if (!hasPeer) process.stderr.write('peer not run: needs /usr/bin/python3 with torch and ../shared/bench/torch_esmm.py beside the package\n');
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
