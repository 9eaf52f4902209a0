import type { StepType } from '@patchbay/contracts';

/**
 * What each step type's form shows: a field per parameter, addressed by its path inside the step
 * (the same path the schemas' issues name, so each error lands next to its field).
 */
export type FieldSpec =
  | { kind: 'text'; path: string[]; label: string; hint?: string; optional?: boolean }
  | { kind: 'textarea'; path: string[]; label: string; hint?: string; optional?: boolean }
  | { kind: 'number'; path: string[]; label: string; hint?: string; optional?: boolean; step?: number }
  | { kind: 'select'; path: string[]; label: string; options: readonly string[]; hint?: string; optional?: boolean }
  | { kind: 'bool'; path: string[]; label: string; hint?: string }
  /** A list of strings, one per line (argv, packages, paths). */
  | { kind: 'lines'; path: string[]; label: string; hint?: string; optional?: boolean }
  /** HTTP status codes, comma-separated. */
  | { kind: 'statuses'; path: string[]; label: string; hint?: string; optional?: boolean }
  /** HTTP headers, `Name: value` per line. */
  | { kind: 'headers'; path: string[]; label: string; hint?: string }
  /** An object whose `kind` picks its fields (hooks and checks). */
  | { kind: 'union'; path: string[]; label: string; variants: Record<string, { label: string; initial: Record<string, unknown>; fields: FieldSpec[] }> };

const ON = ['endpoint', 'controller'] as const;
const ARGV_HINT = 'One argument per line, program first (never a shell string).';

const commandHook = (prefix: string[]): FieldSpec[] => [
  { kind: 'select', path: [...prefix, 'on'], label: 'Runs on', options: ON, optional: true },
  { kind: 'lines', path: [...prefix, 'argv'], label: 'Command', hint: ARGV_HINT },
];
const httpHook = (prefix: string[]): FieldSpec[] => [
  { kind: 'select', path: [...prefix, 'method'], label: 'Method', options: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], optional: true },
  { kind: 'text', path: [...prefix, 'url'], label: 'URL' },
  { kind: 'headers', path: [...prefix, 'headers'], label: 'Headers', hint: 'One "Name: value" per line.' },
  { kind: 'textarea', path: [...prefix, 'body'], label: 'Body', optional: true },
  { kind: 'statuses', path: [...prefix, 'expectStatus'], label: 'Expected status codes', hint: 'Comma-separated; default 200, 201, 202, 204.', optional: true },
];
const hookUnion = (withHttp: boolean): FieldSpec => ({
  kind: 'union',
  path: ['params', 'hook'],
  label: 'Hook',
  variants: {
    command: { label: 'Command', initial: { kind: 'command', on: 'controller', argv: [''] }, fields: commandHook(['params', 'hook']) },
    ...(withHttp ? { http: { label: 'HTTP call', initial: { kind: 'http', method: 'POST', url: '' }, fields: httpHook(['params', 'hook']) } } : {}),
  },
});

const commandCheck = (p: string[]): FieldSpec[] => [
  ...commandHook(p),
  { kind: 'number', path: [...p, 'expectExitCode'], label: 'Expected exit code', optional: true },
  { kind: 'text', path: [...p, 'expectOutput'], label: 'Output must contain', optional: true },
];
const httpCheck = (p: string[]): FieldSpec[] => [
  { kind: 'text', path: [...p, 'url'], label: 'URL' },
  { kind: 'statuses', path: [...p, 'expectStatus'], label: 'Expected status codes', hint: 'Comma-separated; default 200.', optional: true },
  { kind: 'text', path: [...p, 'expectBodyContains'], label: 'Body must contain', optional: true },
];
const tcpCheck = (p: string[]): FieldSpec[] => [
  { kind: 'text', path: [...p, 'host'], label: 'Host', hint: "The endpoint's own address when empty.", optional: true },
  { kind: 'number', path: [...p, 'port'], label: 'Port' },
];
const CHECK = ['params', 'check'];
const checkUnion = (withTcp: boolean): FieldSpec => ({
  kind: 'union',
  path: CHECK,
  label: 'Check',
  variants: {
    ...(withTcp ? { tcp: { label: 'TCP port open', initial: { kind: 'tcp', port: 22 }, fields: tcpCheck(CHECK) } } : {}),
    http: { label: 'HTTP answer', initial: { kind: 'http', url: '' }, fields: httpCheck(CHECK) },
    command: { label: 'Command', initial: { kind: 'command', on: 'endpoint', argv: [''] }, fields: commandCheck(CHECK) },
  },
});

