import type { Command } from 'commander';
import { loadUnlabeled } from '../data/dataset.js';
import { createKernels } from '../engine/backend.js';
import { loadModel } from '../io/model-dir.js';
import { writeFileAtomic } from '../io/atomic.js';
import { predictAll } from '../train/evaluate.js';
import { backendOption } from './options.js';

interface PredictFlags {
  model: string;
  data: string[];
  out: string;
  backend: 'auto' | 'wasm' | 'reference';
}

/** Nine significant digits: enough to round-trip a float32 score. */
export function formatScore(x: number): string {
  return String(Number(x.toPrecision(9)));
}

export function registerPredict(program: Command): void {
  program.command('predict')
    .description('score every row of CSV file(s): writes pctr,pcvr,pctcvr, one line per input row in input order')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .requiredOption('--data <paths...>', 'CSV file(s) with the model\'s feature columns (label columns optional)')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--backend <name>', 'auto | wasm | reference', backendOption, 'auto')
    .action(async (flags: PredictFlags) => {
      const loaded = await loadModel(flags.model, await createKernels(flags.backend));
      const { data } = await loadUnlabeled(flags.data, loaded.config, loaded.encoder);
      const { pctr, pcvr } = predictAll(loaded.model, data);
      const lines = ['pctr,pcvr,pctcvr'];
      for (let i = 0; i < data.size; i++) lines.push(`${formatScore(pctr[i])},${formatScore(pcvr[i])},${formatScore(pctr[i] * pcvr[i])}`);
      await writeFileAtomic(flags.out, `${lines.join('\n')}\n`);
      process.stderr.write(`wrote ${data.size} predictions to ${flags.out}\n`);
    });
}
