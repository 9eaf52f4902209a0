import type { PackageManagerName } from '@patchbay/contracts';

export interface OsInfo {
  id: string;
  versionId?: string;
  name?: string;
  prettyName?: string;
  idLike: string[];
}

/** Parses `/etc/os-release` (shell-style `KEY=value`, values optionally quoted, `#` comments). */
export function parseOsRelease(text: string): OsInfo {
  const kv = new Map<string, string>();
  for (const raw of text.split(/\r?\n/).slice(0, 200)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    kv.set(m[1]!, v.slice(0, 300));
  }
  const clip = (s: string | undefined, n: number) => (s === undefined ? undefined : s.slice(0, n));
  return {
    id: clip(kv.get('ID'), 100) ?? 'linux',
    ...(kv.has('VERSION_ID') ? { versionId: clip(kv.get('VERSION_ID'), 100) } : {}),
    ...(kv.has('NAME') ? { name: clip(kv.get('NAME'), 200) } : {}),
    ...(kv.has('PRETTY_NAME') ? { prettyName: clip(kv.get('PRETTY_NAME'), 300) } : {}),
    idLike: (kv.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean).slice(0, 20).map((s) => s.slice(0, 100)),
  };
}

/** The package manager an OS family uses: apt for Debian-likes, dnf (yum before EL 8) for Red Hat-likes, zypper for SUSE. */
export function packageManagerFor(os: OsInfo): PackageManagerName {
  const ids = [os.id, ...os.idLike];
  if (ids.some((i) => ['debian', 'ubuntu'].includes(i))) return 'apt';
  if (ids.some((i) => ['suse', 'opensuse', 'sles', 'sled', 'opensuse-leap', 'opensuse-tumbleweed'].includes(i))) return 'zypper';
  if (ids.some((i) => ['rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'].includes(i))) {
    const major = Number((os.versionId ?? '').split('.')[0]);
    const elLike = os.id !== 'fedora' && !(os.id === 'amzn' && major >= 2022);
    return elLike && major > 0 && major < 8 ? 'yum' : 'dnf';
  }
  return 'unknown';
}
