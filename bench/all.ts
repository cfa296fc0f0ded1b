/**
 * `npm run bench`: the synthetic benchmark model (bench.js) and then the end-to-end benchmark (e2e.js),
 * each in its own process. --json and --no-peer go to both; every other option goes to e2e.js.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const shared = args.filter((a) => a === '--json' || a === '--no-peer');
const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
let code = 0;
for (const [name, argv] of [['bench.js', shared], ['e2e.js', args]] as const) {
  const r = spawnSync(process.execPath, [script(name), ...argv], { stdio: 'inherit' });
  if (r.status !== 0) code = r.status ?? 1;
}
process.exitCode = code;
