import { hasProgram, runCommand } from './command.js';
import { LabConfigInvalidError, LabFaultUnsupportedError } from './errors.js';

/**
 * Lab network: one bridge per lab on a private /24, one network namespace per host joined to it by
 * a veth pair. Only these addresses (and loopback) are ever targets of lab traffic or faults.
 */

/** The first three octets of the lab's /24 (e.g. `10.213.4`), validated to be private. */
export function parseSubnet(cidr: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(cidr);
  if (!m) throw new LabConfigInvalidError(`lab subnet must be a /24 like 10.213.4.0/24, got ${cidr}`, { subnet: cidr });
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if ([a, b, c].some((x) => x > 255)) throw new LabConfigInvalidError(`invalid subnet ${cidr}`, { subnet: cidr });
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  if (!isPrivate) throw new LabConfigInvalidError(`lab subnet ${cidr} is not a private range`, { subnet: cidr });
  return `${a}.${b}.${c}`;
}

/** Address of host `index` in the lab subnet (hosts start at .10; .1 is the bridge). */
export function hostAddress(prefix: string, index: number): string {
  if (index < 0 || index > 239) throw new LabConfigInvalidError('a lab holds at most 240 hosts', { index });
  return `${prefix}.${10 + index}`;
}

/** Interface names, short enough for the kernel's 15 characters. */
export function networkNames(labId: string, index: number): { netns: string; veth: string } {
  return { netns: `pblab-${labId}-h${index}`, veth: `pb${labId}h${index}` };
}

/** Name of the lab's bridge. */
export function bridgeName(labId: string): string {
  return `pb${labId}br`;
}

/** /24 subnets currently configured on any interface (to avoid taking one in use). */
export async function subnetsInUse(): Promise<Set<string>> {
  const r = await runCommand(['ip', '-4', '-o', 'addr', 'show']);
  const used = new Set<string>();
  for (const m of r.stdout.matchAll(/inet (\d+\.\d+\.\d+)\.\d+\//g)) used.add(m[1]!);
  return used;
}

/** Creates the lab bridge with the gateway address. */
export async function createBridge(bridge: string, prefix: string): Promise<void> {
  await runCommand(['ip', '-batch', '-'], {
    input: [`link add ${bridge} type bridge`, `addr add ${prefix}.1/24 dev ${bridge}`, `link set ${bridge} up`].join('\n') + '\n',
  });
}

/** Creates a host's namespace with `eth0` on the lab bridge and its address. */
export async function createHostNetwork(bridge: string, prefix: string, index: number, names: { netns: string; veth: string }): Promise<void> {
  await runCommand(['ip', '-batch', '-'], {
    input:
      [
        `netns add ${names.netns}`,
        `link add ${names.veth} type veth peer name eth0 netns ${names.netns}`,
        `link set ${names.veth} master ${bridge}`,
        `link set ${names.veth} up`,
      ].join('\n') + '\n',
  });
  await runCommand(['ip', '-n', names.netns, '-batch', '-'], {
    input:
      [
        'link set lo up',
        `addr add ${hostAddress(prefix, index)}/24 dev eth0`,
        'link set eth0 up',
        `route add default via ${prefix}.1`,
      ].join('\n') + '\n',
  });
}

/** Removes a host's namespace (its veth pair goes with it). Missing pieces are not an error. */
export async function removeHostNetwork(names: { netns: string; veth: string }): Promise<void> {
  await runCommand(['ip', 'link', 'del', names.veth], { allowFailure: true });
  await runCommand(['ip', 'netns', 'del', names.netns], { allowFailure: true });
}

/** Deletes the lab's bridge (missing is fine). */
export async function removeBridge(bridge: string): Promise<void> {
  await runCommand(['ip', 'link', 'del', bridge], { allowFailure: true });
}

/** Namespaces that exist now (from `ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const r = await runCommand(['ip', 'netns', 'list'], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Cuts (down) or restores (up) the host's link: a partition both ways, existing TCP sessions stall. */
export async function setLink(veth: string, up: boolean): Promise<void> {
  await runCommand(['ip', 'link', 'set', veth, up ? 'up' : 'down']);
}

/**
 * Adds delay and loss with tc netem on the host's veth. Throws {@link LabFaultUnsupportedError}
 * when the kernel has no netem (then callers fall back to the forwarder's delay).
 */
export async function addNetem(veth: string, delayMs: number, lossPercent: number): Promise<void> {
  const args = ['tc', 'qdisc', 'replace', 'dev', veth, 'root', 'netem', 'delay', `${delayMs}ms`];
  if (lossPercent > 0) args.push('loss', `${lossPercent}%`);
  const r = await runCommand(args, { allowFailure: true });
  if (r.code !== 0) {
    if (/unknown|not supported|No such file/i.test(r.stderr)) throw new LabFaultUnsupportedError('tc netem', r.stderr.trim());
    throw new LabFaultUnsupportedError('tc netem', r.stderr.trim() || `exit ${r.code}`);
  }
}

/** Removes netem from the host's veth (missing is fine). */
export async function clearNetem(veth: string): Promise<void> {
  await runCommand(['tc', 'qdisc', 'del', 'dev', veth, 'root'], { allowFailure: true });
}

/** The nftables table the lab owns inside a host's namespace for packet loss. */
export const LOSS_TABLE = 'patchbay_fault';

/** Checks a loss percentage: a whole number from 1 to 100 (nftables draws `numgen random mod 100`). */
export function validateLossPercent(percent: number): number {
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new LabConfigInvalidError(`packet loss must be a whole percentage from 1 to 100, got ${percent}`, { percent });
  }
  return percent;
}

/**
 * The nft script that drops `percent` % of the packets crossing the host's `eth0`, each direction
 * drawn on its own (so a round trip is lost with probability 1 - (1 - p)²). Loopback inside the
 * host is left alone. The table is replaced in one transaction, so applying it again changes the rate.
 */
export function nftLossScript(percent: number): string {
  const p = validateLossPercent(percent);
  // nft holds `mod 100` results to 0-99 and refuses `< 100`: total loss is a plain drop.
  const draw = p === 100 ? '' : `numgen random mod 100 < ${p} `;
  return [
    `table inet ${LOSS_TABLE}`,
    `delete table inet ${LOSS_TABLE}`,
    `table inet ${LOSS_TABLE} {`,
    `  chain input { type filter hook input priority -10; policy accept; iifname "eth0" ${draw}drop; }`,
    `  chain output { type filter hook output priority -10; policy accept; oifname "eth0" ${draw}drop; }`,
    '}',
  ].join('\n') + '\n';
}

/**
 * Drops `percent` % of the host's packets with nftables inside its namespace (the kernel needs
 * nf_tables and nft_numgen, not netem). Throws {@link LabFaultUnsupportedError} when `nft` is
 * missing (package `nftables`) or the kernel refuses the table.
 */
export async function addNftLoss(netns: string, percent: number): Promise<void> {
  validateLossPercent(percent);
  if (!(await hasProgram('nft'))) throw new LabFaultUnsupportedError('packet loss', 'no tc netem in this kernel and no nft program; install the nftables package');
  const r = await runCommand(['ip', 'netns', 'exec', netns, 'nft', '-f', '-'], { input: nftLossScript(percent), allowFailure: true });
  if (r.code !== 0) throw new LabFaultUnsupportedError('packet loss with nftables', r.stderr.trim() || `exit ${r.code}`);
}

/** Removes the lab's loss table from the host's namespace (missing table or nft is fine). */
export async function clearNftLoss(netns: string): Promise<void> {
  if (!(await hasProgram('nft'))) return;
  await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'delete', 'table', 'inet', LOSS_TABLE], { allowFailure: true });
}

