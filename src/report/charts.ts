/**
 * Report charts: vega-lite specs built from training history, scored rows and comparison runs, rendered
 * headless to SVG (vega's View with renderer 'none', so no browser or canvas is needed) and to PNG (resvg).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EpochRecord } from '../io/model-dir.js';
import { rocCurve } from '../metrics/auc.js';
import { calibration } from '../metrics/calibration.js';
import type { ModelKind } from '../model/esmm.js';
import { summarize, type CompareRun } from '../train/compare.js';
import type { ScoredRows } from '../train/evaluate.js';
import { fmt } from '../util/format.js';
import { COMPARE_METRICS, kindLabel } from './labels.js';

export interface Chart {
  /** File stem: the chart is written as <name>.svg and <name>.png. */
  name: string;
  title: string;
  spec: TopLevelSpec;
}

type Row = Record<string, string | number>;

const WIDTH = 320, HEIGHT = 240;
const CONFIG = { font: 'DejaVu Sans, Arial, sans-serif', view: { stroke: '#ddd' } };

function chart(name: string, title: string, spec: Record<string, unknown>): Chart {
  return { name, title, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...spec } as TopLevelSpec };
}

const q = (field: string, title: string, extra: Record<string, unknown> = {}) => ({ field, type: 'quantitative', title, ...extra });
const n = (field: string, title: string | null, extra: Record<string, unknown> = {}) => ({ field, type: 'nominal', title, ...extra });

/** The three ESMM tasks: label, score and rows, as the evaluation protocol defines them. */
function tasks(s: ScoredRows): Array<{ task: string; scores: Float32Array | Float64Array; labels: ArrayLike<number>; mask?: ArrayLike<number> }> {
  const pctcvr = new Float64Array(s.pctr.length), conversion = new Uint8Array(s.pctr.length);
  for (let i = 0; i < pctcvr.length; i++) { pctcvr[i] = s.pctr[i] * s.pcvr[i]; conversion[i] = s.click[i] * s.buy[i]; }
  return [
    { task: 'CTR (all rows)', scores: s.pctr, labels: s.click },
    { task: 'CVR (clicked rows)', scores: s.pcvr, labels: s.buy, mask: s.click },
    { task: 'CTCVR (all rows)', scores: pctcvr, labels: conversion },
  ];
}

/** Training loss and the evaluation AUCs per epoch, in two stacked panels (their scales differ). Null without epochs. */
export function historyChart(history: EpochRecord[]): Chart | null {
  if (history.length === 0) return null;
  const loss: Row[] = history.map((h) => ({ epoch: h.epoch, value: h.train_loss }));
  const aucs: Row[] = history.flatMap((h) =>
    h.eval === null ? [] : (['ctr_auc', 'cvr_auc', 'ctcvr_auc'] as const).flatMap((k) => (h.eval![k] === null ? [] : [{ epoch: h.epoch, metric: k, value: h.eval![k]! }])));
  const epoch = q('epoch', 'epoch', { axis: { tickMinStep: 1, format: 'd' } });
  const panels: Record<string, unknown>[] = [
    { width: WIDTH, height: HEIGHT / 2, data: { values: loss }, mark: { type: 'line', point: true }, encoding: { x: epoch, y: q('value', 'train loss', { scale: { zero: false } }) } },
  ];
  if (aucs.length > 0) {
    panels.push({ width: WIDTH, height: HEIGHT / 2, data: { values: aucs }, mark: { type: 'line', point: true },
      encoding: { x: epoch, y: q('value', 'eval AUC', { scale: { zero: false } }), color: n('metric', 'metric') } });
  }
  return chart('history', 'Training loss and evaluation AUC per epoch', { vconcat: panels });
}

