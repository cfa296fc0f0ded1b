import type { Command } from 'commander';
import { loadAnyConfig } from '../config/load.js';
import { convertToParquet, type ConvertedSplit } from '../data/convert.js';
import { EsmmError } from '../errors.js';
import { oneOf, printJson } from './options.js';

interface ConvertFlags {
  config: string;
  train?: string[];
  eval?: string[];
  out: string;
  onBadRow?: 'error' | 'skip';
  json?: boolean;
}

/** `esmm data convert`: registered on the `esmm data` command. */
export function registerConvert(data: Command): void {
  data.command('convert')
    .description('fit the encoder on the training files and write every split already encoded (DIR/train.parquet, DIR/eval.parquet, DIR/encoder.json): training then reads batches without parsing or encoding')
    .requiredOption('--config <file>', 'YAML/JSON config or an EasyRec pipeline config (its input and features)')
    .option('--train <paths...>', 'training file(s) or glob(s), any input format; the encoder is fitted on these (default: an EasyRec config\'s train_input_path)')
    .option('--eval <paths...>', 'evaluation file(s) or glob(s), encoded with the training encoder (default: an EasyRec config\'s eval_input_path)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--on-bad-row <policy>', 'error | skip (default: the config\'s train.on_bad_row)', oneOf('--on-bad-row', ['error', 'skip'] as const))
    .option('--json', 'print one JSON object')
    .action(async (flags: ConvertFlags) => {
      const loaded = loadAnyConfig(flags.config);
      for (const w of loaded.warnings) process.stderr.write(`esmm: warning: ${w}\n`);
      const trainPaths = flags.train ?? loaded.trainPaths;
      if (trainPaths.length === 0) throw new EsmmError('--train: no training files (give --train, or train_input_path in an EasyRec config)');
      const evalPaths = flags.eval ?? loaded.evalPaths;
      const r = await convertToParquet({ config: loaded.config, trainPaths, evalPaths, outDir: flags.out, onBadRow: flags.onBadRow });
      if (flags.json) {
        printJson({ out: r.outDir, encoder: r.encoderPath, train: splitJson(r.train), eval: r.eval ? splitJson(r.eval) : null });
        return;
      }
      for (const s of [r.train, r.eval]) if (s) process.stdout.write(`${splitLine(s)}\n`);
      process.stdout.write(`${r.encoderPath}\n`);
    });
}

function splitJson(s: ConvertedSplit) {
  const t = s.stats;
  return {
    path: s.path, rows: s.rows, bytes: s.bytes, rows_read: t.rowsRead, dropped_click0_buy1: t.droppedClick0Buy1,
    skipped_bad_rows: t.skippedBadRows, clicks: t.clicks, buys: t.buys,
  };
}

function splitLine(s: ConvertedSplit): string {
  const t = s.stats;
  const mb = (s.bytes / 2 ** 20).toFixed(1);
  return `${s.path}: ${s.rows} rows (${t.clicks} clicks, ${t.buys} conversions), ${mb} MB; read ${t.rowsRead}, dropped click=0 buy=1 ${t.droppedClick0Buy1}, malformed skipped ${t.skippedBadRows}`;
}
