import type { Command } from 'commander';
import { runServer } from '../serve/server.js';
import { defaultThreads } from '../serve/pool-scorer.js';
import { BACKEND_HELP, type BackendFlag, backendOption, nonNegativeInt, oneOf, positiveInt } from './options.js';

interface ServeFlags {
  model: string;
  host: string;
  port: number;
  backend: BackendFlag;
  threads: number;
  maxCandidates: number;
  maxListLength: number;
  maxStringLength: number;
  bodyLimit: number;
  maxInflight: number;
  adminToken?: string;
  logLevel: string;
  shutdownTimeout: number;
  ui: boolean;
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('HTTP scoring service: POST /v1/score, /v1/model, /healthz, /readyz, /metrics, /openapi.json, /ui/ (browser page); reloads the model on SIGHUP or POST /admin/reload')
    .requiredOption('--model <dir>', 'model directory written by `esmm train`')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', nonNegativeInt('--port'), 8080)
    .option('--backend <name>', BACKEND_HELP, backendOption, 'auto')
    .option('--threads <n>', 'worker threads for the forward pass (0: on the HTTP thread)', nonNegativeInt('--threads'), defaultThreads())
    .option('--max-candidates <n>', 'most candidates per request', positiveInt('--max-candidates'), 1000)
    .option('--max-list-length <n>', 'most ids in one list value given as an array', positiveInt('--max-list-length'), 1000)
    .option('--max-string-length <n>', 'longest string value', positiveInt('--max-string-length'), 4096)
    .option('--body-limit <bytes>', 'largest request body (413 beyond)', positiveInt('--body-limit'), 1 << 20)
    .option('--max-inflight <n>', 'scoring requests in flight before new ones get 503 (load shedding)', positiveInt('--max-inflight'), 64)
    .option('--admin-token <token>', 'enables POST /admin/reload with Authorization: Bearer <token> (or set ESMM_ADMIN_TOKEN)')
    .option('--log-level <level>', 'fatal | error | warn | info | debug', oneOf('--log-level', ['fatal', 'error', 'warn', 'info', 'debug'] as const), 'info')
    .option('--shutdown-timeout <ms>', 'on SIGTERM/SIGINT, exit after this long even if requests are still in flight', positiveInt('--shutdown-timeout'), 10_000)
    .option('--no-ui', 'do not serve the browser page and the model files under /ui/')
    .action(async (flags: ServeFlags) => {
      const token = flags.adminToken ?? process.env.ESMM_ADMIN_TOKEN ?? null;
      await runServer({
        model: flags.model, host: flags.host, port: flags.port, backend: flags.backend, threads: flags.threads,
        maxCandidates: flags.maxCandidates, maxListLength: flags.maxListLength, maxStringLength: flags.maxStringLength,
        bodyLimit: flags.bodyLimit, maxInflight: flags.maxInflight, adminToken: token === '' ? null : token, logLevel: flags.logLevel, ui: flags.ui,
      }, flags.shutdownTimeout);
    });
}
