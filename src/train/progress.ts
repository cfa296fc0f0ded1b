/**
 * Training progress: a live bar (samples/s, loss, ETA) on a terminal, plain log lines every few seconds
 * otherwise (CI logs, pipes), nothing when quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressSink {
  start(label: string, total: number): void;
  update(done: number, loss: number): void;
  stop(): void;
  /** A line of its own, e.g. an epoch's evaluation. */
  log(line: string): void;
}

export function createProgress(mode: 'auto' | 'bar' | 'lines' | 'quiet', stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (mode === 'quiet') return quietProgress;
  if (mode === 'bar' || (mode === 'auto' && stream.isTTY)) return new BarProgress(stream);
  return new LineProgress(stream);
}

const quietProgress: ProgressSink = { start() {}, update() {}, stop() {}, log() {} };

function rate(done: number, startedAt: number): number {
  const s = (performance.now() - startedAt) / 1000;
  return s > 0 ? done / s : 0;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

class BarProgress implements ProgressSink {
  private bar: cliProgress.SingleBar | null = null;
  private startedAt = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(label: string, total: number): void {
    this.startedAt = performance.now();
    this.bar = new cliProgress.SingleBar({
      stream: this.stream,
      // total 0: the row count is not known yet (a first streaming epoch without a fitting pass)
      format: total > 0
        ? `${label} [{bar}] {percentage}% | {value}/{total} | {rate} samples/s | loss {loss} | ETA {eta_formatted}`
        : `${label} {value} rows | {rate} samples/s | loss {loss}`,
      etaBuffer: 50,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic);
    this.bar.start(total, 0, { rate: '0', loss: '-' });
  }

  update(done: number, loss: number): void {
    this.bar?.update(done, { rate: Math.round(rate(done, this.startedAt)).toLocaleString('en-US'), loss: loss.toFixed(5) });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }
}

class LineProgress implements ProgressSink {
  private label = '';
  private total = 0;
  private startedAt = 0;
  private lastAt = 0;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 5000) {}

  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.startedAt = this.lastAt = performance.now();
  }

  update(done: number, loss: number): void {
    const now = performance.now();
    const known = this.total > 0;
    if (now - this.lastAt < this.everyMs && (!known || done < this.total)) return;
    this.lastAt = now;
    const r = rate(done, this.startedAt);
    if (!known) {
      this.log(`${this.label} ${done} rows ${Math.round(r)} samples/s loss ${loss.toFixed(5)}`);
      return;
    }
    const eta = r > 0 ? Math.max(0, this.total - done) / r : Infinity;
    this.log(`${this.label} ${done}/${this.total} (${Math.min(100, (100 * done) / this.total).toFixed(1)}%) ${Math.round(r)} samples/s loss ${loss.toFixed(5)} ETA ${formatDuration(eta)}`);
  }

  stop(): void {}

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }
}
