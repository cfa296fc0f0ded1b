import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { backendReport } from '../engine/backend.js';
import { VERSION } from '../version.js';
import { printJson } from './options.js';

export function registerInfo(program: Command): void {
  program.command('info')
    .description('print the version, the cores and which kernel backends load here (and which one auto picks)')
    .option('--json', 'one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const report = await backendReport();
      const info = {
        version: VERSION,
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cores: availableParallelism(),
        ...report,
      };
      if (flags.json) {
        printJson(info);
        return;
      }
      const lines = [
        `esmm ${info.version}`,
        `node ${info.node} (${info.platform}), ${info.cores} cores`,
        `backend auto: ${info.auto}`,
        ...info.backends.map((b) => `  ${b.name.padEnd(10)} ${b.loaded ? `loaded: ${b.detail}` : `not loaded: ${b.reason}`}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
