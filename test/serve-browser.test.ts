/**
 * The browser build: headless Chromium opens the page `esmm serve` hosts at /ui/, which loads the model
 * (manifest and weights by fetch, SHA-256 by WebCrypto, WASM kernels on a shared memory), scores rows
 * typed into the page and shows the scores, which must be the numbers `esmm predict` prints.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServeChild, type ServeChild } from '../src/serve/child.js';
import { packageRoot } from './helpers.js';
import { csvRecords, predictLines, trainServeModels, type ServeFixtures } from './serve-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

describe('the browser page of esmm serve', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let dir = '';
  let fx: ServeFixtures;
  let server: ServeChild;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'esmm-serve-browser-'));
    fx = trainServeModels(dir);
    server = await startServeChild(['--model', fx.modelA, '--threads', '0', '--backend', 'wasm', '--log-level', 'warn']);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the bundles import no node: module', () => {
    for (const f of ['esmm.js', 'page.js']) assert.ok(existsSync(join(packageRoot(), 'build', 'web', f)), `build/web/${f} (npm run build)`);
    const web = join(packageRoot(), 'build', 'web');
    const js = readdirSync(web).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(web, f), 'utf8')).join('\n');
    assert.doesNotMatch(js, /from\s*"node:|import\("node:/);
  });

  it('scores rows in the page exactly as esmm predict, cross-origin isolated', async () => {
    const head = await fetch(`${server.url}/ui/`);
    assert.equal(head.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(head.headers.get('cross-origin-embedder-policy'), 'require-corp');
    const test = join(fx.data, 'test.csv');
    const expected = predictLines(dir, fx.modelA, test, 12);
    const request = { candidates: csvRecords(test, 12) };
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}/ui/`, { waitUntil: 'load' });
      await page.evaluate(() => window.esmmPage.ready);
      assert.equal(await page.evaluate(() => crossOriginIsolated), true);
      assert.match(await page.textContent('#status') ?? '', /Model loaded/);
      await page.fill('#request', JSON.stringify(request));
      await page.click('#score-server');
      await page.waitForSelector('#scores:not([hidden])');
      const rows = await page.$$eval('#scores tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      assert.deepEqual(rows.map((r) => r.slice(1, 4).join(',')), expected, 'the page shows what esmm predict prints');
      assert.deepEqual(rows.map((r) => r[5]), Array(12).fill('yes'), 'and what the service answers');
      const direct = await page.evaluate((req) => window.esmmPage.score(req), request);
      assert.deepEqual(direct.map((x) => `${x.pctr},${x.pcvr},${x.pctcvr}`), expected);
      await page.fill('#request', JSON.stringify({ candidates: [{ position: 'abc' }] }));
      await page.click('#score-browser');
      assert.match(await page.textContent('#error') ?? '', /candidates\[0\]\.position: .*not a number/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
