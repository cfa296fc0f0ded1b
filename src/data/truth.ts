/** Reads the simulator's ground truth (test_truth.csv: pctr,pcvr,buy_if_clicked per test row). */
import { DataError } from '../errors.js';
import type { GroundTruth } from '../metrics/entire-space.js';
import { CsvFile } from './csv.js';

export async function readTruth(path: string): Promise<GroundTruth> {
  const file = await CsvFile.open(path);
  const col = (name: string) => {
    const i = file.header.indexOf(name);
    if (i < 0) {
      file.close();
      throw new DataError(path, file.headerLine, name, 'column missing from the truth file header');
    }
    return i;
  };
  const pcvrAt = col('pcvr'), buyAt = col('buy_if_clicked');
  const pcvr: number[] = [], buy: number[] = [];
  for await (const chunk of file.chunks()) {
    for (const r of chunk) {
      if (r.fields === null) throw r.error ?? new DataError(path, r.line, null, 'malformed row');
      const p = Number(r.fields[pcvrAt]), b = r.fields[buyAt];
      if (!(p >= 0 && p <= 1)) throw new DataError(path, r.line, 'pcvr', `"${r.fields[pcvrAt]}" is not a probability`);
      if (b !== '0' && b !== '1') throw new DataError(path, r.line, 'buy_if_clicked', `"${b}" is not 0 or 1`);
      pcvr.push(p);
      buy.push(b === '1' ? 1 : 0);
    }
  }
  return { pcvr: Float64Array.from(pcvr), buyIfClicked: Uint8Array.from(buy) };
}
