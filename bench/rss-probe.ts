/**
 * Loaded with `node --import` when /usr/bin/time is missing: on exit, writes this process's peak RSS (KB)
 * and CPU seconds (user, system) to the file named by ESMM_BENCH_RSS_FILE, as GNU time's `%M %U %S`.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.ESMM_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, `${u.maxRSS} ${u.userCPUTime / 1e6} ${u.systemCPUTime / 1e6}`);
  });
}
