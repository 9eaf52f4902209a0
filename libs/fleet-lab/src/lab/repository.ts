import { mkdir, readdir, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import type { PackageSpec } from '../scenario.js';
import { runCommand } from './command.js';

/** Suites of the lab repository, marked the way Debian marks security updates (origin/suite/label). */
export const REPO_SUITES = {
  security: { dir: 'security', suite: 'bookworm-security', codename: 'bookworm-security', label: 'Debian-Security', origin: 'Debian' },
  regular: { dir: 'regular', suite: 'bookworm', codename: 'bookworm', label: 'Debian', origin: 'Debian' },
} as const;

/** The control file of one lab package version (pure, so it can be checked without dpkg). */
export function controlFile(spec: PackageSpec, version: string, opts: { installedKb: number; depends?: string }): string {
  const lines = [
    `Package: ${spec.name}`,
    `Version: ${version}`,
    'Architecture: all',
    'Maintainer: Patchbay Lab <lab@patchbay.invalid>',
    `Installed-Size: ${Math.max(1, opts.installedKb)}`,
    `Section: ${spec.classification === 'security' ? 'admin' : 'misc'}`,
    'Priority: optional',
  ];
  if (opts.depends) lines.push(`Depends: ${opts.depends}`);
  lines.push(`Description: Patchbay lab package ${spec.name}`, ` ${spec.classification} update fixture for the lab fleet.`);
  return `${lines.join('\n')}\n`;
}

/** postinst of the published version: requests a reboot, takes its time and/or fails as the scenario says. */
export function postinstScript(spec: PackageSpec): string {
  const lines = ['#!/bin/sh', 'set -e', 'if [ "$1" = configure ]; then', `  echo "${spec.name} configured" >/dev/null`];
  if (spec.rebootRequired) {
    lines.push('  touch /run/reboot-required', `  echo ${spec.name} >> /run/reboot-required.pkgs`);
  }
  if (spec.postinstSeconds > 0) lines.push(`  sleep ${spec.postinstSeconds}`);
  if (spec.postinstFails) {
    lines.push(`  echo "${spec.name}: post-installation script failure requested by the lab scenario" >&2`, '  exit 1');
  }
  lines.push('fi', 'exit 0');
  return `${lines.join('\n')}\n`;
}

/**
 * Builds one .deb. The published version carries the scenario's payload (zeros, so the .deb stays
 * small while the unpacked size fills a disk) and its postinst behaviour; the installed version is
 * a plain package.
 */
export async function buildDeb(workDir: string, outDir: string, spec: PackageSpec, which: 'installed' | 'available', dependencyVersion?: string): Promise<string> {
  const version = which === 'installed' ? spec.installed! : spec.available;
  const root = join(workDir, `${spec.name}_${version}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  const docDir = join(root, 'usr/share/doc', spec.name);
  await mkdir(docDir, { recursive: true });
  await writeFile(join(docDir, 'VERSION'), `${version}\n`);
  let payloadKb = 0;
  if (which === 'available' && spec.sizeMb > 0) {
    const dataDir = join(root, 'usr/share', spec.name);
    await mkdir(dataDir, { recursive: true });
    await writeZeros(join(dataDir, 'payload.bin'), spec.sizeMb * 1024 * 1024);
    payloadKb = spec.sizeMb * 1024;
  }
  const depends = spec.dependsOn && dependencyVersion ? `${spec.dependsOn.name} (>= ${dependencyVersion})` : undefined;
  await writeFile(join(root, 'DEBIAN/control'), controlFile(spec, version, { installedKb: payloadKb + 4, depends }));
  if (which === 'available') {
    await writeFile(join(root, 'DEBIAN/postinst'), postinstScript(spec));
    await chmod(join(root, 'DEBIAN/postinst'), 0o755);
  }
  await mkdir(outDir, { recursive: true });
  const deb = join(outDir, `${spec.name}_${version}_all.deb`);
  await runCommand(['dpkg-deb', '--root-owner-group', '-Zgzip', '-z1', '--build', root, deb]);
  await rm(root, { recursive: true, force: true });
  return deb;
}

async function writeZeros(path: string, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024);
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/**
 * A local apt repository in two flat suites (security and regular). It lives in the lab's state
 * directory and is bind-mounted read-only into every host, so rewriting it in place is seen by
 * running hosts at their next `apt-get update`.
 */
export class LabRepository {
  constructor(
    /** Repository root: holds `security/`, `regular/`, `initial/` (installed versions) and a work dir. */
    readonly dir: string,
  ) {}

  /** Directory with the installed-version .debs that the lab layer pre-installs. */
  get initialDir(): string {
    return join(this.dir, 'initial');
  }

  /** Builds the installed versions of `installed` and publishes the available versions of `published`. */
  async build(installed: PackageSpec[], published: PackageSpec[]): Promise<void> {
    await mkdir(join(this.dir, REPO_SUITES.security.dir), { recursive: true });
    await mkdir(join(this.dir, REPO_SUITES.regular.dir), { recursive: true });
    const versions = new Map<string, string>();
    for (const p of installed) if (p.installed) versions.set(p.name, p.installed);
    const work = join(this.dir, '.work');
    await Promise.all(
      installed
        .filter((p) => p.installed)
        .map((p) => buildDeb(join(work, 'i'), this.initialDir, p, 'installed', p.dependsOn ? versions.get(p.dependsOn.name) : undefined)),
    );
    await Promise.all(published.map((p) => this.writePackage(p, false)));
    await this.index();
  }

  /**
   * Publishes the available version of `spec` (replacing any other version of that package in
   * either suite) and re-indexes, like a mirror sync.
   */
  async publish(spec: PackageSpec): Promise<void> {
    await this.writePackage(spec, true);
    await this.index();
  }

  /** Removes every published version of `name` and re-indexes. */
  async unpublish(name: string): Promise<void> {
    await this.removePackage(name);
    await this.index();
  }

  private async writePackage(spec: PackageSpec, replace: boolean): Promise<void> {
    if (replace) await this.removePackage(spec.name);
    const suite = spec.classification === 'security' ? REPO_SUITES.security : REPO_SUITES.regular;
    await buildDeb(join(this.dir, '.work', spec.name), join(this.dir, suite.dir), spec, 'available', spec.dependsOn?.version);
  }

  private async removePackage(name: string): Promise<void> {
    for (const s of Object.values(REPO_SUITES)) {
      const dir = join(this.dir, s.dir);
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        if (f.startsWith(`${name}_`) && f.endsWith('.deb')) await rm(join(dir, f));
      }
    }
  }

  /** Writes Packages and Release for both suites; each file is replaced atomically. */
  async index(): Promise<void> {
    await Promise.all(
      Object.values(REPO_SUITES).map(async (s) => {
        const dir = join(this.dir, s.dir);
        const scan = await runCommand(['dpkg-scanpackages', '--multiversion', '.', '/dev/null'], { cwd: dir });
        await writeAtomic(join(dir, 'Packages'), scan.stdout);
        await rm(join(dir, 'Release'), { force: true });
        const release = await runCommand(
          [
            'apt-ftparchive',
            '-o', `APT::FTPArchive::Release::Origin=${s.origin}`,
            '-o', `APT::FTPArchive::Release::Label=${s.label}`,
            '-o', `APT::FTPArchive::Release::Suite=${s.suite}`,
            '-o', `APT::FTPArchive::Release::Codename=${s.codename}`,
            '-o', 'APT::FTPArchive::Release::Architectures=all amd64 arm64',
            'release', '.',
          ],
          { cwd: dir },
        );
        await writeAtomic(join(dir, 'Release'), release.stdout);
      }),
    );
  }
}

async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}
