import { endpointIdSchema, hostKeyPolicySchema, keyRefSchema, labelKeySchema, labelValueSchema, sshIdentitySchema } from '@patchbay/contracts';
import type { HostKeyPolicy, InventoryFormat, Labels, SshIdentity } from '@patchbay/contracts';
import type { InventoryIssue } from '../errors.js';
import { parseAnsibleIni } from './ansible-ini.js';
import { ansibleTruthy, ComplexValue } from './ansible-values.js';
import { parseAnsibleYaml } from './ansible-yaml.js';
import { parseCsvInventory } from './csv.js';
import type { RawHost, RawInventory } from './raw-inventory.js';

/** An endpoint as an import wants it. */
export interface EndpointSpec {
  endpointId: string;
  labels: Labels;
  ssh: SshIdentity;
  hostKeyPolicy?: HostKeyPolicy;
  line: number;
}

export interface SpecDefaults {
  user?: string;
  port?: number;
  keyRef?: string;
  sudo?: boolean;
}

/** Variables holding secrets: never stored, never logged, never labels. */
export const SECRET_VARS = new Set([
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_become_password',
  'ansible_become_pass',
  'ansible_sudo_pass',
  'ansible_ssh_private_key_passphrase',
]);

/** The label every group membership becomes: `group.<name>` = `true`. */
export const groupLabelKey = (group: string): string => `group.${group}`;

const labelText = (v: unknown): string | undefined => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  return undefined;
};

/**
 * Maps one inventory host to an endpoint:
 * - endpoint id = the inventory host name;
 * - each group (also through `children`; `ungrouped` for hosts in no group, never `all`) →
 *   label `group.<name>=true`;
 * - every other variable → a label of the same name (`role=db` → `role=db`; Python/YAML booleans
 *   as `true`/`false`), so selectors like `role in (db,web)` work;
 * - connection variables → SSH identity: `ansible_host`, `ansible_port` (or `host:port`),
 *   `ansible_user` (`ansible_ssh_user`), `ansible_become` → sudo, `ansible_ssh_private_key_file`
 *   → key reference `file:<path>`, or `patchbay_key_ref` (`file:`/`env:`) which wins;
 *   `patchbay_host_key_policy` (`tofu`/`explicit`);
 * - other `ansible_*` variables are ignored, secret ones (passwords) are dropped and counted.
 */