export const PARAM_FIELDS: Record<StepType, FieldSpec[]> = {
  'check-disk': [
    { kind: 'text', path: ['params', 'path'], label: 'Path', hint: 'Absolute path; / when empty.', optional: true },
    { kind: 'number', path: ['params', 'minFreeMb'], label: 'Minimum free space (MB)' },
  ],
  'stop-service': [{ kind: 'text', path: ['params', 'service'], label: 'Service' }],
  'start-service': [{ kind: 'text', path: ['params', 'service'], label: 'Service' }],
  snapshot: [hookUnion(false)],
  drain: [hookUnion(true)],
  rejoin: [hookUnion(true)],
  patch: [
    { kind: 'select', path: ['params', 'scope'], label: 'Updates', options: ['all', 'security', 'list'] },
    { kind: 'lines', path: ['params', 'packages'], label: 'Packages', hint: 'Only with "list": one package per line.', optional: true },
    { kind: 'select', path: ['params', 'manager'], label: 'Package manager', options: ['auto', 'apt', 'dnf', 'yum', 'zypper'], optional: true },
  ],
  reboot: [
    { kind: 'select', path: ['params', 'mode'], label: 'Reboot', options: ['if-required', 'always'] },
    { kind: 'number', path: ['params', 'returnTimeoutSeconds'], label: 'Wait for the endpoint to return (s)' },
  ],
  'wait-for': [checkUnion(true), { kind: 'number', path: ['params', 'intervalSeconds'], label: 'Poll every (s)', optional: true, step: 0.1 }],
  validate: [checkUnion(false)],
  cleanup: [
    { kind: 'bool', path: ['params', 'autoremove'], label: 'Remove unused packages' },
    { kind: 'bool', path: ['params', 'cleanCache'], label: 'Clean the package cache' },
    { kind: 'lines', path: ['params', 'paths'], label: 'Paths to remove', hint: 'Absolute paths, one per line.', optional: true },
  ],
  custom: [
    { kind: 'select', path: ['params', 'on'], label: 'Runs on', options: ON, optional: true },
    { kind: 'lines', path: ['params', 'argv'], label: 'Command', hint: ARGV_HINT },
    { kind: 'number', path: ['params', 'expectExitCode'], label: 'Expected exit code', optional: true },
  ],
};

/** Fields every step has. */
export const COMMON_FIELDS: FieldSpec[] = [
  { kind: 'text', path: ['id'], label: 'Step id', hint: 'Lower-case letters, digits and -.' },
  { kind: 'text', path: ['name'], label: 'Name', optional: true },
  { kind: 'number', path: ['timeoutSeconds'], label: 'Timeout (s)', hint: '600 when empty.', optional: true },
  { kind: 'number', path: ['retries', 'max'], label: 'Retries', hint: 'Extra attempts after the first.', optional: true },
  { kind: 'number', path: ['retries', 'backoffSeconds'], label: 'First retry after (s)', optional: true, step: 0.5 },
  { kind: 'select', path: ['onFailure'], label: 'On failure', options: ['stop-endpoint', 'continue', 'compensate'], optional: true },
];

/** Dotted form of a field path, as issues name it (`params.hook.argv`). */
export const dotted = (path: readonly string[]): string => path.join('.');

/** Every field path of a spec list, unions included (for placing issues). */
export function fieldPaths(specs: readonly FieldSpec[], kindOf: (path: string[]) => string | undefined): string[] {
  const out: string[] = [];
  for (const f of specs) {
    out.push(dotted(f.path));
    if (f.kind === 'union') {
      const v = f.variants[kindOf(f.path) ?? ''];
      if (v) out.push(...fieldPaths(v.fields, kindOf));
    }
  }
  return out;
}
