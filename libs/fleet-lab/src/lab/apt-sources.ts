/**
 * Reads the Debian mirror from the system's apt configuration, so the base image comes from the
 * same mirror the machine already uses (no host name is ever built in).
 */

/** First `URIs:` value of a deb822 `.sources` file whose suites are plain Debian (not -security). */
export function mirrorFromDeb822(text: string): string | undefined {
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (/^\s*#/.test(line)) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    const types = fields.get('types') ?? '';
    const uri = fields.get('uris')?.split(/\s+/)[0];
    if (!uri || !types.split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/);
    if (suites.some((s) => s.endsWith('-security'))) continue;
    return uri;
  }
  return undefined;
}

/** First `deb` line's URI of a one-line-style sources.list that is not a security archive. */
export function mirrorFromSourcesList(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    if (m[2]!.endsWith('-security') || m[2]!.includes('/updates')) continue;
    return m[1];
  }
  return undefined;
}
