import type { Command } from 'commander';
import { stringify } from 'yaml';
import { inferConfig } from '../data/infer.js';

export function registerInit(program: Command): void {
  program.command('init')
    .description('print a starting config for a CSV file (every other column a categorical feature, `|` columns as lists) to edit')
    .requiredOption('--data <file>', 'CSV file with a header')
    .requiredOption('--click <col>', 'click label column')
    .requiredOption('--buy <col>', 'conversion label column')
    .action(async (flags: { data: string; click: string; buy: string }) => {
      const cfg = await inferConfig(flags.data, flags.click, flags.buy);
      process.stdout.write(`# esmm config inferred from ${flags.data}; edit it, then: esmm train --config <this file> ...\n${stringify(cfg)}`);
    });
}
