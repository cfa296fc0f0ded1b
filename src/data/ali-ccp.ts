/** Ali-CCP readers. Placeholder until they land. */
import type { Config } from '../config.js';
import { EsmmError } from '../errors.js';
import type { RecordSource } from './source.js';

export async function openAliCcpSource(path: string, _cfg: Config): Promise<RecordSource> {
  throw new EsmmError(`${path}: the raw Ali-CCP format is not available yet`);
}

export async function openAliCcpTokenSource(path: string, _cfg: Config): Promise<RecordSource> {
  throw new EsmmError(`${path}: the Ali-CCP token format is not available yet`);
}
