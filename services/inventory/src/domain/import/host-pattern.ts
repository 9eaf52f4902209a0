/** Why a host pattern could not be expanded. */
export class HostPatternError extends Error {}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Ranges can multiply; an inventory line may not explode into more hosts than this. */
export const MAX_HOSTS_PER_PATTERN = 100_000;

/**
 * Expands Ansible host ranges as Ansible's `expand_hostname_range` does: `web[01:20].example.com`
 * (zero-padded when the start has a leading zero, both bounds then of equal length),
 * `db-[a:f]`, an optional step `[1:10:2]`, an empty start meaning 0, several ranges in one name.
 */
export function expandHostRange(pattern: string): string[] {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) throw new HostPatternError(`unclosed range in ${JSON.stringify(pattern)}`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostPatternError('host range must be begin:end or begin:end:step');
  const end = bounds[1]!;
  let beg = bounds[0]!;
  const stepText = bounds[2];
  if (!/^\d*$/.test(stepText ?? '') || stepText === '0') throw new HostPatternError('host range step must be a positive integer');
  const step = stepText ? Number(stepText) : 1;
  if (!beg) beg = '0';
  if (!end) throw new HostPatternError('host range must specify end value');
  let seq: string[];
  const bi = LETTERS.indexOf(beg);
  const ei = LETTERS.indexOf(end);
  if (beg.length === 1 && end.length === 1 && bi >= 0 && ei >= 0) {
    if (bi > ei) throw new HostPatternError('host range must have begin <= end');
    seq = [];
    for (let i = bi; i <= ei; i += step) seq.push(LETTERS[i]!);
  } else {
    if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw new HostPatternError(`host range bounds must be numbers or single letters: [${bounds.join(':')}]`);
    const padded = beg.length > 1 && beg.startsWith('0');
    if (padded && beg.length !== end.length) throw new HostPatternError('host range must specify equal-length begin and end formats');
    const b = Number(beg);
    const e = Number(end);
    if (b > e) throw new HostPatternError('host range must have begin <= end');
    if ((e - b) / step + 1 > MAX_HOSTS_PER_PATTERN) throw new HostPatternError(`host range expands to more than ${MAX_HOSTS_PER_PATTERN} hosts`);
    seq = [];
    for (let i = b; i <= e; i += step) seq.push(padded ? String(i).padStart(beg.length, '0') : String(i));
  }
  const out: string[] = [];
  for (const s of seq) {
    for (const name of expandHostRange(`${head}${s}${tail}`)) {
      out.push(name);
      if (out.length > MAX_HOSTS_PER_PATTERN) throw new HostPatternError(`host range expands to more than ${MAX_HOSTS_PER_PATTERN} hosts`);
    }
  }
  return out;
}

/**
 * Splits a host pattern into name pattern and port as Ansible's `parse_address(allow_ranges=True)`:
 * `host:2222`, `[2001:db8::1]:2222`, a bare IPv6 address (no port), ranges kept intact.
 */
export function splitHostPort(pattern: string): { name: string; port?: number } {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(pattern);
  if (v6 && v6[1]!.includes(':')) return { name: v6[1]!, ...(v6[2] ? { port: Number(v6[2]) } : {}) };
  // Colons inside [a:b] ranges are not port separators.
  const outside = pattern.replace(/\[[^\]]*\]/g, (m) => 'x'.repeat(m.length));
  const colons = [...outside].filter((c) => c === ':').length;
  if (colons === 1) {
    const i = outside.indexOf(':');
    const port = pattern.slice(i + 1);
    if (!/^\d+$/.test(port)) throw new HostPatternError(`invalid port ${JSON.stringify(port)} in host pattern ${JSON.stringify(pattern)}`);
    return { name: pattern.slice(0, i), port: Number(port) };
  }
  return { name: pattern };
}
