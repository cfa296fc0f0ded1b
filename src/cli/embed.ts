/** `esmm embed`: a trained model's embedding tables (with the original ids), or the pooled vectors of data rows. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { createKernels } from '../engine/backend.js';
import { EsmmError } from '../errors.js';
import { loadModel } from '../io/model-dir.js';
import { embeddingTables, rowLabels, rowVectorLines, tableLines, writeTable } from '../train/embeddings.js';
import { BACKEND_HELP, type BackendFlag, backendOption } from './options.js';

interface EmbedFlags {
  model: string;
  field?: string;
  data?: string[];
  out: string;
  format: 'csv' | 'parquet';
  backend: BackendFlag;
}

export function registerEmbed(program: Command): void {
  program.command('embed')
    .description('export embeddings: each feature\'s table with its original ids, or with --data the pooled vector of every row')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .option('--field <feature>', 'one feature (default: every embedded feature, one file each in the --out directory)')
    .option('--data <paths...>', 'data file(s): write the --field vector of every row, in input order')
    .requiredOption('--out <path>', 'a file with --field (.csv or .parquet), else a directory')
    .option('--format <fmt>', 'csv | parquet, for the files of an --out directory', 'csv')
    .option('--backend <name>', BACKEND_HELP, backendOption, 'auto')
    .action(async (flags: EmbedFlags) => {
      if (flags.format !== 'csv' && flags.format !== 'parquet') throw new EsmmError(`--format must be csv or parquet, got "${flags.format}"`);
      const { model, config, encoder } = await loadModel(flags.model, await createKernels(flags.backend));
      const tables = embeddingTables(model, flags.field);
      if (flags.data) {
        if (flags.field === undefined) throw new EsmmError('--data needs --field: the feature whose vectors to write');
        // with one embedding set per tower (esmm-ns and the baselines), the CTR tower's
        const t = tables[0];
        await writeTable(flags.out, rowVectorLines(model, config, encoder, flags.data, t));
        process.stderr.write(`wrote the ${t.tensor} vectors of the rows of ${flags.data.join(', ')} to ${flags.out}\n`);
        return;
      }
      for (const t of tables) {
        const path = flags.field !== undefined && tables.length === 1 ? flags.out : join(flags.out, `${t.tensor}.${flags.format}`);
        await writeTable(path, tableLines(t, rowLabels(encoder, config, t.feature)));
        process.stderr.write(`${t.tensor}: ${t.rows} rows × ${t.dim} → ${path}\n`);
      }
    });
}