/** ROC curves of CTR (all rows), CVR (clicked rows) and CTCVR, with the chance diagonal. Null when no curve is defined. */
export function rocChart(scores: ScoredRows, maxPoints = 200): Chart | null {
  const values: Row[] = [];
  for (const t of tasks(scores)) {
    const curve = rocCurve(t.scores, t.labels, maxPoints, t.mask ? { mask: t.mask } : undefined);
    if (curve === null) continue;
    const label = `${t.task}, AUC ${fmt(curve.auc)}`;
    curve.points.forEach((p, i) => values.push({ curve: label, i, fpr: p.fpr, tpr: p.tpr }));
  }
  if (values.length === 0) return null;
  return chart('roc', 'ROC curves', {
    width: WIDTH, height: WIDTH,
    layer: [
      { data: { values: [{ x: 0 }, { x: 1 }] }, mark: { type: 'line', strokeDash: [4, 4], color: '#999' }, encoding: { x: q('x', 'false positive rate'), y: q('x', 'true positive rate') } },
      // `order` keeps the vertices in curve order (vertical stretches share an fpr).
      { data: { values }, mark: 'line', encoding: { x: q('fpr', 'false positive rate'), y: q('tpr', 'true positive rate'), color: n('curve', null, { sort: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0 } }), order: q('i', 'vertex') } },
    ],
  });
}

/** Mean prediction vs observed rate per equal-count bucket, one panel per task, each with its diagonal. */
export function calibrationChart(scores: ScoredRows, buckets = 10): Chart | null {
  const values: Row[] = [];
  for (const t of tasks(scores)) {
    const c = calibration(t.scores, t.labels, buckets, t.mask ? { mask: t.mask } : undefined);
    if (c === null) continue;
    for (const b of c.buckets) values.push({ task: t.task, series: 'model', predicted: b.meanPredicted, observed: b.observedRate });
    const top = Math.max(...c.buckets.map((b) => Math.max(b.meanPredicted, b.observedRate)));
    values.push({ task: t.task, series: 'ideal', predicted: 0, observed: 0 }, { task: t.task, series: 'ideal', predicted: top, observed: top });
  }
  if (values.length === 0) return null;
  const x = q('predicted', 'mean predicted'), y = q('observed', 'observed rate');
  return chart('calibration', 'Calibration (equal-count buckets by prediction)', {
    data: { values },
    facet: { column: n('task', null, { sort: null }) },
    spec: {
      width: WIDTH * 0.7, height: WIDTH * 0.7,
      layer: [
        { transform: [{ filter: "datum.series === 'ideal'" }], mark: { type: 'line', strokeDash: [4, 4], color: '#999' }, encoding: { x, y } },
        { transform: [{ filter: "datum.series === 'model'" }], mark: { type: 'line', point: true }, encoding: { x, y } },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  });
}

/** Mean ± sample std of the paper's AUCs per model kind, bars from the chance level 0.5. Null without values. */
export function comparisonChart(runs: CompareRun[], kinds: ModelKind[]): Chart | null {
  const values: Row[] = [];
  for (const [key, title] of COMPARE_METRICS) {
    for (const kind of kinds) {
      const s = summarize(runs, kind, key);
      if (s !== null) values.push({ metric: title, model: kindLabel(kind), mean: s.mean, lo: s.mean - s.std, hi: s.mean + s.std });
    }
  }
  if (values.length === 0) return null;
  // AUC bars start at chance (0.5), or lower if a model is worse than chance; from 0 the differences would not show.
  const base = Math.min(0.5, Math.floor(Math.min(...values.map((v) => v.lo as number)) * 20) / 20);
  const y = q('mean', 'AUC (mean ± std)', { scale: { domain: [base, 1] } });
  return chart('compare', 'Model comparison', {
    data: { values },
    facet: { column: n('metric', null, { sort: COMPARE_METRICS.map((m) => m[1]) }) },
    spec: {
      width: Math.max(120, 36 * kinds.length), height: HEIGHT,
      layer: [
        { mark: 'bar', encoding: { x: n('model', null, { sort: kinds.map(kindLabel), axis: { labelAngle: -40 } }), y, y2: { datum: base }, color: n('model', 'model', { sort: kinds.map(kindLabel), legend: null }) } },
        { mark: { type: 'rule', color: 'black' }, encoding: { x: n('model', null, { sort: kinds.map(kindLabel) }), y: q('lo', 'AUC (mean ± std)'), y2: { field: 'hi' } } },
      ],
    },
  });
}

/** The chart as a standalone SVG document. */
export async function renderSvg(c: Chart): Promise<string> {
  const view = new vega.View(vega.parse(compile(c.spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An SVG rasterised to PNG at `scale` × its size, with the system fonts (text is left out if there are none). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
