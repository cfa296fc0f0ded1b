/** The page at /ui/ of `esmm serve`: load the served model, score a request here, compare with the service. */
import { loadModelFromUrl, scoreRequest, type BrowserModel, type CandidateScore, type FeatureValues, type ScoreRequest } from './index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** A request to start from: three candidates with the first vocabulary values of each column (null where there is none). */
function exampleRequest(m: BrowserModel): ScoreRequest {
  const columns = m.encoder.columns();
  const candidates = [0, 1, 2].map((k) => {
    const c: FeatureValues = {};
    columns.forEach((col, i) => { c[col] = m.encoder.vocabulary(i)?.[k] ?? null; });
    return c;
  });
  return { candidates };
}

function parseRequest(m: BrowserModel, text: string): ScoreRequest {
  const req = JSON.parse(text) as ScoreRequest;
  if (req === null || typeof req !== 'object' || !Array.isArray(req.candidates)) throw new Error('the request needs a "candidates" array');
  const known = new Set(m.encoder.columns());
  const check = (values: FeatureValues | undefined, where: string) => {
    for (const k of Object.keys(values ?? {})) if (!known.has(k)) throw new Error(`${where}.${k}: unknown field (the model's columns: ${[...known].join(', ')})`);
  };
  check(req.shared, 'shared');
  req.candidates.forEach((c, i) => check(c, `candidates[${i}]`));
  return req;
}

function render(scores: CandidateScore[], server: CandidateScore[] | null): void {
  const body = $('scores').querySelector('tbody')!;
  body.replaceChildren(...scores.map((s, i) => {
    const tr = document.createElement('tr');
    const same = server === null ? '' : server[i].pctr === s.pctr && server[i].pcvr === s.pcvr && server[i].pctcvr === s.pctcvr ? 'yes' : 'NO';
    for (const v of [String(i), String(s.pctr), String(s.pcvr), String(s.pctcvr), server === null ? '' : String(server[i].pctcvr), same]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  }));
  $('scores').hidden = false;
}

async function scoreOnServer(text: string): Promise<CandidateScore[]> {
  const res = await fetch('../v1/score', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  const json = await res.json();
  if (!res.ok) throw new Error(`server: ${json.message ?? res.status}`);
  return json.scores;
}

async function main(): Promise<BrowserModel> {
  const m = await loadModelFromUrl('model/', ['kernels-relaxed.wasm', 'kernels.wasm']);
  const fields: Array<[string, string]> = [
    ['kind', m.manifest.spec.kind],
    ['version', m.manifest.manifest_sha256!.slice(0, 16)],
    ['features', m.config.features.map((f) => `${f.name} (${f.type})`).join(', ')],
    ['weights', `${m.manifest.weights.file}, ${m.manifest.weights.bytes} bytes, SHA-256 verified`],
  ];
  $('model').replaceChildren(...fields.flatMap(([k, v]) => {
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
  $<HTMLTextAreaElement>('request').value = JSON.stringify(exampleRequest(m), null, 1);
  $('status').textContent = 'Model loaded.';
  const run = async (withServer: boolean) => {
    $('error').textContent = '';
    try {
      const text = $<HTMLTextAreaElement>('request').value;
      const scores = scoreRequest(m, parseRequest(m, text));
      render(scores, withServer ? await scoreOnServer(text) : null);
    } catch (e) {
      $('error').textContent = (e as Error).message;
      $('scores').hidden = true;
    }
  };
  $<HTMLButtonElement>('score-browser').onclick = () => void run(false);
  $<HTMLButtonElement>('score-server').onclick = () => void run(true);
  for (const id of ['score-browser', 'score-server']) $<HTMLButtonElement>(id).disabled = false;
  return m;
}

const ready = main();
ready.catch((e: Error) => { $('status').textContent = `Cannot load the model: ${e.message}`; });

declare global {
  interface Window {
    /** For scripts and tests: resolves once the model is loaded; score() scores as the button does. */
    esmmPage: { ready: Promise<void>; score(req: ScoreRequest): Promise<CandidateScore[]> };
  }
}
window.esmmPage = { ready: ready.then(() => {}), score: async (req) => scoreRequest(await ready, req) };
