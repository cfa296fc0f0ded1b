/** The service's Prometheus metrics (prom-client), on a registry of its own. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'esmm_http_requests_total', help: 'HTTP requests by route (the route template; "unmatched" for 404s), method and status',
    labelNames: ['route', 'method', 'status'] as const, registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'esmm_http_request_duration_seconds', help: 'Time from request start to response end, by route',
    labelNames: ['route'] as const, registers: [this.registry],
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  readonly errors = new Counter({
    name: 'esmm_errors_total', help: 'Failed requests by kind: invalid (4xx), overloaded (503 shed), internal (5xx)',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly candidates = new Counter({ name: 'esmm_candidates_scored_total', help: 'Candidates scored', registers: [this.registry] });
  readonly inflight = new Gauge({ name: 'esmm_score_inflight', help: 'Scoring requests being encoded, queued or scored', registers: [this.registry] });
  readonly model = new Gauge({
    name: 'esmm_model_info', help: 'The model being served (value 1), by version (manifest SHA-256 prefix), weights SHA-256, kind and directory',
    labelNames: ['version', 'weights_sha256', 'kind', 'dir'] as const, registers: [this.registry],
  });
  readonly modelLoaded = new Gauge({ name: 'esmm_model_loaded_timestamp_seconds', help: 'When the served model was loaded', registers: [this.registry] });
  readonly reloads = new Counter({
    name: 'esmm_model_reloads_total', help: 'Model reloads by result (ok, refused)', labelNames: ['result'] as const, registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'esmm_' });
  }

  setModel(labels: { version: string; weights_sha256: string; kind: string; dir: string }, loadedAt: Date): void {
    this.model.reset();
    this.model.set(labels, 1);
    this.modelLoaded.set(loadedAt.getTime() / 1000);
  }
}
