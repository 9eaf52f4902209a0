// Where the stack's CPU went during one cycle: reads the V8 CPU profiles written by the stack's
// processes (bench/cycle-vs-ansible.mjs --profile <dir>) and sums the samples that fall inside the
// cycle's monotonic window (printed by the benchmark, in microseconds), per process, per package
// and per function (self time).
//   ./node_modules/.bin/node bench/cycle/profile-window.mjs <dir> <fromUs> <toUs> [--top 15]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, fromArg, toArg] = process.argv.slice(2);
if (!dir || !fromArg || !toArg) throw new Error('usage: profile-window.mjs <dir> <fromUs> <toUs> [--top n]');
const from = Number(fromArg);
const to = Number(toArg);
const ti = process.argv.indexOf('--top');
const TOP = ti < 0 ? 15 : Number(process.argv[ti + 1]);

const bucketOf = (url, name) => {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return url.split('/')[0];
  const w = /\/(libs|services|apps)\/([^/]+)\//.exec(url);
  if (w) return `@patchbay/${w[2]}`;
  return url;
};

const total = { byBucket: new Map(), byFn: new Map() };
for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile')).sort()) {
  const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  let t = p.startTime;
  let inWindowUs = 0;
  const byBucket = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const n = nodes.get(p.samples[i]);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    inWindowUs += dt;
    const b = bucketOf(cf.url, cf.functionName);
    byBucket.set(b, (byBucket.get(b) ?? 0) + dt);
    total.byBucket.set(b, (total.byBucket.get(b) ?? 0) + dt);
    const fn = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
    total.byFn.set(fn, (total.byFn.get(fn) ?? 0) + dt);
  }
  if (inWindowUs === 0) continue;
  const top = [...byBucket].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}`);
  process.stdout.write(`${f}: ${(inWindowUs / 1000).toFixed(0)} ms on CPU in the window — ${top.join(', ')} (ms)\n`);
}
process.stdout.write('\nall processes, by package (ms):\n');
for (const [k, v] of [...total.byBucket].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${(v / 1000).toFixed(0).padStart(6)}  ${k}\n`);
process.stdout.write('\nall processes, by function, self time (ms):\n');
for (const [k, v] of [...total.byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${(v / 1000).toFixed(0).padStart(6)}  ${k}\n`);
