/** Stands in for data/encoder-fit.ts in the browser build: fitting an encoder reads files, which a page cannot. */
import { EsmmError } from '../errors.js';

function unavailable(): never {
  throw new EsmmError('fitting an encoder reads the training files: not available in the browser (load a trained model)');
}

export const fitPass = unavailable;
export const savedEncoder = unavailable;
