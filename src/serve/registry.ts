/**
 * The model being served and its hot reload: a new directory is loaded and checked beside the current
 * model, then swapped in with one assignment. A request holds the model it started with, so it finishes
 * on that model; the old scorer is closed once its queued work is done. A model that fails to load, or
 * that takes different requests (other columns or feature types: the validation schema and the OpenAPI
 * document are built from the first model), is refused and the current one keeps serving.
 */
import type { FastifyBaseLogger } from 'fastify';
import { EsmmError } from '../errors.js';
import type { ServeMetrics } from './metrics.js';
import { loadServingModel, type ScorerOptions, type ServingModel } from './serving-model.js';

export type ReloadResult =
  | { ok: true; version: string; previous: string; dir: string }
  | { ok: false; error: string; version: string };

export class ModelRegistry {
  private reloading: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private model: ServingModel, private readonly opts: ScorerOptions, private readonly metrics: ServeMetrics, private readonly log: FastifyBaseLogger) {
    this.publish();
  }

  static async open(dir: string, opts: ScorerOptions, metrics: ServeMetrics, log: FastifyBaseLogger): Promise<ModelRegistry> {
    return new ModelRegistry(await loadServingModel(dir, opts), opts, metrics, log);
  }

  get current(): ServingModel {
    return this.model;
  }

  /** Loads `dir` (default: the current model's directory again) and swaps it in; one reload at a time. */
  reload(dir: string = this.model.dir): Promise<ReloadResult> {
    const next = this.reloading.then(() => this.swap(dir));
    this.reloading = next.catch(() => {});
    return next;
  }

  /** Waits for a running reload, then closes the current scorer (after its queued work). */
  async close(): Promise<void> {
    this.closed = true;
    await this.reloading;
    await this.model.scorer.close();
  }

  private async swap(dir: string): Promise<ReloadResult> {
    const old = this.model;
    let fresh: ServingModel;
    try {
      if (this.closed) throw new EsmmError('the service is shutting down');
      fresh = await loadServingModel(dir, this.opts);
    } catch (e) {
      return this.refused(dir, (e as Error).message);
    }
    if (fresh.requestKey !== old.requestKey) {
      await fresh.scorer.close();
      return this.refused(dir, 'the model reads other columns or feature types than the one being served (the request schema would change): restart the service to serve it');
    }
    this.model = fresh;
    this.publish();
    this.metrics.reloads.inc({ result: 'ok' });
    this.log.info({ dir: fresh.dir, version: fresh.version, previous: old.version }, 'model reloaded');
    old.scorer.close().catch((e) => this.log.error({ err: e }, 'closing the previous model\'s scorer failed'));
    return { ok: true, version: fresh.version, previous: old.version, dir: fresh.dir };
  }

  private refused(dir: string, error: string): ReloadResult {
    this.metrics.reloads.inc({ result: 'refused' });
    this.log.error({ dir, error }, 'model reload refused; the current model keeps serving');
    return { ok: false, error, version: this.model.version };
  }

  private publish(): void {
    const m = this.model;
    this.metrics.setModel({ version: m.version, weights_sha256: m.manifest.weights.sha256, kind: m.manifest.spec.kind, dir: m.dir }, m.loadedAt);
  }
}
