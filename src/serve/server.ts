/**
 * `esmm serve` as a process: load the model, listen, reload on SIGHUP, and on SIGTERM/SIGINT stop
 * taking requests (readiness goes 503, new connections are refused), finish those in flight, then exit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { BackendName } from '../engine/backend.js';
import { packageRoot } from '../util/package-root.js';
import { buildApp } from './app.js';
import type { ServeContext } from './context.js';
import { ServeMetrics } from './metrics.js';
import { ModelRegistry } from './registry.js';
import type { RequestLimits } from './schema.js';
import type { ScorerOptions } from './serving-model.js';

export interface ServeOptions extends RequestLimits {
  model: string;
  host: string;
  port: number;
  backend: BackendName;
  threads: number;
  bodyLimit: number;
  maxInflight: number;
  adminToken: string | null;
  logLevel: string;
  /** Serve the browser page under /ui/ (when it was built). */
  ui: boolean;
  scorerFactory?: ScorerOptions['scorerFactory'];
}

export interface RunningServer {
  app: FastifyInstance;
  registry: ModelRegistry;
  url: string;
  state: ServeContext['state'];
  /** Stops taking requests, finishes the ones in flight and closes the scorers. */
  close(): Promise<void>;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const log = pino({ level: o.logLevel });
  const metrics = new ServeMetrics();
  const maxBatch = Math.min(o.maxCandidates, 1024);
  const registry = await ModelRegistry.open(o.model, { backend: o.backend, threads: o.threads, maxBatch, scorerFactory: o.scorerFactory }, metrics, log);
  const webDir = join(packageRoot(), 'build', 'web');
  const ctx: ServeContext = {
    registry, metrics, maxInflight: o.maxInflight, adminToken: o.adminToken,
    limits: { maxCandidates: o.maxCandidates, maxListLength: o.maxListLength, maxStringLength: o.maxStringLength },
    webDir: o.ui && existsSync(join(webDir, 'index.html')) ? webDir : null,
    state: { inflight: 0, draining: false },
  };
  if (o.ui && ctx.webDir === null) log.warn(`${webDir} was not built (npm run build): no browser page at /ui/`);
  const app = await buildApp(ctx, { bodyLimit: o.bodyLimit, logger: log });
  const url = await app.listen({ host: o.host, port: o.port });
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    ctx.state.draining = true;
    await app.close();
    await registry.close();
  })());
  return { app, registry, url, state: ctx.state, close };
}

/** Runs until SIGTERM or SIGINT (a second one exits at once); SIGHUP reloads the model directory. */
export async function runServer(o: ServeOptions, shutdownTimeoutMs: number): Promise<void> {
  const server = await startServer(o);
  const log = server.app.log;
  const m = server.registry.current;
  log.info({ url: server.url, model: m.dir, version: m.version, scorer: m.scorer.kind }, 'listening');
  process.stderr.write(`esmm serve: listening on ${server.url} (model ${m.version}, ${m.scorer.kind})\n`);
  const onHup = () => {
    log.info('SIGHUP: reloading the model directory');
    void server.registry.reload();
  };
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    let signalled = false;
    const stop = (signal: NodeJS.Signals) => {
      if (signalled) {
        log.warn(`${signal} again: exiting without draining`);
        process.exit(130);
      }
      signalled = true;
      log.info(`${signal}: draining in-flight requests, then exiting`);
      const timer = setTimeout(() => {
        log.error(`requests still in flight after ${shutdownTimeoutMs} ms: exiting`);
        process.exit(1);
      }, shutdownTimeoutMs);
      timer.unref();
      server.close().then(() => {
        clearTimeout(timer);
        resolve();
      }, (e) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.off('SIGHUP', onHup);
  log.info('stopped');
}
