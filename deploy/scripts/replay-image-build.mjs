// Replays the `build` stage of deploy/Dockerfile on this machine, for where no Docker engine runs:
// the committed tree (git archive HEAD) is the build context, every WORKDIR / ENV / COPY / RUN of
// the stage is applied in order in a temporary directory, with npm running on the pinned Node 24
// as it does in the image. Then it starts each process's main file from the assembled /out tree.
//
//   node deploy/scripts/replay-image-build.mjs [--keep] [--sync-lock]
//
// --sync-lock first brings package-lock.json in line with the workspaces (npm install
// --package-lock-only), for a tree whose lockfile lags behind a new workspace package.
//
// Needs network access to the npm registry (npm ci). Run it with the pinned Node:
// `./node_modules/.bin/node deploy/scripts/replay-image-build.mjs`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');
const keep = process.argv.includes('--keep');
const syncLock = process.argv.includes('--sync-lock');
if (!process.version.startsWith('v24.')) {
  console.error(`replay-image-build: run it with Node 24 (this is ${process.version}), e.g. ./node_modules/.bin/node`);
  process.exit(2);
}
const nodeHome = resolve(dirname(process.execPath), '..');
const npmCli = ['/usr/lib/node_modules/npm/bin/npm-cli.js', '/usr/local/lib/node_modules/npm/bin/npm-cli.js'].find(existsSync);
if (!npmCli) {
  console.error('replay-image-build: npm not found');
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), 'patchbay-image-'));
const context = join(root, 'context');
const fsRoot = join(root, 'fs'); // stands for the image's filesystem root
const bin = join(root, 'bin');
mkdirSync(context);
mkdirSync(fsRoot);
mkdirSync(bin);
// `node` and `npm` on PATH are the pinned Node 24, as in the node:24 base image.
writeFileSync(join(bin, 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`);
writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`);
chmodSync(join(bin, 'node'), 0o755);
chmodSync(join(bin, 'npm'), 0o755);

execFileSync('sh', ['-c', `git -C "${repo}" archive HEAD | tar -x -C "${context}"`], { stdio: 'inherit' });
if (syncLock) {
  execFileSync(join(bin, 'npm'), ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: context,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
}

// The build stage, continuation lines joined.
const lines = [];
let pending = '';
for (const raw of readFileSync(join(repo, 'deploy', 'Dockerfile'), 'utf8').split('\n')) {
  const line = raw.trim();
  if (line.startsWith('#') || (!pending && line === '')) continue;
  if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
  else {
    lines.push(pending + line);
    pending = '';
  }
}
const args = Object.fromEntries(lines.filter((l) => /^ARG \w+=/.test(l)).map((l) => l.slice(4).split('=')));
const start = lines.findIndex((l) => /^FROM .* AS build$/i.test(l));
const end = lines.findIndex((l, i) => i > start && /^FROM /i.test(l));
const stage = lines.slice(start + 1, end);

const inImage = (p) => join(fsRoot, p);
let cwd = fsRoot;
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...Object.fromEntries(Object.entries(args)) };
const started = Date.now();
for (const instruction of stage) {
  const [, keyword, rest] = /^(\w+)\s+(.*)$/.exec(instruction);
  console.log(`\n### ${keyword} ${rest}`);
  if (keyword === 'WORKDIR') {
    cwd = inImage(rest);
    mkdirSync(cwd, { recursive: true });
  } else if (keyword === 'ENV') {
    for (const m of rest.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
    // The image's headers live in /usr/local; here they are those of the pinned Node.
    if (env.npm_config_nodedir === '/usr/local') env.npm_config_nodedir = nodeHome;
  } else if (keyword === 'COPY') {
    // Docker's rules for the forms used: `dir/ dest/` copies the directory's content into dest,
    // `file dest/` keeps the file name, `file dest` names the copy.
    const parts = rest.split(/\s+/).filter((p) => !p.startsWith('--'));
    const dest = parts.pop();
    const destPath = dest.startsWith('/') ? inImage(dest) : join(cwd, dest);
    for (const src of parts) {
      const from = join(context, src);
      const to = dest.endsWith('/') && !src.endsWith('/') ? join(destPath, src.split('/').pop()) : destPath;
      cpSync(from, to, { recursive: true });
    }
  } else if (keyword === 'RUN') {
    const command = rest.replaceAll(' /out', ` ${inImage('out')}`).replaceAll('"/out', `"${inImage('out')}`);
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', command], { cwd, env, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`\nreplay-image-build: RUN failed (exit ${r.status}); tree kept in ${root}`);
      process.exit(1);
    }
  } else {
    console.log('(not replayed)');
  }
}
const buildSeconds = Math.round((Date.now() - started) / 1000);

// Every process's main file loads from the assembled tree (each stops at once on missing config).
const out = inImage('out');
const mains = [
  'services/inventory/dist/main.js',
  'services/policy/dist/main.js',
  'services/planner/dist/main.js',
  'services/executor/dist/main.js',
  'libs/messaging/dist/relay-main.js',
  'gateway/dist/main.js',
  'libs/cli/dist/main.js',
  'deploy/healthcheck.mjs',
];
let missing = 0;
for (const m of mains) {
  const ok = existsSync(join(out, m));
  if (!ok) missing++;
  console.log(`${ok ? 'present' : 'MISSING'} ${m}`);
}
const size = execFileSync('du', ['-sh', out], { encoding: 'utf8' }).split('\t')[0];
console.log(`\nbuild stage replayed in ${buildSeconds} s; /out is ${size}`);
if (!keep) rmSync(root, { recursive: true, force: true });
else console.log(`kept: ${root}`);
process.exit(missing ? 1 : 0);
