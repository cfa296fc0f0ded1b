/**
 * Loading a model in a browser: the two files of a model directory by fetch, checked with WebCrypto's
 * SHA-256 and built by the same code as in node (io/model-bytes.ts), on the WASM kernels fetched and
 * compiled here. The kernels' memory is a shared WebAssembly memory: the page must be cross-origin
 * isolated (COOP same-origin, COEP require-corp), as `esmm serve` sends /ui/.
 */
import { instantiate } from '../engine/wasm.js';
import { EsmmError } from '../errors.js';
import { MANIFEST, modelFromBytes, parseManifest, type ModelFromBytes } from '../io/model-bytes.js';

async function webSha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

async function fetchOk(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new EsmmError(`${url}: cannot fetch: ${(e as Error).message}`);
  }
  if (!res.ok) throw new EsmmError(`${url}: HTTP ${res.status}`);
  return res;
}

export interface BrowserModel extends ModelFromBytes {
  url: string;
}

/**
 * The first of the kernel builds this browser accepts (kernels-relaxed.wasm needs relaxed SIMD: it is
 * what node takes when it can, so page and service compute the same bits on one machine).
 */
async function compileFirstValid(urls: string[]): Promise<WebAssembly.Module> {
  for (const [i, url] of urls.entries()) {
    const bytes = new Uint8Array(await (await fetchOk(new URL(url, location.href).href)).arrayBuffer());
    if (i === urls.length - 1 || WebAssembly.validate(bytes)) return WebAssembly.compile(bytes);
  }
  throw new EsmmError('no kernel build given');
}

/**
 * The model of the directory at `modelUrl` (ending in /), scored by the first kernel build of `wasmUrl`
 * this browser accepts;
 * `maxBatch` rows of workspace (larger batches are scored in pieces).
 */
export async function loadModelFromUrl(modelUrl: string, wasmUrl: string | string[], maxBatch = 256): Promise<BrowserModel> {
  if (!globalThis.crossOriginIsolated) {
    throw new EsmmError('this page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp): the WASM kernels need a shared memory');
  }
  const base = new URL(modelUrl, location.href);
  const manifestUrl = new URL(MANIFEST, base).href;
  const manifest = await parseManifest(await (await fetchOk(manifestUrl)).text(), manifestUrl, webSha256);
  const weightsUrl = new URL(manifest.weights.file, base).href;
  const [weights, module] = await Promise.all([
    fetchOk(weightsUrl).then(async (r) => new Uint8Array(await r.arrayBuffer())),
    compileFirstValid(typeof wasmUrl === 'string' ? [wasmUrl] : wasmUrl),
  ]);
  const parts = await modelFromBytes(manifest, weights, instantiate(module), maxBatch, { manifest: manifestUrl, weights: weightsUrl }, webSha256);
  return { ...parts, url: base.href };
}
