/**
 * Rows of the raw Ali-CCP files (the ESMM paper's data set):
 *   sample_skeleton_*.csv   sample_id,click,buy,common_feature_index,feature_num,feature_list
 *   common_features_*.csv   common_feature_index,feature_num,feature_list
 * feature_list: features separated by byte 0x01, each `field_id` 0x02 `feat_id` 0x03 `value`.
 * Lines are decoded as latin1 so that one char is one byte; anything but printable ASCII and the three
 * separator bytes is a bad byte.
 */
import type { FieldCollector } from './ali-ccp-columns.js';

export const SKELETON_FIELDS = 6;
export const COMMON_FIELDS = 3;

const BAD_BYTE = /[^\x01-\x03\x20-\x7e]/;
const COUNT = /^\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Why the line has a byte the format does not allow, or null. */
export function badByteReason(text: string): string | null {
  const m = BAD_BYTE.exec(text);
  if (m === null) return null;
  return `unexpected byte 0x${text.charCodeAt(m.index).toString(16).padStart(2, '0')} at byte ${m.index + 1} of the line`;
}

/**
 * The common_feature_index of a skeleton line (its 4th comma-separated value), or null when the line has
 * fewer values or it is empty. The join's passes call exactly this on exactly the same lines, so they
 * agree on which lines look a common row up.
 */
export function skeletonKey(text: string): string | null {
  let at = -1;
  for (let i = 0; i < 3; i++) {
    at = text.indexOf(',', at + 1);
    if (at === -1) return null;
  }
  const end = text.indexOf(',', at + 1);
  if (end === -1 || end === at + 1) return null;
  return text.slice(at + 1, end);
}

/**
 * Adds the features of a feature_list to `collector`; `declared` is the row's feature_num. Returns why
 * the list is malformed (the collector is then reset), or null. Scans by index: splitting into pieces
 * first cost a string and an array element per feature, and the garbage collector noticed.
 */
export function addFeatureList(list: string, declared: string, collector: FieldCollector): string | null {
  if (!COUNT.test(declared)) return `feature_num ${JSON.stringify(declared.slice(0, 20))} is not a count`;
  let count = 0;
  if (list !== '') for (let i = 0; i !== -1; i = list.indexOf('\x01', i + 1)) count++;
  if (count !== Number(declared)) return `feature_num is ${declared} but feature_list has ${count} feature${count === 1 ? '' : 's'}`;
  const len = list.length;
  for (let start = 0, i = 1; count > 0 && start <= len; i++) {
    let end = list.indexOf('\x01', start);
    if (end === -1) end = len;
    const problem = addPiece(list, start, end, collector);
    if (problem !== null) {
      collector.reset();
      return `feature ${i}: ${problem}`;
    }
    start = end + 1;
    if (end === len) break;
  }
  return null;
}

/** The feature list[start..end): field 0x02 feat 0x03 value. */
function addPiece(list: string, start: number, end: number, collector: FieldCollector): string | null {
  const a = list.indexOf('\x02', start);
  const b = a < 0 ? -1 : list.indexOf('\x03', a + 1);
  if (a <= start || a >= end || b <= a + 1 || b >= end - 1 || occursIn(list, '\x02', a + 1, end) || occursIn(list, '\x03', b + 1, end)) {
    return `expected field_id 0x02 feat_id 0x03 value, got ${JSON.stringify(list.slice(start, Math.min(end, start + 40)))}`;
  }
  const value = list.slice(b + 1, end);
  if (value !== '1.0' && value !== '1' && !NUMBER.test(value)) return `value ${JSON.stringify(value.slice(0, 20))} is not a number`;
  return collector.add(list.slice(start, a), list.slice(a + 1, b), value);
}

/** Whether `ch` occurs in list[from..end). */
function occursIn(list: string, ch: string, from: number, end: number): boolean {
  const at = list.indexOf(ch, from);
  return at !== -1 && at < end;
}
