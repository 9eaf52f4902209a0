import { z } from 'zod';
import { defineEvent } from './event.js';
import { PatchbayError } from './errors.js';

/**
 * Workflow templates: the ordered pre-patch, patch and post-patch steps an endpoint goes through in
 * a cycle. The policy service stores them (versioned, stream `workflow-<id>`); the executor runs
 * them and the web console edits them, all with these schemas. Commands are argv arrays, never
 * shell strings; names and paths that end up on a command line are restricted to safe characters.
 */

// ---------------------------------------------------------------------------------------------
// Definition issues: every rejected definition names a stable code and the path of the field.
// ---------------------------------------------------------------------------------------------

/** One problem found in a definition (group, policy, workflow template, bundle file). */
export interface DefinitionIssue {
  /** Stable code, e.g. `WORKFLOW_UNSAFE_VALUE`. */
  code: string;
  /** Dotted path of the offending field (`phases.pre[1].params.service`); empty for the whole document. */
  path: string;
  message: string;
  /** Set for issues found in a bundle file. */
  file?: string;
  line?: number;
  column?: number;
}

/**
 * A definition was rejected. `code` is the code of the first issue (so a caller can branch on the
 * most important problem); `details.issues` lists every problem with its own code and path.
 */
export class DefinitionInvalidError extends PatchbayError {
  constructor(
    readonly issues: readonly DefinitionIssue[],
    what = 'definition',
  ) {
    super(issues[0]?.code ?? 'DEFINITION_INVALID', `invalid ${what}: ${issues.map(formatDefinitionIssue).join('; ')}`, { issues: issues.map((i) => ({ ...i })) });
  }
}

/** `file:line:column path: message [CODE]`, the form shown to people. */
export function formatDefinitionIssue(issue: DefinitionIssue): string {
  const where = issue.file ? `${issue.file}${issue.line ? `:${issue.line}${issue.column ? `:${issue.column}` : ''}` : ''} ` : '';
  return `${where}${issue.path ? `${issue.path}: ` : ''}${issue.message} [${issue.code}]`;
}

/** Renders a zod path as `a.b[2].c`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Codes used when a zod issue carries no code of its own; each family gets its own prefix. */
export interface DefinitionIssueCodes {
  unknownType: string;
  missing: string;
  unknownField: string;
  timeout: string;
  invalid: string;
}

/**
 * Maps zod issues to definition issues with stable codes: a refinement's `params.code` wins; a
 * field absent from the input is "missing"; an unknown discriminator is an unknown type; a number
 * out of range in a field named like a timeout is an impossible timeout.
 */
export function definitionIssuesFromZod(error: z.ZodError, input: unknown, codes: DefinitionIssueCodes): DefinitionIssue[] {
  return error.issues.map((issue) => {
    const path = formatIssuePath(issue.path);
    const last = String(issue.path[issue.path.length - 1] ?? '');
    const custom = (issue as { params?: { code?: unknown } }).params?.code;
    if (typeof custom === 'string') return { code: custom, path, message: issue.message };
    if (issue.code === 'invalid_union' && (issue as { discriminator?: string }).discriminator) {
      const got = valueAt(input, issue.path);
      return { code: got === undefined ? codes.missing : codes.unknownType, path, message: got === undefined ? `${last} is required` : `unknown ${last} ${JSON.stringify(got)}: ${issue.message}` };
    }
    if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return { code: codes.missing, path, message: `${last || 'value'} is required` };
    if (issue.code === 'unrecognized_keys') return { code: codes.unknownField, path, message: issue.message };
    if ((issue.code === 'too_small' || issue.code === 'too_big') && /timeout/i.test(last)) return { code: codes.timeout, path, message: issue.message };
    return { code: codes.invalid, path, message: issue.message };
  });
}

// ---------------------------------------------------------------------------------------------
// Safe values
// ---------------------------------------------------------------------------------------------

