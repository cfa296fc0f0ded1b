/** `esmm data`: look at a data set (inspect) and turn it into encoded Parquet (convert). */
import type { Command } from 'commander';
import { loadAnyConfig } from '../config/load.js';
import { inferConfig } from '../data/infer.js';
import { inspectData, type InspectReport } from '../data/inspect.js';
import { expandPaths } from '../data/paths.js';
import { parseConfig, type Config } from '../config.js';
import { EsmmError } from '../errors.js';
import { registerConvert } from './data-convert.js';
import { positiveInt, printJson } from './options.js';

interface InspectFlags {
  config?: string;
  data: string[];
  click?: string;
  buy?: string;
  maxRows?: number;
  json?: boolean;
}

export function registerData(program: Command): void {
  const data = program.command('data').description('inspect data sets and convert them to encoded Parquet');
  data.command('inspect')
    .description('rows, label rates, per-feature cardinality, missing values and invalid rows of data file(s)')
    .requiredOption('--data <paths...>', 'data file(s) or glob(s)')
    .option('--config <file>', 'config (YAML/JSON or EasyRec) giving the format, columns and features; default: inferred from a CSV header')
    .option('--click <col>', 'click label column, without --config', 'click')
    .option('--buy <col>', 'buy label column, without --config', 'buy')
    .option('--max-rows <n>', 'read at most this many rows', positiveInt('--max-rows'))
    .option('--json', 'print one JSON object')
    .action(async (flags: InspectFlags) => {
      const config = await inspectConfig(flags);
      const report = await inspectData(flags.data, config, flags.maxRows);
      if (flags.json) printJson(report);
      else process.stdout.write(formatInspect(report));
    });
  registerConvert(data);
  data.commands.forEach((c) => c.exitOverride().showHelpAfterError());
}

async function inspectConfig(flags: InspectFlags): Promise<Config> {
  if (flags.config) return loadAnyConfig(flags.config).config;
  if (flags.data.length === 0) throw new EsmmError('--data: no file given');
  const first = expandPaths(flags.data)[0];
  return parseConfig(await inferConfig(first, flags.click ?? 'click', flags.buy ?? 'buy'), first);
}

function pct(x: number | null): string {
  return x === null ? '—' : `${(100 * x).toFixed(3)}%`;
}

export function formatInspect(r: InspectReport): string {
  const lines = [
    `files: ${r.files.length} (${r.files.slice(0, 5).join(', ')}${r.files.length > 5 ? ', ...' : ''})`,
    `rows: ${r.rowsUsed} valid of ${r.rowsRead} read; dropped click=0,buy=1: ${r.droppedClick0Buy1}; invalid: ${r.skippedBadRows}`,
    `clicks: ${r.clicks} (${pct(r.clickRate)}), buys: ${r.buys} (${pct(r.buyRate)} of rows, ${pct(r.cvrOnClicks)} of clicks)`,
  ];
  for (const [reason, n] of Object.entries(r.skippedByReason)) lines.push(`  invalid ${n}: ${reason}`);
  for (const m of r.badRowExamples) lines.push(`  e.g. ${m}`);
  const header = ['feature', 'column', 'type', 'distinct', 'missing', 'details'];
  const rows = r.features.map((f) => [
    f.name, f.column, f.type, `${f.distinctExact ? '' : '~'}${f.distinct}`, String(f.missing),
    f.meanLength !== undefined ? `mean length ${f.meanLength.toFixed(2)}, max ${f.maxLength}`
      : f.min !== undefined ? `min ${f.min}, max ${f.max}, mean ${f.mean!.toPrecision(6)}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmtRow = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  lines.push('', fmtRow(header), ...rows.map(fmtRow));
  return `${lines.join('\n')}\n`;
}
