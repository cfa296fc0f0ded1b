/**
 * Loaded with `node --import` when /usr/bin/time is missing: on exit, writes this process's peak RSS (KB)
 * to the file named by ESMM_BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.ESMM_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
