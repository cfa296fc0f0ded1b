/** What the routes share: the model registry, metrics, limits and the service's state. */
import type { ServeMetrics } from './metrics.js';
import type { ModelRegistry } from './registry.js';
import type { RequestLimits } from './schema.js';

export interface ServeContext {
  registry: ModelRegistry;
  metrics: ServeMetrics;
  limits: RequestLimits;
  /** Scoring requests allowed in flight (encoding, queued or scoring); more are answered 503 at once. */
  maxInflight: number;
  /** POST /admin/reload is refused unless a token is set. */
  adminToken: string | null;
  /** Where the browser page's built files are (build/web), or null to not serve the page. */
  webDir: string | null;
  state: { inflight: number; draining: boolean };
}
