import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Root of the repository (this file compiles to test/deploy/dist/). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
/** The deploy/ directory under test. */
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const CHART_DIR = join(DEPLOY_DIR, 'helm', 'patchbay');

/**
 * The helm binary to render the chart with: `HELM_BIN`, else the one deploy/scripts/build-helm.sh
 * leaves in the tools cache, else `helm` on PATH; undefined when none runs.
 */
export function findHelm(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const toolsDir = env['PATCHBAY_TOOLS_DIR'] ?? join(homedir(), '.cache', 'patchbay', 'tools');
  const candidates = [env['HELM_BIN'], join(toolsDir, 'helm'), 'helm'].filter((c): c is string => !!c);
  for (const c of candidates) {
    if (c.includes('/') && !existsSync(c)) continue;
    const r = spawnSync(c, ['version', '--short'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return c;
  }
  return undefined;
}

/**
 * The kube-validate binary (deploy/scripts/build-kube-validate.sh): `KUBE_VALIDATE_BIN`, else the
 * tools cache; undefined when it is not built.
 */
export function findKubeValidate(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const toolsDir = env['PATCHBAY_TOOLS_DIR'] ?? join(homedir(), '.cache', 'patchbay', 'tools');
  return [env['KUBE_VALIDATE_BIN'], join(toolsDir, 'kube-validate')].find((c): c is string => !!c && existsSync(c));
}

/**
 * A compose implementation that can run `config` without a Docker engine: the `docker compose`
 * plugin, else the standalone `docker-compose`; undefined when neither is installed.
 */
export function findCompose(): { argv: string[]; legacy: boolean } | undefined {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (!plugin.error && plugin.status === 0) return { argv: ['docker', 'compose'], legacy: false };
  const standalone = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (!standalone.error && standalone.status === 0) return { argv: ['docker-compose'], legacy: /^1\./.test(standalone.stdout.trim()) };
  return undefined;
}

/** Runs a command to completion and returns its output (never throws on a non-zero exit). */
export function run(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}
