/**
 * Builds the browser files into build/web (run by `npm run build`): esmm.js (the scoring library as an
 * ES module), page.js (the page of GET /ui/), index.html and kernels.wasm. The bundles come from the
 * same sources as node's; the only module replaced is data/encoder-fit.ts (fitting reads files). node:
 * imports are left to tree shaking, and the build fails if any survives.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { packageRoot } from '../util/package-root.js';

const root = packageRoot();
const src = join(root, 'src', 'browser');
const out = join(root, 'build', 'web');

const browserOnly: Plugin = {
  name: 'esmm-browser',
  setup(b) {
    b.onResolve({ filter: /\/encoder-fit\.js$/ }, () => ({ path: join(src, 'encoder-fit-stub.ts') }));
    // Kept only if something reachable uses them, which the check below turns into an error.
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, external: true, sideEffects: false }));
  },
};

rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { esmm: join(src, 'index.ts'), page: join(src, 'page.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  sourcemap: true,
  legalComments: 'none',
  plugins: [browserOnly],
  logLevel: 'warning',
  metafile: true,
});
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const node = meta.imports.filter((i) => i.external).map((i) => i.path);
  if (node.length > 0) throw new Error(`${file} imports ${node.join(', ')}: the browser build must not use node modules`);
}
mkdirSync(out, { recursive: true });
copyFileSync(join(src, 'index.html'), join(out, 'index.html'));
for (const wasm of ['kernels.wasm', 'kernels-relaxed.wasm']) copyFileSync(join(root, 'build', wasm), join(out, wasm));
const kib = readdirSync(out).filter((f) => f.endsWith('.js')).reduce((n, f) => n + readFileSync(join(out, f)).length, 0) / 1024;
process.stdout.write(`build/web: esmm.js and page.js (${kib.toFixed(0)} KiB of JavaScript with their chunk), index.html, kernels.wasm, kernels-relaxed.wasm\n`);
