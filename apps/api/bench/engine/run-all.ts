/**
 * What `pnpm bench` runs after compiling: the history bench, then the engine bench, each in its own
 * Node process (their output goes straight through). BENCH_ONLY=history or BENCH_ONLY=engine runs one.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES = { history: '../history-bench.js', engine: '../engine-bench.js' } as const;
type Bench = keyof typeof BENCHES;

const only = process.env.BENCH_ONLY?.trim() || null;
if (only !== null && !(only in BENCHES)) {
  process.stderr.write(
    `BENCH_ONLY must be one of ${Object.keys(BENCHES).join(', ')} (or unset for both), got "${only}"\n`,
  );
  process.exit(2);
}
const selected = (only === null ? Object.keys(BENCHES) : [only]) as Bench[];
let failed = false;
for (const name of selected) {
  const script = fileURLToPath(new URL(BENCHES[name], import.meta.url));
  const res = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (res.status !== 0) {
    process.stderr.write(
      `the ${name} bench ${res.signal ? `was killed by ${res.signal}` : `exited with ${res.status}`}\n`,
    );
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
