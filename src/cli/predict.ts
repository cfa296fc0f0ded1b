import type { Command } from 'commander';
import { readEncodedChunks } from '../data/pipeline.js';
import { createKernels } from '../engine/backend.js';
import { AtomicFileWriter } from '../io/atomic.js';
import { loadModel } from '../io/model-dir.js';
import { withRunner } from '../train/parallel/pool.js';
import { prefetch } from '../util/prefetch.js';
import { BACKEND_HELP, type BackendFlag, backendOption, positiveInt, THREADS_HELP } from './options.js';

interface PredictFlags {
  model: string;
  data: string[];
  out: string;
  backend: BackendFlag;
  threads?: number;
}


export function registerPredict(program: Command): void {
  program.command('predict')
    .description('score every row of the data file(s): writes pctr,pcvr,pctcvr, one line per input row in input order')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .requiredOption('--data <paths...>', 'file(s) or glob(s) in the model\'s input format with its feature columns (label columns optional)')
    .requiredOption('--out <file>', 'CSV file to write (atomically: complete or not at all)')
    .option('--backend <name>', BACKEND_HELP, backendOption, 'auto')
    .option('--threads <n>', THREADS_HELP, positiveInt('--threads'))
    .action(async (flags: PredictFlags) => {
      const kernels = await createKernels(flags.backend);
      const { model, config, encoder } = await loadModel(flags.model, kernels);
      // A malformed row is always an error here: skipping it would misalign the output with the input.
      const { chunks } = readEncodedChunks(flags.data, config, encoder, { onBadRow: 'error', labels: 'ignore' });
      const out = new AtomicFileWriter(flags.out);
      let rows = 0;
      try {
        out.write('pctr,pcvr,pctcvr\n');
        await withRunner({ kernels, model, optimizer: null, threads: flags.threads }, async (runner) => {
          // the next chunk is read and encoded while the threads score (and format) this one
          for await (const b of prefetch(chunks)) {
            out.write(await runner.predictLines(b));
            rows += b.size;
          }
        });
        out.commit();
      } catch (e) {
        out.abort();
        throw e;
      }
      process.stderr.write(`wrote ${rows} predictions to ${flags.out}\n`);
    });
}
