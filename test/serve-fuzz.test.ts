/**
 * Property test against a running `esmm serve`: random JSON, near-valid requests with wrong types, huge
 * lists, deep nesting, random bytes and content types never get a 5xx, never stall the service, and a
 * 200 always carries one score per candidate. Afterwards the service still scores correctly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { csvRecords, trainServeModels, type ServeFixtures } from './serve-fixtures.js';

let dir = '';
let fx: ServeFixtures;
let s: RunningServer;
const COLUMNS = ['user_id', 'user_recent_cats', 'item_id', 'position', 'item_price'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esmm-serve-fuzz-'));
  fx = trainServeModels(dir);
  s = await startServer({
    model: fx.modelA, host: '127.0.0.1', port: 0, backend: 'wasm', threads: 0, maxCandidates: 200, maxListLength: 50, maxStringLength: 200,
    bodyLimit: 256 * 1024, maxInflight: 64, adminToken: null, logLevel: 'silent', ui: false,
  });
});
after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function send(body: Uint8Array<ArrayBuffer> | string, contentType: string | null): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.url}/v1/score`, { method: 'POST', body, headers: contentType === null ? {} : { 'content-type': contentType } });
  const text = await res.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { /* checked below */ }
  return { status: res.status, json };
}

/** A 200 has one finite probability triple per candidate; anything else is a 4xx with a message. */
function checkAnswer(r: { status: number; json: any }, candidates: number | null): void {
  if (r.status === 200) {
    assert.ok(Array.isArray(r.json?.scores), 'a 200 has scores');
    if (candidates !== null) assert.equal(r.json.scores.length, candidates);
    for (const x of r.json.scores) for (const p of [x.pctr, x.pcvr, x.pctcvr]) assert.ok(p >= 0 && p <= 1, `score ${p}`);
    return;
  }
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json?.message, 'string', 'a 4xx has a message');
}

const scalar = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 60 }), fc.object({ maxDepth: 2 }), fc.constantFrom('', 'NULL', '1e400', '-0', '  ', 'c1|c2|', '|'));
const features = fc.dictionary(fc.oneof(fc.constantFrom(...COLUMNS), fc.string({ maxLength: 8 })), value, { maxKeys: 6 });
const nearValid = fc.record({
  shared: fc.option(features, { nil: undefined }),
  candidates: fc.oneof(fc.array(features, { maxLength: 8 }), fc.array(fc.constant({}), { minLength: 190, maxLength: 260 }), scalar),
  request_id: fc.option(fc.oneof(fc.string({ maxLength: 300 }), fc.integer()), { nil: undefined }),
}, { requiredKeys: [] });

describe('fuzzed requests to POST /v1/score', () => {
  it('near-valid requests: 200 with a score per candidate, or a 4xx naming the problem', async () => {
    await fc.assert(fc.asyncProperty(nearValid, async (req) => {
      const r = await send(JSON.stringify(req), 'application/json');
      checkAnswer(r, Array.isArray(req.candidates) ? req.candidates.length : null);
      if (r.status === 400) assert.equal(typeof r.json.field, 'string', r.json.message);
    }), { numRuns: 300, seed: 42 });
  });

  it('arbitrary JSON values and deep nesting: never a 5xx', async () => {
    const deep = fc.integer({ min: 1000, max: 60_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
    const deepInField = fc.integer({ min: 100, max: 20_000 }).map((n) => `{"candidates":[{"item_id":${'['.repeat(n)}1${']'.repeat(n)}}]}`);
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? 'null'), deep, deepInField), async (text) => {
      checkAnswer(await send(text, 'application/json'), null);
    }), { numRuns: 200, seed: 7 });
  });

  it('random bytes and content types: a 4xx, never a 5xx', async () => {
    const types = fc.constantFrom(null, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', ';;;');
    const prefix = new TextEncoder().encode('{"candidates":[{"item_id":"');
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => new Uint8Array([...prefix, ...b, 0x22, 0x7d, 0x5d, 0x7d])),
      fc.string({ maxLength: 200 }).map((t) => new TextEncoder().encode(t)),
    );
    await fc.assert(fc.asyncProperty(body, types, async (b, type) => {
      checkAnswer(await send(b, type), null);
    }), { numRuns: 300, seed: 3 });
  });

  it('bodies over the limit and huge lists: 413 or 400; the service then still scores', async () => {
    const huge = JSON.stringify({ candidates: Array.from({ length: 30_000 }, () => ({ item_id: 'i1' })) });
    assert.equal((await send(huge, 'application/json')).status, 413);
    const longList = JSON.stringify({ candidates: [{ user_recent_cats: Array(51).fill('c1') }] });
    assert.equal((await send(longList, 'application/json')).status, 400);
    const manyCandidates = JSON.stringify({ candidates: Array(201).fill({}) });
    assert.equal((await send(manyCandidates, 'application/json')).status, 400);
    const records = csvRecords(join(fx.data, 'test.csv'), 10);
    const ok = await send(JSON.stringify({ candidates: records }), 'application/json');
    checkAnswer(ok, 10);
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /status="5\d\d"/, 'no 5xx was ever answered');
  });
});
