/**
 * One entry point for every config file the CLI accepts: this project's YAML/JSON config
 * (src/config.ts) or an EasyRec pipeline config (src/config/easyrec.ts, picked by isEasyRecConfig).
 */
import { loadConfig, type Config } from '../config.js';
import { isEasyRecConfig, loadEasyRecConfig, type EasyRecOptions } from './easyrec.js';

export interface LoadedConfig {
  config: Config;
  /** Training files named by the config (EasyRec's train_input_path); [] for YAML/JSON. `--train` overrides. */
  trainPaths: string[];
  /** Evaluation files named by the config (EasyRec's eval_input_path); [] for YAML/JSON. `--eval` overrides. */
  evalPaths: string[];
  /** What a translation dropped or could not reproduce exactly, one line each (file:line:column: ...). */
  warnings: string[];
  /** Which reader took the file. */
  format: 'yaml' | 'easyrec';
  /** EasyRec's model_dir (informational; `--out` decides where the model goes). */
  modelDir?: string;
}

/** Load a YAML/JSON config or an EasyRec pipeline config (`.config`, `.pbtxt`, `.prototxt`, or by content). */
export function loadAnyConfig(path: string, opts: EasyRecOptions = {}): LoadedConfig {
  if (isEasyRecConfig(path)) {
    const r = loadEasyRecConfig(path, opts);
    return { config: r.config, trainPaths: r.trainPaths, evalPaths: r.evalPaths, warnings: r.warnings, format: 'easyrec', modelDir: r.modelDir };
  }
  return { config: loadConfig(path), trainPaths: [], evalPaths: [], warnings: [], format: 'yaml' };
}
