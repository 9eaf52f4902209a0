import type { PendingUpdate } from '@patchbay/contracts';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string): string => s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => (e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e]!));

/** Attributes of every `<update …>` start tag, and the `<source alias>` inside it. */
function updateElements(xml: string): Array<{ attrs: Record<string, string>; sourceAlias?: string }> {
  const out: Array<{ attrs: Record<string, string>; sourceAlias?: string }> = [];
  const re = /<update\s([^>]*?)(\/?)>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
    let sourceAlias: string | undefined;
    if (m[2] !== '/') {
      const end = xml.indexOf('</update>', re.lastIndex);
      const body = xml.slice(re.lastIndex, end < 0 ? undefined : end);
      const src = /<source\s[^>]*alias\s*=\s*"([^"]*)"/.exec(body);
      if (src) sourceAlias = decode(src[1]!);
      if (end >= 0) re.lastIndex = end + '</update>'.length;
    }
    out.push({ attrs, ...(sourceAlias !== undefined ? { sourceAlias } : {}) });
  }
  return out;
}

/** zypper's XML must be a `<stream>`; anything else (an error text, truncated output) is refused. */
export class ZypperXmlError extends Error {}

function checkStream(xml: string): void {
  if (!/<stream>/.test(xml)) throw new ZypperXmlError('not zypper XML output (no <stream>)');
  if (!/<\/stream>\s*$/.test(xml)) throw new ZypperXmlError('zypper XML output is truncated (no </stream>)');
}

/**
 * Parses `zypper --xmlout list-updates`: package updates with `edition` (new), `edition-old`
 * (installed, newer zypper only) and the repository alias. Patches are not packages and are
 * left to {@link parseZypperListPatches}.
 */
export function parseZypperListUpdates(xml: string): PendingUpdate[] {
  checkStream(xml);
  return updateElements(xml)
    .filter((u) => (u.attrs['kind'] ?? 'package') === 'package' && u.attrs['name'] && u.attrs['edition'])
    .map((u): PendingUpdate => ({
      name: u.attrs['name']!.slice(0, 300),
      ...(u.attrs['edition-old'] ? { from: u.attrs['edition-old'].slice(0, 200) } : {}),
      to: u.attrs['edition']!.slice(0, 200),
      ...(u.attrs['arch'] ? { arch: u.attrs['arch'].slice(0, 50) } : {}),
      ...(u.sourceAlias ? { origin: u.sourceAlias.slice(0, 300) } : {}),
      security: false,
    }));
}

/**
 * Parses `zypper --xmlout list-patches`: needed patches (advisories) with category and severity.
 * On SUSE security is classified per patch, so each needed patch is one pending update
 * (`advisory` = patch name, `security` = category `security`, `severity` as zypper says).
 */
export function parseZypperListPatches(xml: string): PendingUpdate[] {
  checkStream(xml);
  return updateElements(xml)
    .filter((u) => u.attrs['kind'] === 'patch' && u.attrs['name'] && (u.attrs['status'] ?? 'needed') === 'needed')
    .map((u): PendingUpdate => ({
      name: u.attrs['name']!.slice(0, 300),
      to: (u.attrs['edition'] || '1').slice(0, 200),
      ...(u.attrs['arch'] ? { arch: u.attrs['arch'].slice(0, 50) } : {}),
      ...(u.sourceAlias ? { origin: u.sourceAlias.slice(0, 300) } : {}),
      security: u.attrs['category'] === 'security',
      ...(u.attrs['severity'] && u.attrs['severity'] !== 'unspecified' ? { severity: u.attrs['severity'].slice(0, 50) } : {}),
      advisory: u.attrs['name']!.slice(0, 200),
    }));
}
