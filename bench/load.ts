/**
 * `npm run bench:serve`: load test of `esmm serve` on loopback with autocannon (the load generator runs
 * on the same machine, in this process; the service in a child process). Phases, each bounded in time:
 *   throughput  closed loop, --connections connections: the most requests/s
 *   rate        --rate requests/s (open loop) over --rate-connections connections: the latency at that rate.
 *               Few connections on purpose: autocannon paces a rate per connection and releases each
 *               connection's requests together, so 32 connections arrive as bursts of 32 requests and
 *               the last of each burst waits for the 31 before it (a queue the generator makes)
 *   reload      half of --rate while POST /admin/reload swaps the model every second: must lose nothing
 *   overload    --overload-connections connections: the service sheds with 503 instead of queueing
 *   recovery    200 requests/s after the overload: everything 2xx again
 * Prints req/s, candidates/s, p50/p90/p99 latency, errors and non-2xx per phase; never fails on time.
 * Without --model, trains a model on a simulated data set first (cached in the temp directory).
 *
 *   npm run bench:serve [-- --model DIR] [-- --dim 16 --hidden 64,32] [-- --candidates 100] [-- --threads N] [-- --backend auto|native|wasm] [-- --rate 1000 --rate-connections 4] [-- --json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parse, stringify } from 'yaml';
import { startServeChild, type ServeChild } from '../src/serve/child.js';
import { packageRoot } from '../src/util/package-root.js';
import { Rng } from '../src/util/rng.js';

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string' },
    dim: { type: 'string', default: '16' },
    hidden: { type: 'string', default: '64,32' },
    candidates: { type: 'string', default: '100' },
    threads: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string', default: '1000' },
    'rate-connections': { type: 'string', default: '4' },
    duration: { type: 'string', default: '10' },
    'overload-connections': { type: 'string', default: '256' },
    'max-inflight': { type: 'string', default: '64' },
    'shared-prefix': { type: 'string', default: 'user' },
    json: { type: 'boolean', default: false },
  },
});

const BIN = join(packageRoot(), 'bin', 'esmm.js');
const TOKEN = 'load-test-token';
const candidates = Number(flags.candidates);
const duration = Number(flags.duration);

function esmm(...args: string[]): void {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`esmm ${args.join(' ')} failed:\n${r.stderr}`);
}

/** A model on the simulator's data (300k rows, the features `esmm init` infers) with the given widths. */
function benchModel(): { model: string; data: string } {
  const dir = join(tmpdir(), `esmm-load-d${flags.dim}-h${flags.hidden.replace(/,/g, '-')}`);
  const data = join(dir, 'data');
  if (!existsSync(join(data, 'test.csv'))) esmm('synth', '--rows', '300000', '--seed', '5', '--out', data);
  const model = flags.model ?? join(dir, 'model');
  if (!existsSync(join(model, 'manifest.json'))) {
    const r = spawnSync(process.execPath, [BIN, 'init', '--data', join(data, 'train.csv'), '--click', 'click', '--buy', 'buy'], { encoding: 'utf8' });
    const cfg = parse(r.stdout);
    cfg.model = { ...cfg.model, embedding_dim: Number(flags.dim), hidden_units: flags.hidden.split(',').map(Number) };
    writeFileSync(join(dir, 'config.yaml'), stringify(cfg));
    process.stderr.write(`training the load-test model (dim ${flags.dim}, towers ${flags.hidden}) in ${model}\n`);
    esmm('train', '--config', join(dir, 'config.yaml'), '--train', join(data, 'train.csv'), '--eval', join(data, 'test.csv'), '--out', model, '--progress', 'quiet');
  }
  return { model, data };
}

/** Request bodies from the test rows: one row's user columns shared, `candidates` other rows' columns as candidates. */
function requestBodies(testCsv: string, count: number): string[] {
  const lines = readFileSync(testCsv, 'utf8').trimEnd().split('\n');
  const header = lines[0].split(',');
  const features = header.map((h, i) => [h, i] as const).filter(([h]) => h !== 'click' && h !== 'buy');
  const rows = lines.slice(1).map((l) => l.split(','));
  const rng = new Rng(11);
  const pick = () => rows[Math.floor(rng.uniform() * rows.length)];
  const value = (v: string) => (v.includes('|') ? v.split('|') : v);
  return Array.from({ length: count }, () => {
    const user = pick();
    const shared = Object.fromEntries(features.filter(([h]) => h.startsWith(flags['shared-prefix'])).map(([h, i]) => [h, value(user[i])]));
    const cands = Array.from({ length: candidates }, () => {
      const r = pick();
      return Object.fromEntries(features.filter(([h]) => !h.startsWith(flags['shared-prefix'])).map(([h, i]) => [h, value(r[i])]));
    });
    return JSON.stringify({ shared, candidates: cands });
  });
}

