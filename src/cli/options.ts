/** Option parsing helpers shared by the commands. */
import { InvalidArgumentError } from 'commander';

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

/** Prints one JSON object on a line of its own. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}


/** A parser accepting one of a fixed set of words. */
export function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
}

export const BACKENDS = ['auto', 'native', 'wasm', 'reference'] as const;
export const backendOption = oneOf('--backend', BACKENDS);
export type BackendFlag = (typeof BACKENDS)[number];
/** The --backend help text: the names BACKENDS accepts. */
export const BACKEND_HELP = BACKENDS.join(' | ');

export const THREADS_HELP = 'worker threads sharing the model (default: all cores)';
