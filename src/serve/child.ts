/** `esmm serve` as a child process (load tests, integration tests): start it, wait until it listens, stop it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

export interface ServeChild {
  url: string;
  proc: ChildProcess;
  /** Everything the service wrote to stderr so far. */
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `esmm serve --port 0 <args>` and resolves once it prints the URL it listens on. */
export function startServeChild(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeChild> {
  const proc = spawn(process.execPath, [join(packageRoot(), 'bin', 'esmm.js'), 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({
        url: m[1], proc, stderr: () => err,
        stop: (signal = 'SIGTERM') => {
          if (proc.exitCode === null) proc.kill(signal);
          return exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`esmm serve exited (${code}) before listening:\n${err}`)));
  });
}
