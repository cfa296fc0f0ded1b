import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program.command('demo').description('simulate a funnel, train ESMM and a click-only CVR baseline, and compare them');
}
