import { linesOf } from './problems.js';

export interface DiskFree {
  mount: string;
  filesystem: string;
  sizeBytes: number;
  freeBytes: number;
}

/**
 * Parses `df -PTk` (POSIX format with type, 1024-byte blocks): `Filesystem Type 1024-blocks Used
 * Available Capacity Mounted-on`. Mount points with spaces are kept whole.
 */
export function parseDf(text: string): { disks: DiskFree[]; unparsed: string[] } {
  const disks: DiskFree[] = [];
  const unparsed: string[] = [];
  for (const line of linesOf(text)) {
    if (!line.trim() || /^Filesystem\s/.test(line)) continue;
    const m = /^(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.+)$/.exec(line.trim());
    if (!m) {
      unparsed.push(line.slice(0, 200));
      continue;
    }
    disks.push({ mount: m[7]!.slice(0, 1000), filesystem: m[2]!.slice(0, 100), sizeBytes: Number(m[3]) * 1024, freeBytes: Number(m[5]) * 1024 });
  }
  return { disks: disks.slice(0, 500), unparsed };
}

/** `/proc/uptime`: seconds since boot (first number). */
export function parseUptime(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** `/proc/sys/kernel/random/boot_id`: a UUID. */
export function parseBootId(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(t) ? t : undefined;
}

/** `systemctl list-units --type=service --state=running --no-legend --plain`: unit names. */
export function parseSystemctlRunning(text: string): string[] {
  return [...new Set(linesOf(text).map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => /^[\w@.:\\-]+\.service$/.test(u)))].sort().slice(0, 5000);
}

/** `ps -eo comm=`: distinct process names, where there is no systemd. */
export function parseProcessNames(text: string): string[] {
  return [...new Set(linesOf(text).map((l) => l.trim().slice(0, 300)).filter((n) => n && n !== 'ps'))].sort().slice(0, 5000);
}
