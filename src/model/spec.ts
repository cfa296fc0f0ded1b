/** The model spec a config describes, once the encoder knows each feature's table size. */
import type { Config } from '../config.js';
import type { ModelSpec } from './esmm.js';

export function modelSpecFromConfig(cfg: Config, tableSizes: number[]): ModelSpec {
  const m = cfg.model;
  return {
    kind: m.kind,
    features: cfg.features.map((f, i) => ({ name: f.name, rows: tableSizes[i], pooling: f.pooling })),
    embeddingDim: m.embedding_dim,
    hidden: m.hidden_units,
    activation: m.activation,
    dropout: m.dropout,
    ctrWeight: m.ctr_weight,
    ctcvrWeight: m.ctcvr_weight,
    l2Tower: m.l2_tower,
    l2Embedding: m.l2_embedding,
    embeddingInitStd: m.embedding_init_std,
    denseInit: m.dense_init,
    amanNegativeRate: m.aman_negative_rate,
    oversamplingFactor: m.oversampling_factor,
  };
}