/** The delay of the netem qdisc in `tc qdisc show` output, in ms (0 when there is none). */
export function netemDelayMs(tcShow: string): number {
  const line = tcShow.split('\n').find((l) => /\bnetem\b/.test(l));
  const m = line ? /delay (\d+(?:\.\d+)?)(us|ms|s)\b/.exec(line) : null;
  if (!m) return 0;
  const v = Number(m[1]);
  return m[2] === 's' ? v * 1000 : m[2] === 'us' ? v / 1000 : v;
}

/**
 * Packet loss on the host: tc netem on its veth where the kernel has netem (keeping a delay
 * already set there), otherwise nftables in its namespace. Resolves with the mechanism used.
 */
export async function addLoss(names: { netns: string; veth: string }, percent: number): Promise<'netem' | 'nftables'> {
  validateLossPercent(percent);
  const shown = await runCommand(['tc', 'qdisc', 'show', 'dev', names.veth], { allowFailure: true });
  try {
    await addNetem(names.veth, netemDelayMs(shown.stdout), percent);
    return 'netem';
  } catch (e) {
    if (!(e instanceof LabFaultUnsupportedError)) throw e;
  }
  await addNftLoss(names.netns, percent);
  return 'nftables';
}

/** Undoes {@link addLoss}: netem keeps its delay (if any), the nftables table goes. */
export async function clearLoss(names: { netns: string; veth: string }): Promise<void> {
  const shown = await runCommand(['tc', 'qdisc', 'show', 'dev', names.veth], { allowFailure: true });
  if (/\bnetem\b/.test(shown.stdout)) {
    const delay = netemDelayMs(shown.stdout);
    if (delay > 0) await addNetem(names.veth, delay, 0);
    else await clearNetem(names.veth);
  }
  await clearNftLoss(names.netns);
}
