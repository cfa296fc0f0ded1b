/** The `esmm` command line: one file per command, user errors printed without a stack trace. */
import { Command, CommanderError } from 'commander';
import { EsmmError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerCompare } from './compare.js';
import { registerData } from './data.js';
import { registerDemo } from './demo.js';
import { registerEmbed } from './embed.js';
import { registerEval } from './eval.js';
import { registerInfo } from './info.js';
import { registerInit } from './init.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';
import { registerSynth } from './synth.js';
import { registerTrain } from './train.js';

export function buildProgram(): Command {
  const program = new Command('esmm')
    .description('ESMM (Entire Space Multi-Task Model) for post-click conversion-rate estimation')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const register of [registerSynth, registerInit, registerTrain, registerEval, registerPredict, registerServe, registerCompare, registerEmbed, registerData, registerDemo, registerInfo]) register(program);
  program.commands.forEach((c) => c.exitOverride().showHelpAfterError());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : e.exitCode || 2;
    if (e instanceof EsmmError) {
      process.stderr.write(`esmm: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`esmm: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}
