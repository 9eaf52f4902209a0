// Runs every compiled spec file with node's built-in test runner.
//   --tier unit|int|e2e   only files named *.<tier>.spec.js
//   --project <dir>       only that package's tests
// Integration tests start their own servers (nats-server, sshd hosts), so files run one at a time
// by default on small machines; TEST_CONCURRENCY overrides.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tier = opt('--tier');
const project = opt('--project');
const roots = project ? [project] : ['libs', 'services', 'gateway', 'test'].flatMap((r) => (r === 'gateway' ? [r] : existsSync(r) ? readdirSync(r).map((d) => join(r, d)) : []));

const files = [];
/** Collects `*.spec.<ext>` files below `dir` (only `*.<tier>.spec.<ext>` with --tier). */
const walk = (dir, ext) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, ext);
    else if (name.endsWith(`.spec.${ext}`) && (!tier || name.endsWith(`.${tier}.spec.${ext}`))) files.push(p);
  }
};
for (const root of roots) {
  const dist = join(root, 'dist');
  if (existsSync(dist)) walk(dist, 'js');
}
// The web console is bundled by Vite, not compiled by tsc: its plain-JS unit specs live beside its sources.
const consoleSrc = join('gateway', 'console', 'src');
if ((!project || project === 'gateway' || project.startsWith(join('gateway', 'console'))) && existsSync(consoleSrc)) walk(consoleSrc, 'mjs');
files.sort();
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
