/**
 * The settings both trainers share in the end-to-end benchmark, and how each side spells them: our
 * config file, and the peer's (../shared/bench/torch_esmm.py) command-line flags.
 */
import { writeFileSync } from 'node:fs';
import { SYNTH_FEATURES } from '../src/data/synth.js';

export interface Settings {
  dim: number;
  hidden: number[];
  batch: number;
  epochs: number;
  lr: number;
  seed: number;
  /**
   * peer: the peer's initialisation (embeddings N(0, 1) as nn.Embedding, towers as nn.Linear);
   * ours: our defaults (embeddings N(0, 0.1²), He-uniform towers).
   */
  init: 'peer' | 'ours';
}

/** Our config: the simulator's columns (the list column mean-pooled, as the peer's EmbeddingBag), lazy Adam on embedding rows (the peer's SparseAdam), Adam on the towers. */
export function writeOurConfig(path: string, s: Settings): void {
  const config = {
    features: SYNTH_FEATURES.map((f) => ({ name: f.name, type: f.type, pooling: 'mean' })),
    model: {
      kind: 'esmm', embedding_dim: s.dim, hidden_units: s.hidden, activation: 'relu', dropout: 0,
      ...(s.init === 'peer' ? { embedding_init_std: 1, dense_init: 'torch' } : {}),
    },
    train: {
      epochs: s.epochs, batch_size: s.batch, learning_rate: s.lr, embedding_optimizer: 'adam',
      embedding_learning_rate: s.lr, seed: s.seed,
    },
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
}

export function peerArgs(s: Settings, train: string, evalFile: string, threads: number, predictions: string): string[] {
  return ['--train', train, '--eval', evalFile, '--model', 'esmm', '--dim', String(s.dim), '--hidden', s.hidden.join(','),
    '--batch', String(s.batch), '--epochs', String(s.epochs), '--lr', String(s.lr), '--threads', String(threads),
    '--seed', String(s.seed), '--predictions', predictions];
}

/** "198→200→80→1": the towers' widths for the simulator's columns at this embedding dim. */
export function towerShape(s: Settings): string {
  return [SYNTH_FEATURES.length * s.dim, ...s.hidden, 1].join('→');
}
