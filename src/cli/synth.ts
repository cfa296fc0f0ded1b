import type { Command } from 'commander';
import { SYNTH_DEFAULTS, writeSynth, type SynthOptions } from '../data/synth.js';
import { EsmmError } from '../errors.js';
import { printJson } from './options.js';

/** camelCase option name → --kebab-case flag. */
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function registerSynth(program: Command): void {
  const cmd = program.command('synth')
    .description('simulate an impression → click → buy funnel with known true pCTR/pCVR: writes DIR/train.csv, DIR/test.csv, DIR/test_truth.csv')
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'print the data set statistics as one JSON object');
  // every simulator knob is a flag (see docs/simulator.md for what each does)
  for (const [key, value] of Object.entries(SYNTH_DEFAULTS)) {
    cmd.option(`--${kebab(key)} <x>`, `simulator knob ${key}`, (v: string) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new EsmmError(`--${kebab(key)}: "${v}" is not a number`);
      return n;
    }, value);
  }
  cmd.action(async (flags: Partial<SynthOptions> & { out: string; json?: boolean }) => {
    const { out, json, ...knobs } = flags;
    let result;
    try {
      result = await writeSynth({ ...knobs, rows: knobs.rows ?? SYNTH_DEFAULTS.rows, seed: knobs.seed ?? SYNTH_DEFAULTS.seed, outDir: out });
    } catch (e) {
      if (e instanceof RangeError) throw new EsmmError(e.message);
      throw e;
    }
    const { files, stats } = result;
    if (json) printJson({ files, stats });
    else {
      process.stdout.write(`wrote ${files.train} (${stats.trainRows} rows), ${files.test} (${stats.testRows} rows), ${files.truth}\n`
        + `CTR ${(100 * stats.ctr).toFixed(2)}%  CVR (on clicks) ${(100 * stats.cvr).toFixed(2)}%  CTCVR ${(100 * stats.ctcvr).toFixed(3)}%  `
        + `mean true pCVR: clicked ${stats.truePcvrClicked.toFixed(4)} vs all impressions ${stats.truePcvrAll.toFixed(4)}\n`);
    }
  });
}
