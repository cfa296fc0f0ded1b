import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { EpochRecord } from '../src/io/model-dir.js';
import type { CompareRun } from '../src/train/compare.js';
import { metricsOf, type ScoredRows } from '../src/train/evaluate.js';
import { escapeHtml, writeCompareReport, writeEvalReport, writeTrainReport } from '../src/report/index.js';
import { seededRandom } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'esmm-report-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A funnel where the scores carry some signal: clicks and buys drawn from noisy versions of them. */
function scoredRows(n: number, seed: number): ScoredRows {
  const rand = seededRandom(seed);
  const s: ScoredRows = { pctr: new Float32Array(n), pcvr: new Float32Array(n), click: new Float32Array(n), buy: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    s.pctr[i] = 0.02 + 0.2 * rand();
    s.pcvr[i] = 0.05 + 0.4 * rand();
    s.click[i] = rand() < s.pctr[i] * 1.2 ? 1 : 0;
    s.buy[i] = s.click[i] === 1 && rand() < s.pcvr[i] ? 1 : 0;
  }
  return s;
}

const scores = scoredRows(4000, 7);
const metrics = metricsOf(scores);
const history: EpochRecord[] = [1, 2, 3].map((epoch) => ({
  epoch, steps: 100 * epoch, train_loss: 0.5 - 0.05 * epoch,
  eval: { ...metrics, ctr_auc: 0.6 + 0.01 * epoch, cvr_auc: 0.55 + 0.02 * epoch, ctcvr_auc: 0.62 + 0.015 * epoch },
}));
const runs: CompareRun[] = (['esmm', 'base'] as const).flatMap((kind, k) => [1, 2].map((seed) => ({
  kind, seed, seconds: 1.5, samplesPerSecond: 12345,
  metrics: { ...metrics, cvr_auc: 0.7 - 0.05 * k + 0.01 * seed, ctcvr_auc: 0.68 - 0.04 * k + 0.01 * seed, ctr_auc: 0.6 + 0.005 * seed },
})));

function checkCommon(dir: string, html: string, charts: string[]): void {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.doesNotMatch(html, /https?:\/\//, 'no external references');
  assert.doesNotMatch(html, /<script/i);
  assert.equal((html.match(/<svg/g) ?? []).length, charts.length);
  for (const name of charts) {
    const svg = readFileSync(join(dir, `${name}.svg`), 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, `${name}.svg is a standalone SVG`);
    const png = readFileSync(join(dir, `${name}.png`));
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, `${name}.png`);
    assert.ok(png.length > 2000, `${name}.png has content`);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['report.html', ...charts.flatMap((c) => [`${c}.png`, `${c}.svg`])].sort(), 'no temporaries left');
}

describe('HTML reports', () => {
  test('training report: summary, history table and chart, evaluation charts', async () => {
    const dir = join(root, 'train');
    const out = await writeTrainReport(dir, { history, scores, summary: { model: 'esmm <shared>', rows: 4000, final_loss: 0.35 } });
    assert.equal(out.html, join(dir, 'report.html'));
    const html = readFileSync(out.html, 'utf8');
    for (const h of ['<h2>Summary</h2>', '<h2>Training history</h2>', '<h2>Evaluation</h2>', 'ROC curves', 'Calibration']) assert.ok(html.includes(h), h);
    assert.ok(html.includes('esmm &lt;shared&gt;'), 'text is escaped');
    assert.ok(html.includes('0.3500') && html.includes('0.6300') && html.includes('0.6100'), 'numbers with 4 decimals');
    assert.ok(html.includes(metrics.cvr_auc!.toFixed(4)));
    checkCommon(dir, html, ['history', 'roc', 'calibration']);
  });

  test('training report without scores has only the history chart', async () => {
    const dir = join(root, 'train-noscores');
    const html = readFileSync((await writeTrainReport(dir, { history, summary: {} })).html, 'utf8');
    assert.ok(!html.includes('<h2>Evaluation</h2>'));
    checkCommon(dir, html, ['history']);
  });

  test('evaluation report: metrics table with the AUCs, ROC and calibration charts', async () => {
    const dir = join(root, 'eval');
    const html = readFileSync((await writeEvalReport(dir, { scores, metrics, summary: { model_dir: '/tmp/m' } })).html, 'utf8');
    for (const h of ['<h2>Evaluation</h2>', 'CVR (clicked rows)', '/tmp/m']) assert.ok(html.includes(h), h);
    for (const v of [metrics.ctr_auc, metrics.cvr_auc, metrics.ctcvr_auc, metrics.ctr_logloss]) assert.ok(html.includes(v!.toFixed(4)), String(v));
    checkCommon(dir, html, ['roc', 'calibration']);
  });

  test('comparison report: mean ± std per model, runs and the bar chart', async () => {
    const dir = join(root, 'compare');
    const html = readFileSync((await writeCompareReport(dir, { runs, kinds: ['esmm', 'base'] })).html, 'utf8');
    for (const h of ['<h2>Comparison</h2>', '<h2>Runs</h2>', 'ESMM', 'BASE (CVR on clicks)', 'CVR AUC (clicked)']) assert.ok(html.includes(h), h);
    // esmm cvr_auc over seeds 1, 2: 0.71, 0.72 → mean 0.715, std 0.00707.
    assert.ok(html.includes('0.7150 ± 0.0071'), 'mean ± std');
    assert.ok(html.includes('0.6650 ± 0.0071'), 'base cvr_auc');
    checkCommon(dir, html, ['compare']);
  });

  test('escapeHtml', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe('reports in a browser', () => {
  test('render without errors, with visible charts', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, async () => {
    const { chromium } = await import('playwright-core');
    const dir = join(root, 'browser');
    const { html } = await writeTrainReport(dir, { history, scores, summary: { model: 'esmm' } });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [], requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(html).href;
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [url], 'the page loads nothing but itself');
      const boxes = await page.$$eval('figure > svg', (svgs) => svgs.map((s) => { const r = s.getBoundingClientRect(); return { w: r.width, h: r.height }; }));
      assert.equal(boxes.length, 3);
      for (const b of boxes) assert.ok(b.w > 100 && b.h > 100, `chart box ${b.w}×${b.h}`);
      const shot = join(root, 'report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
      assert.ok(statSync(shot).size > 20_000, `screenshot is ${statSync(shot).size} bytes`);
    } finally {
      await browser.close();
    }
  });
});