/** Characters a shell gives meaning to, plus control characters: never allowed in names and paths. */
const UNSAFE = /[\s;&|`$<>(){}[\]*?!#'"\\\x00-\x1f\x7f]/;

const unsafe = (what: string) => ({ message: `${what} contains a shell metacharacter, whitespace, NUL or a newline`, params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** A systemd-style service name (`nginx`, `postgresql@15-main.service`). */
export const serviceNameSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((v) => !UNSAFE.test(v), unsafe('service name'))
  .refine((v) => UNSAFE.test(v) || /^[A-Za-z0-9@][A-Za-z0-9@._:+-]*$/.test(v), { message: 'service name: letters, digits and @ . _ : + - only', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** A package name as apt, dnf or zypper take it, optionally pinned (`openssl`, `libc6:amd64`, `nginx=1.22.1-9`). */
export const packageNameSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((v) => !UNSAFE.test(v), unsafe('package name'))
  .refine((v) => UNSAFE.test(v) || /^[A-Za-z0-9][A-Za-z0-9+._:=~-]*$/.test(v), { message: 'package name: letters, digits and + . _ : = ~ - only, starting with a letter or digit', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** An absolute path without shell metacharacters or `..` segments. */
export const safePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((v) => !UNSAFE.test(v), unsafe('path'))
  .refine((v) => UNSAFE.test(v) || (v.startsWith('/') && !v.split('/').includes('..')), { message: 'path must be absolute and must not contain ..', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** One argv element: any text but NUL and line breaks (argv never passes through a shell unquoted). */
const argSchema = z
  .string()
  .max(8192)
  .refine((v) => !/[\x00\r\n]/.test(v), { message: 'argument contains NUL or a line break', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** A command as an argv array: program first, then its arguments. Never a shell string. */
export const argvSchema = z
  .array(argSchema)
  .min(1, 'argv needs at least the program')
  .max(256)
  .refine((a) => a.length === 0 || (a[0]!.length > 0 && !UNSAFE.test(a[0]!)), { message: 'argv[0] must be a program name or path without shell metacharacters (commands are argv arrays, not shell strings)', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

/** http/https URLs only (hooks call load balancers' admin APIs, health pages …). */
export const hookUrlSchema = z.string().max(2048).refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !/[\s\x00-\x1f]/.test(v);
    } catch {
      return false;
    }
  },
  { message: 'URL must be an absolute http:// or https:// URL', params: { code: 'WORKFLOW_UNSAFE_VALUE' } },
);

const headerValueSchema = z
  .string()
  .max(4096)
  .refine((v) => !/[\r\n\x00]/.test(v), { message: 'header value contains a line break or NUL', params: { code: 'WORKFLOW_UNSAFE_VALUE' } });

const httpStatusSchema = z.number().int().min(100).max(599);

// ---------------------------------------------------------------------------------------------
// Hooks and checks
// ---------------------------------------------------------------------------------------------

/** Run a command, on the controller (next to Patchbay) or on the endpoint being patched. */
export const commandHookSchema = z
  .object({
    kind: z.literal('command'),
    on: z.enum(['controller', 'endpoint']).default('endpoint'),
    argv: argvSchema,
  })
  .strict();

/** Call an HTTP endpoint (a load balancer's admin API, a chat-ops webhook …). */
export const httpHookSchema = z
  .object({
    kind: z.literal('http'),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    url: hookUrlSchema,
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'header name: letters, digits and -'), headerValueSchema).default({}),
    body: z.string().max(65536).optional(),
    expectStatus: z.array(httpStatusSchema).min(1).default([200, 201, 202, 204]),
  })
  .strict();

const commandCheckSchema = z
  .object({
    kind: z.literal('command'),
    on: z.enum(['controller', 'endpoint']).default('endpoint'),
    argv: argvSchema,
    expectExitCode: z.number().int().min(0).max(255).default(0),
    /** Substring the command's standard output must contain. */
    expectOutput: z.string().max(4096).optional(),
  })
  .strict();

const httpCheckSchema = z
  .object({
    kind: z.literal('http'),
    url: hookUrlSchema,
    expectStatus: z.array(httpStatusSchema).min(1).default([200]),
    expectBodyContains: z.string().max(4096).optional(),
  })
  .strict();

const tcpCheckSchema = z
  .object({
    kind: z.literal('tcp'),
    /** Host to connect to; the endpoint's own address when omitted. */
    host: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, 'host: a name or an address').optional(),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

/** The most any single step may take: a day. */
export const MAX_STEP_TIMEOUT_SECONDS = 86_400;
/** A reboot must allow at least this long for the endpoint to come back. */
export const MIN_REBOOT_RETURN_SECONDS = 30;

export const stepIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'step id: lower-case letters, digits and -, starting with a letter or digit');

const timeoutSchema = z
  .number()
  .int()
  .refine((v) => v > 0, { message: 'timeout must be greater than 0', params: { code: 'WORKFLOW_INVALID_TIMEOUT' } })
  .refine((v) => v <= MAX_STEP_TIMEOUT_SECONDS, { message: `timeout must be at most ${MAX_STEP_TIMEOUT_SECONDS} s (24 h)`, params: { code: 'WORKFLOW_INVALID_TIMEOUT' } });

export const retryPolicySchema = z
  .object({
    /** Extra attempts after the first. */
    max: z.number().int().min(0).max(10).default(0),
    backoffSeconds: z.number().min(0).max(3600).default(5),
    /** Each wait is the previous one times this. */
    multiplier: z.number().min(1).max(10).default(2),
  })
  .strict();

/**
 * What happens when a step fails after its retries: `stop-endpoint` (the endpoint is marked failed
 * and nothing more runs on it), `continue` (go on with the next step), `compensate` (run the steps
 * listed in `compensate`, then stop the endpoint).
 */
export const ON_FAILURE = ['stop-endpoint', 'continue', 'compensate'] as const;

const common = {
  id: stepIdSchema,
  name: z.string().max(200).optional(),
  timeoutSeconds: timeoutSchema.default(600),
  retries: retryPolicySchema.default({ max: 0, backoffSeconds: 5, multiplier: 2 }),
  onFailure: z.enum(ON_FAILURE).default('stop-endpoint'),
  /** Ids of the steps that undo this one, in the order they run (listed next to the step they undo). */
  compensate: z.array(stepIdSchema).max(20).default([]),
};

const step = <T extends string, P extends z.ZodType>(type: T, params: P) => z.object({ type: z.literal(type), ...common, params }).strict();

export const checkDiskStepSchema = step('check-disk', z.object({ path: safePathSchema.default('/'), minFreeMb: z.number().int().min(1).max(10_000_000) }).strict());
export const stopServiceStepSchema = step('stop-service', z.object({ service: serviceNameSchema }).strict());
export const startServiceStepSchema = step('start-service', z.object({ service: serviceNameSchema }).strict());
export const snapshotStepSchema = step('snapshot', z.object({ hook: commandHookSchema }).strict());
export const drainStepSchema = step('drain', z.object({ hook: z.discriminatedUnion('kind', [commandHookSchema, httpHookSchema]) }).strict());
export const rejoinStepSchema = step('rejoin', z.object({ hook: z.discriminatedUnion('kind', [commandHookSchema, httpHookSchema]) }).strict());
export const patchStepSchema = step(
  'patch',
  z
    .object({
      scope: z.enum(['all', 'security', 'list']),
      packages: z.array(packageNameSchema).max(1000).optional(),
      manager: z.enum(['auto', 'apt', 'dnf', 'yum', 'zypper']).default('auto'),
    })
    .strict()
    .superRefine((p, ctx) => {
      if (p.scope === 'list' && (!p.packages || p.packages.length === 0)) ctx.addIssue({ code: 'custom', path: ['packages'], message: 'scope "list" needs a non-empty packages list', params: { code: 'WORKFLOW_MISSING_PARAMETER' } });
      if (p.scope !== 'list' && p.packages) ctx.addIssue({ code: 'custom', path: ['packages'], message: `packages is only allowed with scope "list" (scope is "${p.scope}")`, params: { code: 'WORKFLOW_INVALID_VALUE' } });
    }),
);
export const rebootStepSchema = step(
  'reboot',
  z
    .object({
      mode: z.enum(['if-required', 'always']),
      /** How long to wait for the endpoint to come back with a new boot id. */
      returnTimeoutSeconds: timeoutSchema,
    })
    .strict(),
);
export const waitForStepSchema = step(
  'wait-for',
  z.object({ check: z.discriminatedUnion('kind', [tcpCheckSchema, httpCheckSchema, commandCheckSchema]), intervalSeconds: z.number().min(0.1).max(3600).default(2) }).strict(),
);
export const validateStepSchema = step('validate', z.object({ check: z.discriminatedUnion('kind', [commandCheckSchema, httpCheckSchema]) }).strict());
export const cleanupStepSchema = step(
  'cleanup',
  z
    .object({
      autoremove: z.boolean().default(true),
      cleanCache: z.boolean().default(true),
      paths: z.array(safePathSchema).max(100).default([]),
    })
    .strict(),
);
export const customStepSchema = step('custom', z.object({ on: z.enum(['controller', 'endpoint']).default('endpoint'), argv: argvSchema, expectExitCode: z.number().int().min(0).max(255).default(0) }).strict());

/** Every built-in step type. */
export const STEP_TYPES = ['check-disk', 'stop-service', 'start-service', 'snapshot', 'drain', 'rejoin', 'patch', 'reboot', 'wait-for', 'validate', 'cleanup', 'custom'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const workflowStepSchema = z.discriminatedUnion('type', [
  checkDiskStepSchema,
  stopServiceStepSchema,
  startServiceStepSchema,
  snapshotStepSchema,
  drainStepSchema,
  rejoinStepSchema,
  patchStepSchema,
  rebootStepSchema,
  waitForStepSchema,
  validateStepSchema,
  cleanupStepSchema,
  customStepSchema,
]);
export type WorkflowStep = z.infer<typeof workflowStepSchema>;
/** A step as written (defaults not yet applied). */
export type WorkflowStepInput = z.input<typeof workflowStepSchema>;

/** Template ids are stream-safe slugs. */
export const workflowIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'workflow id: lower-case letters, digits and -, starting with a letter or digit');

const templateBodySchema = z
  .object({
    id: workflowIdSchema,
    name: z.string().max(200).optional(),
    description: z.string().max(4000).optional(),
    phases: z
      .object({
        pre: z.array(workflowStepSchema).max(100).default([]),
        patch: z.array(workflowStepSchema).min(1, 'the patch phase needs at least one step').max(100),
        post: z.array(workflowStepSchema).max(100).default([]),
      })
      .strict(),
    /** Steps that run only as compensations (referred to by `compensate` lists). */
    compensations: z.array(workflowStepSchema).max(100).default([]),
  })
  .strict();

/** A workflow template as stored: validated, defaults applied. */
export type WorkflowTemplate = z.infer<typeof templateBodySchema>;
/** A workflow template as written in YAML or sent by a client. */
export type WorkflowTemplateInput = z.input<typeof templateBodySchema>;

/** The template schema with the cross-step rules (unique ids, compensations, timeouts). */
export const workflowTemplateSchema = templateBodySchema.superRefine((t, ctx) => {
  const seen = new Map<string, string>();
  const all: Array<{ step: WorkflowStep; path: (string | number)[] }> = [];
  for (const phase of ['pre', 'patch', 'post'] as const) t.phases[phase].forEach((s, i) => all.push({ step: s, path: ['phases', phase, i] }));
  t.compensations.forEach((s, i) => all.push({ step: s, path: ['compensations', i] }));
  for (const { step, path } of all) {
    const where = formatIssuePath(path);
    const first = seen.get(step.id);
    if (first) ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `duplicate step id "${step.id}" (first used at ${first})`, params: { code: 'WORKFLOW_DUPLICATE_STEP_ID' } });
    else seen.set(step.id, where);
  }
  for (const { step, path } of all) {
    step.compensate.forEach((ref, j) => {
      if (!seen.has(ref)) ctx.addIssue({ code: 'custom', path: [...path, 'compensate', j], message: `compensation refers to unknown step "${ref}"`, params: { code: 'WORKFLOW_UNKNOWN_COMPENSATION' } });
      else if (ref === step.id) ctx.addIssue({ code: 'custom', path: [...path, 'compensate', j], message: 'a step cannot compensate itself', params: { code: 'WORKFLOW_UNKNOWN_COMPENSATION' } });
    });
    if (step.onFailure === 'compensate' && step.compensate.length === 0)
      ctx.addIssue({ code: 'custom', path: [...path, 'compensate'], message: 'onFailure "compensate" needs at least one compensating step', params: { code: 'WORKFLOW_MISSING_PARAMETER' } });
    if (step.type === 'reboot') {
      if (step.params.returnTimeoutSeconds < MIN_REBOOT_RETURN_SECONDS)
        ctx.addIssue({ code: 'custom', path: [...path, 'params', 'returnTimeoutSeconds'], message: `a reboot needs at least ${MIN_REBOOT_RETURN_SECONDS} s to come back`, params: { code: 'WORKFLOW_INVALID_TIMEOUT' } });
      if (step.timeoutSeconds < step.params.returnTimeoutSeconds)
        ctx.addIssue({ code: 'custom', path: [...path, 'timeoutSeconds'], message: `step timeout (${step.timeoutSeconds} s) is shorter than the reboot's return timeout (${step.params.returnTimeoutSeconds} s)`, params: { code: 'WORKFLOW_INVALID_TIMEOUT' } });
    }
    if (step.type === 'wait-for' && step.params.intervalSeconds >= step.timeoutSeconds)
      ctx.addIssue({ code: 'custom', path: [...path, 'params', 'intervalSeconds'], message: `poll interval (${step.params.intervalSeconds} s) must be shorter than the step timeout (${step.timeoutSeconds} s)`, params: { code: 'WORKFLOW_INVALID_TIMEOUT' } });
  }
  if (!t.phases.patch.some((s) => s.type === 'patch')) ctx.addIssue({ code: 'custom', path: ['phases', 'patch'], message: 'the patch phase needs a step of type "patch"', params: { code: 'WORKFLOW_MISSING_PARAMETER' } });
});

