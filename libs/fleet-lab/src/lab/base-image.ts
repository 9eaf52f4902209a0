import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mirrorFromDeb822, mirrorFromSourcesList } from './apt-sources.js';
import { runCommand } from './command.js';
import { LabBaseBuildError, LabMirrorNotFoundError } from './errors.js';
import { takeLock } from './lock.js';

/** Packages the base must contain: sshd, ps, ip, python3 with apt bindings (Ansible's apt module) and sudo. */
export const BASE_INCLUDE = ['openssh-server', 'procps', 'iproute2', 'python3', 'python3-apt', 'sudo'];

/** Where cached bases live unless `PATCHBAY_LAB_CACHE` says otherwise. */
export function defaultCacheDir(): string {
  return process.env.PATCHBAY_LAB_CACHE ?? '/var/cache/patchbay-lab';
}

/** The Debian mirror the system's apt already uses. */
export async function systemMirror(
  files = { deb822: '/etc/apt/sources.list.d/debian.sources', list: '/etc/apt/sources.list' },
): Promise<string> {
  const read = async (p: string) => (existsSync(p) ? readFile(p, 'utf8') : '');
  const uri = mirrorFromDeb822(await read(files.deb822)) ?? mirrorFromSourcesList(await read(files.list));
  if (!uri) throw new LabMirrorNotFoundError([files.deb822, files.list]);
  return uri;
}

/** A ready Debian root file system that hosts use as their lowest, read-only layer. */
export interface BaseImage {
  rootDir: string;
  suite: string;
  mirror: string;
  /** Seconds the build took (when this call built it), else undefined. */
  builtInSeconds?: number;
}

/**
 * Returns the cached minbase root for `suite`, building it once with debootstrap. Two concurrent
 * builders are serialised by an exclusive lock file; a lock left by a dead process is taken over.
 */
export async function ensureBaseImage(opts: { cacheDir?: string; suite?: string; log?: (line: string) => void } = {}): Promise<BaseImage> {
  const suite = opts.suite ?? 'bookworm';
  const dir = join(opts.cacheDir ?? defaultCacheDir(), `${suite}-minbase`);
  const rootDir = join(dir, 'root');
  const marker = join(dir, 'complete.json');
  const ready = async (): Promise<BaseImage | undefined> => {
    if (!existsSync(marker) || !existsSync(rootDir)) return undefined;
    const info = JSON.parse(await readFile(marker, 'utf8')) as { mirror: string };
    return { rootDir, suite, mirror: info.mirror };
  };
  const cached = await ready();
  if (cached) return cached;
  await mkdir(dir, { recursive: true });
  const release = await takeLock(join(dir, 'build.lock'));
  try {
    const again = await ready();
    if (again) return again;
    const mirror = await systemMirror();
    const tmp = join(dir, `root.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    const started = Date.now();
    opts.log?.(`building ${suite} minbase from ${mirror} (once)`);
    try {
      await runCommand(['debootstrap', '--variant=minbase', `--include=${BASE_INCLUDE.join(',')}`, suite, tmp, mirror]);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw new LabBaseBuildError(`debootstrap of ${suite} failed`, { cause: (e as Error).message });
    }
    await rm(rootDir, { recursive: true, force: true });
    await rename(tmp, rootDir);
    const seconds = (Date.now() - started) / 1000;
    await writeFile(marker, JSON.stringify({ suite, mirror, seconds, builtAt: new Date().toISOString() }));
    return { rootDir, suite, mirror, builtInSeconds: seconds };
  } finally {
    await release();
  }
}
