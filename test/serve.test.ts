/**
 * `esmm serve`: scores identical to `esmm predict`, errors naming the field, the operational routes, hot
 * reload (refusing bad models, losing no request under load), load shedding and its recovery, graceful
 * shutdown, and the CLI process (SIGHUP reload, SIGTERM exit). No assertion on time: on codes and counts.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServeChild } from '../src/serve/child.js';
import { InlineScorer, type Scorer } from '../src/serve/scorer.js';
import type { ScoreRequest } from '../src/serve/scoring.js';
import { startServer, type RunningServer, type ServeOptions } from '../src/serve/server.js';
import { csvRecords, predictLines, scoreLines, trainServeModels, type ServeFixtures } from './serve-fixtures.js';

const TOKEN = 'test-token';
let dir = '';
let fx: ServeFixtures;

function options(model: string, more: Partial<ServeOptions> = {}): ServeOptions {
  return {
    model, host: '127.0.0.1', port: 0, backend: 'wasm', threads: 0, maxCandidates: 50, maxListLength: 20, maxStringLength: 100,
    bodyLimit: 64 * 1024, maxInflight: 64, adminToken: TOKEN, logLevel: 'silent', ui: false, ...more,
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: await res.json().catch(() => null) };
}

const score = (s: RunningServer, body: unknown, headers?: Record<string, string>) => post(`${s.url}/v1/score`, body, headers);
const reload = (s: RunningServer, model?: string) => post(`${s.url}/admin/reload`, model === undefined ? {} : { model }, { authorization: `Bearer ${TOKEN}` });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'esmm-serve-'));
  fx = trainServeModels(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('POST /v1/score', () => {
  let s: RunningServer;
  before(async () => { s = await startServer(options(fx.modelA, { threads: 1 })); });
  after(() => s.close());

  it('scores exactly as esmm predict prints, from raw strings, arrays and numbers, in candidate order', async () => {
    const test = join(fx.data, 'test.csv');
    const expected = predictLines(dir, fx.modelA, test, 40);
    const records = csvRecords(test, 40);
    const plain = await score(s, { candidates: records });
    assert.equal(plain.status, 200, JSON.stringify(plain.json));
    assert.deepEqual(scoreLines(plain.json.scores), expected);
    // the same rows with lists as arrays, numbers as numbers and the user columns shared
    const users = Object.keys(records[0]).filter((k) => k.startsWith('user'));
    const typed = records.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k,
      k === 'user_recent_cats' ? (v === '' ? [] : String(v).split('|')) : k === 'position' ? Number(v) : v])));
    for (const [i, r] of typed.entries()) {
      const shared = Object.fromEntries(users.map((k) => [k, r[k]]));
      const candidate = Object.fromEntries(Object.entries(r).filter(([k]) => !users.includes(k)));
      const one = await score(s, { shared, candidates: [candidate, candidate], request_id: `r${i}` });
      assert.equal(one.status, 200);
      assert.equal(one.json.request_id, `r${i}`);
      assert.deepEqual(scoreLines(one.json.scores), [expected[i], expected[i]], `row ${i}`);
    }
    assert.equal(plain.json.model.version, JSON.parse(readFileSync(join(fx.modelA, 'manifest.json'), 'utf8')).manifest_sha256.slice(0, 16));
  });

  it('uses the out-of-vocabulary row for unknown ids: the same scores as a missing value', async () => {
    const unknown = await score(s, { candidates: [{ item_id: 'never-seen', user_id: 'nobody' }] });
    const missing = await score(s, { candidates: [{ item_id: null }] });
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.json.scores, missing.json.scores);
    const empty = await score(s, { candidates: [] });
    assert.deepEqual([empty.status, empty.json.scores], [200, []]);
  });

  it('answers 400 naming the field for values the schema or the encoder refuses', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ candidates: [{}, {}, {}, { item_id: true }] }, 'candidates[3].item_id', /must be a string, a number or null/],
      [{ candidates: [{ item_id: ['a'] }] }, 'candidates[0].item_id', /must be a string, a number or null/],
      [{ candidates: [{ itemid: 'x' }] }, 'candidates[0].itemid', /unknown field \(the model's columns: user_id, /],
      [{ shared: { user_recent_cats: [1, { a: 1 }] }, candidates: [{}] }, 'shared.user_recent_cats[1]', /must be a string or a number/],
      [{ shared: { position: 'abc' }, candidates: [{}] }, 'shared.position', /not a number: "abc"/],
      [{ candidates: [{}, { position: 'x1' }] }, 'candidates[1].position', /not a number/],
      [{ candidates: [{ user_recent_cats: Array(21).fill('c1') }] }, 'candidates[0].user_recent_cats', /more than 20 items/],
      [{ candidates: [{ item_id: 'x'.repeat(101) }] }, 'candidates[0].item_id', /longer than 100 characters/],
      [{ candidates: Array(51).fill({}) }, 'candidates', /more than 50 items/],
      [{ shared: {} }, 'candidates', /is required/],
      [{ candidates: [], extra: 1 }, 'extra', /unknown field \(shared, candidates, request_id\)/],
      [[1, 2], '(body)', /must be an object/],
    ];
    for (const [body, field, message] of cases) {
      const r = await score(s, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${r.status}`);
      assert.equal(r.json.field, field, r.json.message);
      assert.match(r.json.message, message);
      assert.ok(r.json.message.startsWith(`${field}: `), r.json.message);
    }
  });

  it('refuses malformed bodies with 4xx: bad JSON, empty, other media types and charsets, invalid UTF-8, too large, __proto__', async () => {
    const raw = async (body: BodyInit, type?: string) => {
      const res = await fetch(`${s.url}/v1/score`, { method: 'POST', body, headers: type === undefined ? {} : { 'content-type': type } });
      return { status: res.status, json: await res.json() };
    };
    assert.equal((await raw('{"candidates": [', 'application/json')).status, 400);
    assert.equal((await raw('', 'application/json')).status, 400);
    assert.equal((await raw('{"candidates": []}', 'text/plain')).status, 415);
    assert.equal((await raw('candidates=1', 'application/x-www-form-urlencoded')).status, 415);
    assert.equal((await raw('{"candidates": []}', 'application/json; charset=latin1')).status, 415);
    assert.equal((await raw('{"candidates": []}', 'application/json; charset=utf-8')).status, 200);
    const badUtf8 = Buffer.concat([Buffer.from('{"candidates": [{"item_id": "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')]);
    const r = await raw(badUtf8, 'application/json');
    assert.deepEqual([r.status, r.json.message], [400, 'the body is not valid UTF-8']);
    assert.equal((await raw(JSON.stringify({ candidates: [{ item_id: 'x'.repeat(70_000) }] }), 'application/json')).status, 413);
    assert.equal((await raw('{"candidates": [], "__proto__": {"x": 1}}', 'application/json')).status, 400);
    assert.equal((await raw(`${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'application/json')).status, 400);
  });

  it('serves health, readiness, the model summary, the OpenAPI document of this model and Prometheus metrics', async () => {
    assert.deepEqual(await (await fetch(`${s.url}/healthz`)).json(), { status: 'ok' });
    const ready = await (await fetch(`${s.url}/readyz`)).json();
    assert.equal(ready.status, 'ready');
    const model = await (await fetch(`${s.url}/v1/model`)).json();
    assert.equal(model.kind, 'esmm');
    assert.equal(model.version, ready.version);
    assert.match(model.weights.sha256, /^[0-9a-f]{64}$/);
    assert.match(model.scorer, /worker pool \(1 thread\)/);
    assert.ok(model.features.some((f: { name: string; type: string }) => f.name === 'position' && f.type === 'numeric'));
    assert.equal(typeof model.training.metrics, 'object');
    const doc = await (await fetch(`${s.url}/openapi.json`)).json();
    assert.equal(doc.openapi, '3.1.0');
    const body = doc.paths['/v1/score'].post.requestBody.content['application/json'].schema;
    const columns = Object.keys(body.properties.candidates.items.properties);
    assert.deepEqual(columns, model.columns.map((c: { column: string }) => c.column));
    assert.ok(body.properties.candidates.items.properties.user_recent_cats.type.includes('array'));
    assert.ok(!body.properties.candidates.items.properties.item_id.type.includes('array'));
    assert.equal(body.properties.candidates.maxItems, 50);
    const res = await fetch(`${s.url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /esmm_http_requests_total\{route="\/v1\/score",method="POST",status="200"\} \d+/);
    assert.match(text, /esmm_http_requests_total\{route="\/v1\/score",method="POST",status="400"\} \d+/);
    assert.match(text, /esmm_http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/score"\}/);
    assert.match(text, /esmm_candidates_scored_total \d+/);
    assert.match(text, /esmm_errors_total\{kind="invalid"\} \d+/);
    assert.ok(text.includes(`esmm_model_info{version="${model.version}",weights_sha256="${model.weights.sha256}",kind="esmm"`));
    assert.match(text, /esmm_process_cpu_seconds_total/);
    const missing = await fetch(`${s.url}/nope`);
    assert.equal(missing.status, 404);
  });
});

describe('hot reload', () => {
  let s: RunningServer;
  const body: ScoreRequest = { candidates: [] };
  const expected = new Map<string, string[]>();
  before(async () => {
    body.candidates = csvRecords(join(fx.data, 'test.csv'), 20);
    s = await startServer(options(fx.modelA, { threads: 1 }));
    for (const m of [fx.modelA, fx.modelB]) {
      const version = JSON.parse(readFileSync(join(m, 'manifest.json'), 'utf8')).manifest_sha256.slice(0, 16);
      expected.set(version, predictLines(dir, m, join(fx.data, 'test.csv'), 20));
    }
  });
  after(() => s.close());

  it('is refused without the admin token or with a wrong one', async () => {
    assert.equal((await post(`${s.url}/admin/reload`, {})).status, 401);
    assert.equal((await post(`${s.url}/admin/reload`, {}, { authorization: 'Bearer nope' })).status, 401);
    const off = await startServer(options(fx.modelA, { adminToken: null }));
    try {
      const r = await post(`${off.url}/admin/reload`, {}, { authorization: `Bearer ${TOKEN}` });
      assert.equal(r.status, 403);
      assert.match(r.json.message, /--admin-token/);
    } finally {
      await off.close();
    }
  });

  it('swaps in another model, and refuses broken or different ones while the current one keeps serving', async () => {
    const before = await score(s, body);
    const swapped = await reload(s, fx.modelB);
    assert.equal(swapped.status, 200, JSON.stringify(swapped.json));
    assert.notEqual(swapped.json.version, swapped.json.previous);
    const after = await score(s, body);
    assert.equal(after.json.model.version, swapped.json.version);
    assert.deepEqual(scoreLines(after.json.scores), expected.get(swapped.json.version));
    assert.notDeepEqual(after.json.scores, before.json.scores);

    const broken = (name: string, damage: (d: string) => void) => {
      const d = join(dir, name);
      cpSync(fx.modelA, d, { recursive: true });
      damage(d);
      return d;
    };
    const weightsOf = (d: string) => join(d, JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')).weights.file);
    const bad = [
      [broken('truncated', (d) => truncateSync(weightsOf(d), 1000)), /truncated/],
      [broken('flipped', (d) => { const w = readFileSync(weightsOf(d)); w[w.length - 1] ^= 1; writeFileSync(weightsOf(d), w); }), /SHA-256 does not match/],
      [broken('format', (d) => writeFileSync(join(d, 'manifest.json'), '{"format": "something-else"}')), /not an ESMM model manifest/],
      [join(dir, 'no-such-dir'), /not a model directory/],
      [fx.modelOther, /other columns or feature types/],
    ] as const;
    for (const [d, why] of bad) {
      const r = await reload(s, d);
      assert.equal(r.status, 422, d);
      assert.match(r.json.message, why);
      assert.equal(r.json.version, swapped.json.version);
      const still = await score(s, body);
      assert.equal(still.status, 200);
      assert.equal(still.json.model.version, swapped.json.version);
    }
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /esmm_model_reloads_total\{result="refused"\} 5/);
    assert.match(metrics, /esmm_model_reloads_total\{result="ok"\} 1/);
  });

  it('loses no request while models are swapped under load, and each answer is its model\'s', async () => {
    let stop = false;
    const answers: Array<{ status: number; version?: string; lines?: string[] }> = [];
    const client = async () => {
      while (!stop) {
        const r = await score(s, body);
        answers.push({ status: r.status, version: r.json?.model?.version, lines: r.json?.scores && scoreLines(r.json.scores) });
      }
    };
    const clients = Array.from({ length: 6 }, client);
    const versions = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await reload(s, i % 2 === 0 ? fx.modelA : fx.modelB);
      assert.equal(r.status, 200);
      versions.add(r.json.version);
      // let some requests through on each model
      const seen = answers.length;
      while (answers.length < seen + 6) await new Promise((resolve) => setImmediate(resolve));
    }
    stop = true;
    await Promise.all(clients);
    assert.equal(versions.size, 2);
    assert.ok(answers.length >= 36);
    assert.deepEqual(answers.filter((a) => a.status !== 200), [], 'every request answered 200');
    for (const a of answers) assert.deepEqual(a.lines, expected.get(a.version!), `scores of ${a.version}`);
    assert.equal(new Set(answers.map((a) => a.version)).size, 2, 'both models answered');
  });
});

/** A scorer that holds every batch until released, so the tests control what is in flight. */
class GatedScorer implements Scorer {
  readonly kind = 'gated';
  private waiting: Array<() => void> = [];
  held = 0;
  constructor(private readonly inner: Scorer) {}
  async score(batch: Parameters<Scorer['score']>[0]) {
    this.held++;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.inner.score(batch);
  }
  release(): void {
    for (const go of this.waiting.splice(0)) go();
  }
  close() { return this.inner.close(); }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('overload and shutdown', () => {
  it('sheds requests beyond --max-inflight with 503 and Retry-After, serves those it took, and recovers', async () => {
    let gate: GatedScorer | undefined;
    const s = await startServer(options(fx.modelA, { maxInflight: 4, scorerFactory: ({ model }) => (gate = new GatedScorer(new InlineScorer(model))) }));
    try {
      const body = { candidates: csvRecords(join(fx.data, 'test.csv'), 5) };
      const held = Array.from({ length: 4 }, () => score(s, body));
      await until(() => gate!.held === 4);
      const shed = await Promise.all(Array.from({ length: 12 }, () => score(s, body)));
      assert.deepEqual(shed.map((r) => r.status), Array(12).fill(503));
      assert.equal(shed[0].headers.get('retry-after'), '1');
      assert.match(shed[0].json.message, /overloaded/);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'health is not shed');
      gate!.release();
      assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200, 200, 200]);
      const one = score(s, body);
      await until(() => gate!.held === 5);
      gate!.release();
      assert.equal((await one).status, 200, 'recovered');
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /esmm_errors_total\{kind="overloaded"\} 12\n/);
      assert.match(metrics, /esmm_http_requests_total\{route="\/v1\/score",method="POST",status="503"\} 12\n/);
    } finally {
      gate?.release();
      await s.close();
    }
  });

  it('drains in-flight requests on close: they are answered, readiness and new requests are refused', async () => {
    let gate: GatedScorer | undefined;
    const s = await startServer(options(fx.modelA, { scorerFactory: ({ model }) => (gate = new GatedScorer(new InlineScorer(model))) }));
    const body = { candidates: csvRecords(join(fx.data, 'test.csv'), 3) };
    const inflight = Array.from({ length: 3 }, () => score(s, body));
    await until(() => gate!.held === 3);
    const closed = s.close();
    assert.equal(s.state.draining, true);
    await assert.rejects(fetch(`${s.url}/healthz`, { headers: { connection: 'close' } }), 'the listener is closed');
    gate!.release();
    assert.deepEqual((await Promise.all(inflight)).map((r) => r.status), [200, 200, 200]);
    await closed;
  });
});

describe('esmm serve (the process)', () => {
  it('reloads on SIGHUP, and exits 0 on SIGTERM', { skip: process.platform === 'win32' ? 'no signals' : false }, async () => {
    const served = join(dir, 'served');
    cpSync(fx.modelA, served, { recursive: true });
    const child = await startServeChild(['--model', served, '--threads', '1', '--log-level', 'warn']);
    try {
      const version = async () => (await (await fetch(`${child.url}/v1/model`)).json()).version;
      const first = await version();
      rmSync(served, { recursive: true });
      cpSync(fx.modelB, served, { recursive: true });
      child.proc.kill('SIGHUP');
      let now = first;
      for (let i = 0; i < 400 && now === first; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        now = await version();
      }
      assert.notEqual(now, first, 'SIGHUP loaded the new model');
      const r = await fetch(`${child.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ candidates: [{}] }) });
      assert.equal(r.status, 200);
    } finally {
      assert.equal(await child.stop('SIGTERM'), 0, child.stderr());
    }
  });

  it('refuses to start on a bad model directory, naming it', async () => {
    await assert.rejects(startServeChild(['--model', join(dir, 'nothing-here')]), /not a model directory/);
  });
});