/** Codes of workflow template issues. */
export const WORKFLOW_ISSUE_CODES: DefinitionIssueCodes = {
  unknownType: 'WORKFLOW_UNKNOWN_STEP_TYPE',
  missing: 'WORKFLOW_MISSING_PARAMETER',
  unknownField: 'WORKFLOW_UNKNOWN_FIELD',
  timeout: 'WORKFLOW_INVALID_TIMEOUT',
  invalid: 'WORKFLOW_INVALID_VALUE',
};

/** Validates a template: the parsed template, or every issue with its code and path. */
export function checkWorkflowTemplate(input: unknown): { ok: true; template: WorkflowTemplate } | { ok: false; issues: DefinitionIssue[] } {
  const r = workflowTemplateSchema.safeParse(input);
  if (r.success) return { ok: true, template: r.data };
  // A step whose type is unknown also fails every later check; report the type once.
  return { ok: false, issues: definitionIssuesFromZod(r.error, input, WORKFLOW_ISSUE_CODES) };
}

/** Like `checkWorkflowTemplate` but throws `DefinitionInvalidError`. */
export function parseWorkflowTemplate(input: unknown): WorkflowTemplate {
  const r = checkWorkflowTemplate(input);
  if (!r.ok) throw new DefinitionInvalidError(r.issues, 'workflow template');
  return r.template;
}