interface Phase {
  phase: string;
  seconds: number;
  requests: number;
  rps: number;
  candidates_per_s: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  status: Record<string, number>;
  note?: string;
}

async function load(server: ServeChild, bodies: string[], name: string, opts: { connections: number; seconds: number; rate?: number }): Promise<Phase> {
  const r = await autocannon({
    url: `${server.url}/v1/score`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: opts.connections,
    duration: opts.seconds,
    // a hard cap as well, in case the clock phase overruns
    maxOverallRequests: Math.max(opts.connections, Math.ceil((opts.rate ?? 20000) * opts.seconds * 1.2)),
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    timeout: 10,
    // a fixed cycle of prepared requests, which autocannon builds once (a per-request setupRequest costs the generator CPU)
    requests: bodies.map((body) => ({ method: 'POST', path: '/v1/score', body })),
  });
  const status = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]));
  const requests = Object.values(status).reduce((a, b) => a + b, 0);
  const ok = status['200'] ?? 0;
  return {
    phase: name, seconds: r.duration, requests, rps: requests / r.duration, candidates_per_s: (ok * candidates) / r.duration,
    p50_ms: r.latency.p50, p90_ms: r.latency.p90, p99_ms: r.latency.p99, max_ms: r.latency.max,
    errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, status,
  };
}

async function reloadEverySecond(server: ServeChild, until: Promise<unknown>): Promise<{ ok: number; failed: number }> {
  let done = false, ok = 0, failed = 0;
  void until.then(() => { done = true; });
  while (!done) {
    await new Promise((r) => setTimeout(r, 1000));
    if (done) break;
    const res = await fetch(`${server.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.ok) ok++;
    else failed++;
  }
  return { ok, failed };
}

async function main(): Promise<void> {
  const { model, data } = benchModel();
  const bodies = requestBodies(join(data, 'test.csv'), 64);
  const args = ['--model', model, '--backend', flags.backend, '--admin-token', TOKEN, '--log-level', 'warn', '--max-inflight', flags['max-inflight']];
  if (flags.threads !== undefined) args.push('--threads', flags.threads);
  const server = await startServeChild(args);
  const info = await (await fetch(`${server.url}/v1/model`)).json();
  const phases: Phase[] = [];
  try {
    await load(server, bodies, 'warmup', { connections: 8, seconds: 3 });
    const c = Number(flags.connections), rate = Number(flags.rate);
    phases.push(await load(server, bodies, 'throughput', { connections: c, seconds: duration }));
    const rc = Number(flags['rate-connections']);
    phases.push(await load(server, bodies, 'rate', { connections: rc, seconds: duration, rate }));
    const reloadPhase = load(server, bodies, 'reload', { connections: rc, seconds: Math.min(duration, 8), rate: rate / 2 });
    const reloads = await reloadEverySecond(server, reloadPhase);
    phases.push({ ...(await reloadPhase), note: `${reloads.ok} reloads swapped, ${reloads.failed} refused` });
    phases.push(await load(server, bodies, 'overload', { connections: Number(flags['overload-connections']), seconds: Math.min(duration, 6) }));
    phases.push(await load(server, bodies, 'recovery', { connections: 8, seconds: 3, rate: 200 }));
  } finally {
    const code = await server.stop('SIGTERM');
    if (code !== 0) process.stderr.write(`esmm serve exited with ${code} after SIGTERM:\n${server.stderr()}\n`);
  }
  const setup = { model, kind: info.kind, scorer: info.scorer, candidates_per_request: candidates, dim: flags.dim, hidden: flags.hidden, backend: flags.backend };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ setup, phases })}\n`);
    return;
  }
  process.stdout.write(`esmm serve load test: ${setup.kind}, ${setup.scorer}, ${candidates} candidates a request, model ${model}\n`);
  const head = ['phase', 'req/s', 'cand/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'status codes'];
  const rows = phases.map((p) => [
    p.phase, p.rps.toFixed(0), p.candidates_per_s.toFixed(0), String(p.p50_ms), String(p.p90_ms), String(p.p99_ms), String(p.max_ms),
    String(p.errors + p.timeouts), String(p.non2xx), Object.entries(p.status).map(([k, v]) => `${k}:${v}`).join(' ') + (p.note ? `  (${p.note})` : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) process.stdout.write(`${r.map((v, i) => (i === r.length - 1 ? v : v.padStart(widths[i]))).join('  ')}\n`);
}

await main();