export function hostToSpec(host: RawHost, file: string, defaults: SpecDefaults, policy: HostKeyPolicy | undefined, issues: InventoryIssue[]): EndpointSpec | undefined {
  const before = issues.length;
  const issue = (code: InventoryIssue['code'], line: number, field: string, message: string) => issues.push({ code, file, line, field, message });
  if (!endpointIdSchema.safeParse(host.name).success) issue('INVALID_ENDPOINT_ID', host.line, 'host', `${JSON.stringify(host.name.slice(0, 100))} is not a valid endpoint id (letters, digits, _ . -, max 200)`);
  const labels: Labels = {};
  for (const g of host.groups) {
    const key = groupLabelKey(g);
    if (!labelKeySchema.safeParse(key).success) issue('INVALID_LABEL', host.line, `group ${g}`, `group name gives an invalid label key ${JSON.stringify(key.slice(0, 100))}`);
    else labels[key] = 'true';
  }
  for (const [name, { value, line }] of host.vars) {
    if (name.startsWith('ansible_') || name.startsWith('patchbay_') || SECRET_VARS.has(name)) continue;
    if (!labelKeySchema.safeParse(name).success) {
      issue('INVALID_LABEL', line, name, 'variable name is not a valid label key (letters, digits, _ . / -, max 64)');
      continue;
    }
    const text = value instanceof ComplexValue ? undefined : labelText(value);
    if (text === undefined || !labelValueSchema.safeParse(text).success) {
      issue('INVALID_LABEL', line, name, `value ${JSON.stringify(String(value instanceof ComplexValue ? value.text : value).slice(0, 100))} is not a valid label value (letters, digits, _ . -, max 64)`);
      continue;
    }
    labels[name] = text;
  }
  const v = (k: string) => host.vars.get(k);
  const hostVar = v('ansible_host') ?? v('ansible_ssh_host');
  const portVar = v('ansible_port') ?? v('ansible_ssh_port');
  const userVar = v('ansible_user') ?? v('ansible_ssh_user');
  const becomeVar = v('ansible_become');
  const keyRefVar = v('patchbay_key_ref');
  const keyFileVar = v('ansible_ssh_private_key_file') ?? v('ansible_private_key_file');
  const policyVar = v('patchbay_host_key_policy');

  const address = hostVar ? String(hostVar.value) : host.name;
  if (!sshIdentitySchema.shape.host.safeParse(address).success) issue('INVALID_SSH_IDENTITY', hostVar?.line ?? host.line, 'ansible_host', `${JSON.stringify(address.slice(0, 100))} is not a host name or address`);
  const portRaw = portVar ? portVar.value : (defaults.port ?? 22);
  const port = typeof portRaw === 'number' ? portRaw : typeof portRaw === 'string' && /^\d+$/.test(portRaw) ? Number(portRaw) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) issue('INVALID_SSH_IDENTITY', portVar?.line ?? host.line, 'ansible_port', `${JSON.stringify(String(portRaw).slice(0, 50))} is not a port (1-65535)`);
  const user = userVar ? String(userVar.value) : (defaults.user ?? 'root');
  if (!sshIdentitySchema.shape.user.safeParse(user).success) issue('INVALID_SSH_IDENTITY', userVar?.line ?? host.line, 'ansible_user', `${JSON.stringify(user.slice(0, 50))} is not a POSIX user name`);
  let sudo = defaults.sudo ?? false;
  if (becomeVar) {
    const b = ansibleTruthy(becomeVar.value);
    if (b === undefined) issue('INVALID_SSH_IDENTITY', becomeVar.line, 'ansible_become', 'expected a boolean (true/false/yes/no)');
    else sudo = b;
  }
  let keyRef = defaults.keyRef;
  if (keyFileVar) keyRef = `file:${String(keyFileVar.value)}`;
  if (keyRefVar) keyRef = String(keyRefVar.value);
  if (keyRef !== undefined && !keyRefSchema.safeParse(keyRef).success) {
    const field = keyRefVar ? 'patchbay_key_ref' : keyFileVar ? 'ansible_ssh_private_key_file' : 'defaults.keyRef';
    issue('INVALID_SSH_IDENTITY', (keyRefVar ?? keyFileVar)?.line ?? host.line, field, 'key reference must be file:<path> or env:<VARIABLE>');
  }
  let hostKeyPolicy = policy;
  if (policyVar) {
    const p = hostKeyPolicySchema.safeParse(policyVar.value);
    if (!p.success) issue('INVALID_SSH_IDENTITY', policyVar.line, 'patchbay_host_key_policy', 'expected tofu or explicit');
    else hostKeyPolicy = p.data;
  }
  if (issues.length > before) return undefined;
  return {
    endpointId: host.name,
    labels,
    ssh: { host: address, port, user, sudo, ...(keyRef !== undefined ? { keyRef } : {}) },
    ...(hostKeyPolicy ? { hostKeyPolicy } : {}),
    line: host.line,
  };
}

/** The most issues an import reports; beyond that the file is clearly not an inventory. */
export const MAX_ISSUES = 1000;

/** Parses a file of the given format. */
export function parseInventory(format: InventoryFormat, text: string, file: string): RawInventory {
  switch (format) {
    case 'ansible-ini':
      return parseAnsibleIni(text, file);
    case 'ansible-yaml':
      return parseAnsibleYaml(text, file);
    case 'csv':
      return parseCsvInventory(text, file);
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

/** Parses and maps a whole file: every endpoint, or every issue (nothing half-valid). */
export function inventoryToSpecs(
  format: InventoryFormat,
  text: string,
  file: string,
  options: { defaults?: SpecDefaults; hostKeyPolicy?: HostKeyPolicy } = {},
): { specs: EndpointSpec[]; issues: InventoryIssue[] } {
  const raw = parseInventory(format, text, file);
  const issues = raw.issues.slice(0, MAX_ISSUES);
  if (issues.length) return { specs: [], issues };
  const specs: EndpointSpec[] = [];
  for (const h of raw.hosts) {
    const s = hostToSpec(h, file, options.defaults ?? {}, options.hostKeyPolicy, issues);
    if (s) specs.push(s);
    if (issues.length >= MAX_ISSUES) break;
  }
  return issues.length ? { specs: [], issues } : { specs, issues };
}