/**
 * JSON Schema (draft 2020-12) of a template as written, for editors such as the web console's.
 * It carries the shapes, enums, patterns and ranges; the cross-step rules (unique ids,
 * compensations, reboot timeouts) and the safe-value checks are only in `checkWorkflowTemplate`.
 */
export function workflowTemplateJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(workflowTemplateSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** A reference to one saved version of a template. */
export const workflowRefSchema = z.object({ id: workflowIdSchema, version: z.number().int().min(1) }).strict();
export type WorkflowRef = z.infer<typeof workflowRefSchema>;

// ---------------------------------------------------------------------------------------------
// Events (stream `workflow-<id>`)
// ---------------------------------------------------------------------------------------------

/** Each save of a changed template is a new version; earlier versions stay readable. */
export const WorkflowTemplateVersionSaved = defineEvent(
  'WorkflowTemplateVersionSaved',
  1,
  z.object({ workflowId: workflowIdSchema, version: z.number().int().min(1), template: z.custom<WorkflowTemplate>((v) => workflowTemplateSchema.safeParse(v).success, 'invalid workflow template') }),
);

/** The template can no longer be chosen by policies; its versions stay readable for audits. */
export const WorkflowTemplateRetired = defineEvent('WorkflowTemplateRetired', 1, z.object({ workflowId: workflowIdSchema, lastVersion: z.number().int().min(1) }));

export const WORKFLOW_EVENTS = [WorkflowTemplateVersionSaved, WorkflowTemplateRetired] as const;
