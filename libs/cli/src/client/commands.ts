import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CliInputError, EXIT, exitCodeFor, GatewayClient, OutcomeFailedError } from './graphql.js';
import { applyProgressEvent, initialProgress, renderProgress, TERMINAL_STATUSES, type ProgressEvent } from './progress.js';

/** Options every gateway command takes. */
interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** Help text of the exit codes (also in the README). */
export const EXIT_CODES_HELP = `
Exit codes (gateway commands):
  0  ok
  1  the operation's outcome failed (cycle halted/aborted, broken chain, export does not verify)
  2  bad usage or input (VALIDATION_FAILED, a file that does not parse, unknown option)
  3  authentication or authorization (UNAUTHENTICATED, FORBIDDEN)
  4  not found (NOT_FOUND, unknown policy/cycle/group)
  5  the gateway is unreachable`;

const PATCH_EVENT = 'eventId type stream revision position recordedAt actor data';

type Out = (human: () => string, json: unknown) => void;

function makeOut(opts: GlobalOptions): Out {
  return (human, json) => process.stdout.write(`${opts.json ? JSON.stringify(json, null, 2) : human()}\n`);
}

/** Runs a command body: maps every error to a message on stderr (JSON with --json) and an exit code. */
function action<A extends unknown[]>(cmd: () => Command, body: (opts: GlobalOptions, out: Out, client: GatewayClient, ...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    const opts = cmd().optsWithGlobals<GlobalOptions>();
    const client = new GatewayClient({ url: opts.url, token: opts.token });
    try {
      await body(opts, makeOut(opts), client, ...args);
    } catch (err) {
      const e = err as Error & { code?: string; details?: unknown };
      const code = typeof e.code === 'string' ? e.code : undefined;
      if (opts.json) process.stderr.write(`${JSON.stringify({ error: { code: code ?? 'INTERNAL', message: e.message, details: e.details } })}\n`);
      else process.stderr.write(`patchbay: ${code ? `[${code}] ` : ''}${e.message}${detailsText(e.details)}\n`);
      process.exitCode = exitCodeFor(code, e.details);
    }
  };
}

function detailsText(details: unknown): string {
  if (details === undefined || details === null || (typeof details === 'object' && Object.keys(details).length === 0)) return '';
  const issues = (details as { issues?: unknown }).issues;
  if (Array.isArray(issues)) {
    return issues
      .map((i: Record<string, unknown>) => {
        const where = [i['file'], i['line']].filter((x) => x !== undefined).join(':');
        const path = Array.isArray(i['path']) ? i['path'].join('.') : i['field'];
        return `\n  ${where ? `${where}: ` : ''}${path ? `${String(path)}: ` : ''}${String(i['message'] ?? JSON.stringify(i))}`;
      })
      .join('');
  }
  return `\n  ${JSON.stringify(details)}`;
}

const FORMATS: Record<string, string> = { 'ansible-ini': 'ansible_ini', 'ansible-yaml': 'ansible_yaml', csv: 'csv' };

function formatOf(file: string, given?: string): string {
  if (given) return FORMATS[given]!;
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.yaml' || ext === '.yml') return 'ansible_yaml';
  return 'ansible_ini';
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliInputError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function bundleFiles(dir: string): { name: string; content: string }[] {
  const files: { name: string; content: string }[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ya?ml|json)$/i.test(name)) files.push({ name: relative(dir, p) || basename(p), content: readFileSync(p, 'utf8') });
    }
  };
  try {
    if (statSync(dir).isDirectory()) walk(dir);
    else files.push({ name: basename(dir), content: readFileSync(dir, 'utf8') });
  } catch (err) {
    throw new CliInputError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  if (files.length === 0) throw new CliInputError(`no .yaml, .yml or .json file in ${dir}`);
  return files;
}

interface Member {
  endpointId: string;
  reason: string;
  since: string;
}
interface GroupWithMembers {
  id: string;
  tier: string;
  version: number;
  name: string | null;
  definition: unknown;
  members: Member[];
}

/** A group and all its members, paged; undefined when the group does not exist. */
async function groupWithMembers(client: GatewayClient, id: string): Promise<GroupWithMembers | undefined> {
  let group: GroupWithMembers | undefined;
  let after: string | null = null;
  for (;;) {
    type Page = { referenceGroup: (Omit<GroupWithMembers, 'members'> & { members: { edges: { node: Member }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }) | null };
    const d: Page = await client.request<Page>(
      'query($id: ID!, $after: String) { referenceGroup(id: $id) { id tier version name definition members(first: 100, after: $after) { edges { node { endpointId reason since } } pageInfo { hasNextPage endCursor } } } }',
      { id, after },
    );
    const g = d.referenceGroup;
    if (!g) return undefined;
    group ??= { ...g, members: [] };
    group.members.push(...g.members.edges.map((e) => e.node));
    if (!g.members.pageInfo.hasNextPage || !g.members.pageInfo.endCursor) return group;
    after = g.members.pageInfo.endCursor;
  }
}

/** The whole history of a cycle, in pages small enough for the gateway's cost limit. */
async function historyOf(client: GatewayClient, cycleId: string): Promise<(ProgressEvent & { actor: string; position: string })[]> {
  const events: (ProgressEvent & { actor: string; position: string })[] = [];
  let after: string | undefined;
  for (;;) {
    const d = await client.request<{ cycleHistory: typeof events }>(`query($c: ID!, $a: String) { cycleHistory(cycleId: $c, after: $a, first: ${HISTORY_PAGE}) { ${PATCH_EVENT} } }`, { c: cycleId, a: after });
    events.push(...d.cycleHistory);
    if (d.cycleHistory.length < HISTORY_PAGE) return events;
    after = d.cycleHistory[d.cycleHistory.length - 1]!.position;
  }
}
const HISTORY_PAGE = 200;

/** Reads every page of a connection (pages of 100 keep each request under the gateway's cost limit). */
async function allPages<N>(client: GatewayClient, field: string, query: string, vars: Record<string, unknown> = {}): Promise<N[]> {
  const nodes: N[] = [];
  let after: string | null = null;
  for (;;) {
    const d: Record<string, { edges: { node: N }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> = await client.request(query, { ...vars, after });
    const page = d[field]!;
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return nodes;
    after = page.pageInfo.endCursor;
  }
}

function bundleSummary(result: unknown): string {
  const r = (result ?? {}) as { dryRun?: boolean; changes?: { kind: string; id: string; action: string; version?: number }[]; unchanged?: number };
  if (!Array.isArray(r.changes)) return pretty(result);
  const lines = r.changes.map((c) => `  ${c.action.padEnd(14)} ${c.kind.padEnd(18)} ${c.id}${c.version !== undefined ? ` v${c.version}` : ''}`);
  return `${lines.join('\n')}${lines.length ? '\n' : ''}  ${r.unchanged ?? 0} unchanged${r.dryRun ? ' (dry run: nothing stored)' : ''}`;
}

const pretty = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

interface CommandResult {
  commandId: string;
  id: string | null;
  result: unknown;
}
const RESULT = 'commandId id result';

async function resultOf(client: GatewayClient, field: string, signature: string, args: string, vars: Record<string, unknown>): Promise<CommandResult> {
  const data = await client.request<Record<string, CommandResult>>(`mutation(${signature}) { r: ${field}(${args}) { ${RESULT} } }`, vars);
  return data['r']!;
}

/**
 * Follows a cycle live over the `cycleProgress` subscription (SSE) until it ends. The subscription
 * is opened first; `watch` then folds the history so far (`cycleHistory`, when the token may read
 * it; else the read model's status) and the live events after it, each event once.
 * Resolves with the final status.
 */
async function follow(client: GatewayClient, cycleId: string, opts: GlobalOptions, request?: () => Promise<void>): Promise<string> {
  let view = initialProgress(cycleId);
  const seen = new Set<string>();
  let buffered: ProgressEvent[] | undefined = [];
  const abort = new AbortController();
  let lastRender = 0;
  let trailing: NodeJS.Timeout | undefined;
  const ended = (): boolean => TERMINAL_STATUSES.has(view.cycle.status);
  // At most one frame per 250 ms; a burst of events inside that time is shown by a trailing frame,
  // so the screen is never left on a state older than 250 ms.
  const render = (force = false): void => {
    if (opts.json) return;
    const now = Date.now();
    if (!force && now - lastRender < 250) {
      trailing ??= setTimeout(() => {
        trailing = undefined;
        render();
      }, 250 - (now - lastRender));
      return;
    }
    if (trailing) clearTimeout(trailing);
    trailing = undefined;
    lastRender = now;
    const text = renderProgress(view);
    if (process.stdout.isTTY) process.stdout.write(`\x1b[H\x1b[2J${text}\n`);
    else process.stdout.write(`${text}\n---\n`);
  };
  const apply = (ev: ProgressEvent): void => {
    if (seen.has(ev.eventId)) return;
    seen.add(ev.eventId);
    view = applyProgressEvent(view, ev);
    if (opts.json) process.stdout.write(`${JSON.stringify(ev)}\n`);
  };
  const onEvent = (ev: ProgressEvent): void => {
    if (buffered) {
      buffered.push(ev);
      return;
    }
    apply(ev);
    render(ended());
    if (ended()) abort.abort();
  };
  let opened!: () => void;
  const open = new Promise<'open'>((r) => (opened = () => r('open')));
  const sub = client.subscribe<{ cycleProgress: ProgressEvent }>(`subscription($id: ID!) { cycleProgress(cycleId: $id) { ${PATCH_EVENT} } }`, { id: cycleId }, (d) => onEvent(d.cycleProgress), abort.signal, opened);
  const stop = async (): Promise<void> => {
    if (trailing) clearTimeout(trailing);
    abort.abort();
    await sub.catch(() => undefined);
  };
  // The cycle is requested only once the server has accepted the subscription (plus a moment for
  // its pub/sub to be wired), so the first events are not missed.
  const early = await Promise.race([sub.then(() => 'ended' as const), open.then(() => new Promise<'open'>((r) => setTimeout(() => r('open'), 100)))]);
  if (early === 'ended') throw new OutcomeFailedError(`the subscription to cycle ${cycleId} ended at once`, 'SUBSCRIPTION_ENDED');
  try {
    if (request) {
      await request();
    } else {
      const { cycle } = await client.request<{ cycle: { status: string } | null }>('query($id: ID!) { cycle(id: $id) { status } }', { id: cycleId });
      let history: ProgressEvent[] = [];
      try {
        history = await historyOf(client, cycleId);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'NOT_FOUND' && !cycle) throw new OutcomeFailedError(`cycle ${cycleId} not found`, 'NOT_FOUND');
        if (code !== 'FORBIDDEN' && code !== 'NOT_FOUND') throw err;
      }
      if (!cycle && history.length === 0) throw new OutcomeFailedError(`cycle ${cycleId} not found`, 'NOT_FOUND');
      history.forEach(apply);
      if (history.length === 0 && cycle) view = { ...view, cycle: { ...view.cycle, status: cycle.status } };
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const pending = buffered ?? [];
  buffered = undefined;
  pending.forEach(apply);
  render(true);
  if (ended()) abort.abort();
  await sub;
  if (trailing) clearTimeout(trailing);
  return view.cycle.status;
}

function endOfCycle(status: string, cycleId: string): void {
  if (status !== 'completed') throw new OutcomeFailedError(`cycle ${cycleId} ended ${status}`, 'CYCLE_NOT_COMPLETED');
}

/** Registers the commands that talk to the GraphQL gateway on `program`. */
export function registerClientCommands(program: Command): void {
  program
    .addOption(new Option('--url <url>', 'GraphQL URL of the gateway').env('PATCHBAY_URL').default('http://127.0.0.1:4000/graphql'))
    .addOption(new Option('--token <token>', 'API token').env('PATCHBAY_TOKEN'))
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP);

  const usage = (err: CommanderError): never => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
  };
  // Set after `up`, `demo` and `lab` are registered, so their own behaviour stays as it is.
  program.exitOverride(usage);
  const cmd = (name: string, parent: Command = program, isDefault = false): Command => parent.command(name, { isDefault }).exitOverride(usage);

  const imp = cmd('import <file>')
    .description('import an inventory file (Ansible INI/YAML or CSV)')
    .addOption(new Option('--format <format>', 'file format (default from the extension)').choices(Object.keys(FORMATS)))
    .addOption(new Option('--host-key-policy <policy>', 'tofu: trust on first use; explicit: pin keys by hand').choices(['tofu', 'explicit']))
    .option('--dry-run', 'check and show what would change; nothing stored')
    .option('--retire-missing', 'retire endpoints of this source the file no longer lists');
  imp.action(
    action(() => imp, async (opts, out, client, file: string) => {
      const o = imp.opts<{ format?: string; hostKeyPolicy?: string; dryRun?: boolean; retireMissing?: boolean }>();
      const content = readInput(file);
      const r = await resultOf(client, 'importInventory', '$f: InventoryFormat!, $n: String!, $c: String!, $h: HostKeyPolicy, $d: Boolean, $rm: Boolean', 'format: $f, fileName: $n, content: $c, hostKeyPolicy: $h, dryRun: $d, retireMissing: $rm', {
        f: formatOf(file, o.format),
        n: basename(file),
        c: content,
        h: o.hostKeyPolicy,
        d: o.dryRun,
        rm: o.retireMissing,
      });
      const res = (r.result ?? {}) as { dryRun?: boolean; summary?: Record<string, number> };
      const summary = res.summary ? Object.entries(res.summary).map(([k, v]) => `${k} ${v}`).join(', ') : pretty(r.result);
      out(() => `${res.dryRun ? 'checked' : 'imported'} ${file} (source ${r.id ?? '?'}): ${summary}${res.dryRun ? ' (dry run: nothing stored)' : ''}`, r);
    }),
  );

  const groups = cmd('groups').description('reference groups: list, show <id>, explain <group> <endpoint>');
  const gl = cmd('list', groups, true).description('list reference groups').option('--tier <tier>');
  gl.action(
    action(() => gl, async (_o, out, client) => {
      const rows = await allPages<{ id: string; name: string | null; tier: string; version: number; memberCount: number }>(
        client,
        'referenceGroups',
        'query($t: String, $after: String) { referenceGroups(tier: $t, first: 100, after: $after) { edges { node { id name tier version memberCount } } pageInfo { hasNextPage endCursor } } }',
        { t: gl.opts<{ tier?: string }>().tier },
      );
      out(() => (rows.length ? rows.map((g) => `${g.id.padEnd(24)} ${g.tier.padEnd(9)} v${g.version}  ${String(g.memberCount).padStart(4)} members  ${g.name ?? ''}`).join('\n') : '(no groups)'), rows);
    }),
  );
  const gs = cmd('show <id>', groups).description('one group with its members');
  gs.action(
    action(() => gs, async (_o, out, client, id: string) => {
      const g = await groupWithMembers(client, id);
      if (!g) throw new OutcomeFailedError(`reference group ${id} not found`, 'NOT_FOUND');
      out(() => `${g.id} (${g.tier}, v${g.version}) ${g.name ?? ''}\n${pretty(g.definition)}\nmembers:\n${g.members.map((m) => `  ${m.endpointId}  ${m.reason}`).join('\n') || '  (none)'}`, g);
    }),
  );
  const ge = cmd('explain <group> <endpoint>', groups).description('why an endpoint is (or is not) in a group');
  ge.action(
    action(() => ge, async (_o, out, client, group: string, endpoint: string) => {
      const g = await groupWithMembers(client, group);
      if (!g) throw new OutcomeFailedError(`reference group ${group} not found`, 'NOT_FOUND');
      const m = g.members.find((x) => x.endpointId === endpoint);
      const def = (typeof g.definition === 'string' ? JSON.parse(g.definition) : g.definition) as Record<string, unknown> | null;
      const selector = def?.['selector'];
      out(() => (m ? `${endpoint} is in ${group} since ${m.since}: ${m.reason}` : `${endpoint} is not in ${group}${selector ? ` (selector: ${typeof selector === 'string' ? selector : JSON.stringify(selector)})` : ''}`), { group, endpoint, member: !!m, ...(m ?? {}) });
    }),
  );

  const policies = cmd('policies').description('patch policies: list, show <id>');
  const pl = cmd('list', policies, true).description('list policies');
  pl.action(
    action(() => pl, async (_o, out, client) => {
      const rows = await allPages<{ id: string; version: number; name: string | null; updatedAt: string }>(
        client,
        'policies',
        'query($after: String) { policies(first: 100, after: $after) { edges { node { id version name updatedAt } } pageInfo { hasNextPage endCursor } } }',
      );
      out(() => (rows.length ? rows.map((p) => `${p.id.padEnd(24)} v${p.version}  ${p.name ?? ''}`).join('\n') : '(no policies)'), rows);
    }),
  );
  const ps = cmd('show <id>', policies).description('one policy with its definition');
  ps.action(
    action(() => ps, async (_o, out, client, id: string) => {
      const d = await client.request<{ policy: { id: string; version: number; name: string | null; definition: unknown } | null }>('query($id: ID!) { policy(id: $id) { id version name definition updatedAt } }', { id });
      if (!d.policy) throw new OutcomeFailedError(`policy ${id} not found`, 'NOT_FOUND');
      const p = d.policy;
      out(() => `${p.id} v${p.version} ${p.name ?? ''}\n${pretty(p.definition)}`, p);
    }),
  );

  const apply = cmd('apply <dir>')
    .description('apply a policy-as-code directory (groups, workflows, policies as YAML/JSON)')
    .option('--prune', 'delete definitions the bundle no longer holds')
    .option('--dry-run', 'show what would change; nothing stored');
  apply.action(
    action(() => apply, async (_o, out, client, dir: string) => {
      const o = apply.opts<{ prune?: boolean; dryRun?: boolean }>();
      const files = bundleFiles(dir);
      const r = await resultOf(client, 'applyPolicyBundle', '$files: [BundleFileInput!]!, $p: Boolean, $d: Boolean', 'files: $files, prune: $p, dryRun: $d', { files, p: o.prune, d: o.dryRun });
      out(() => `applied ${files.length} file(s) from ${dir}\n${bundleSummary(r.result)}`, r);
    }),
  );

  const list = (v?: string): string[] => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  /** The emergency part of a request: the advisory, its fixing packages, and the named groups or every vulnerable endpoint. */
  const emergencyOf = (o: { emergency?: string; packages?: string; groups?: string }): unknown => {
    if (!o.emergency) {
      if (o.packages || o.groups) throw new CliInputError('--packages and --groups need --emergency <advisory>');
      return undefined;
    }
    if (list(o.packages).length === 0) throw new CliInputError('--emergency needs --packages a,b (the packages whose update fixes the advisory)');
    return { advisoryId: o.emergency, packages: list(o.packages), target: o.groups ? { kind: 'groups', groups: list(o.groups) } : { kind: 'vulnerable' } };
  };

  const plan = cmd('plan <policyId>')
    .description('dry run: the plan a cycle of this policy would follow (nothing stored)')
    .option('--emergency <advisory>', 'plan an emergency cycle for this advisory (CVE-… or vendor id)')
    .option('--packages <list>', 'comma-separated packages whose update fixes the advisory')
    .option('--groups <list>', 'emergency target groups (default: every vulnerable endpoint)');
  plan.action(
    action(() => plan, async (_o, out, client, policyId: string) => {
      const r = await resultOf(client, 'previewCycle', '$p: String!, $e: JSON', 'policyId: $p, emergency: $e', { p: policyId, e: emergencyOf(plan.opts()) });
      const res = (r.result ?? {}) as Record<string, unknown>;
      out(() => (typeof res['text'] === 'string' ? res['text'] : typeof res['printed'] === 'string' ? res['printed'] : pretty(res)), r);
    }),
  );

  const run = cmd('run <policyId>')
    .description('request a cycle and follow it live (waves, endpoints, current step, failures) until it ends')
    .option('--emergency <advisory>', 'an emergency cycle for this advisory (CVE-… or vendor id)')
    .option('--packages <list>', 'comma-separated packages whose update fixes the advisory')
    .option('--groups <list>', 'emergency target groups (default: every vulnerable endpoint)')
    .option('--no-follow', 'request only; do not follow the cycle');
  run.action(
    action(() => run, async (opts, out, client, policyId: string) => {
      const o = run.opts<{ emergency?: string; packages?: string; groups?: string; follow: boolean }>();
      const e = emergencyOf(o);
      const cycleId = `c-${randomUUID()}`;
      const request = async (): Promise<void> => {
        const r = e
          ? await resultOf(client, 'requestEmergencyCycle', '$p: String!, $e: JSON!, $c: ID', 'policyId: $p, emergency: $e, cycleId: $c', { p: policyId, e, c: cycleId })
          : await resultOf(client, 'requestCycle', '$p: String!, $c: ID', 'policyId: $p, cycleId: $c', { p: policyId, c: cycleId });
        if (!opts.json) process.stdout.write(`requested cycle ${r.id ?? cycleId}\n`);
        else if (!o.follow) out(() => '', r);
      };
      if (!o.follow) return request();
      endOfCycle(await follow(client, cycleId, opts, request), cycleId);
    }),
  );

  const watch = cmd('watch <cycleId>').description('follow a cycle live until it ends');
  watch.action(
    action(() => watch, async (opts, _out, client, cycleId: string) => {
      endOfCycle(await follow(client, cycleId, opts), cycleId);
    }),
  );

  const approve = cmd('approve <cycleId>').description('approve a cycle (not by its requester)').option('--comment <text>');
  approve.action(
    action(() => approve, async (_o, out, client, cycleId: string) => {
      const r = await resultOf(client, 'approveCycle', '$c: ID!, $m: String', 'cycleId: $c, comment: $m', { c: cycleId, m: approve.opts<{ comment?: string }>().comment });
      out(() => `approved ${cycleId}`, r);
    }),
  );
  for (const verb of ['pause', 'resume', 'abort'] as const) {
    const c = cmd(`${verb} <cycleId>`).description(`${verb} a cycle`);
    if (verb !== 'resume') c.option('--reason <text>', 'why (recorded in the history)', `${verb} from the command line`);
    c.action(
      action(() => c, async (_o, out, client, cycleId: string) => {
        const reason = c.opts<{ reason?: string }>().reason;
        const r =
          verb === 'resume'
            ? await resultOf(client, 'resumeCycle', '$c: ID!', 'cycleId: $c', { c: cycleId })
            : await resultOf(client, `${verb}Cycle`, '$c: ID!, $r: String!', 'cycleId: $c, reason: $r', { c: cycleId, r: reason });
        out(() => `${verb} ${cycleId}: sent`, r);
      }),
    );
  }

  const audit = cmd('audit').description('audit: history, as-of, verify, export, verify-export');
  const ah = cmd('history <cycleId>', audit).description("the cycle's full history in global order");
  ah.action(
    action(() => ah, async (_o, out, client, cycleId: string) => {
      const events = await historyOf(client, cycleId);
      out(() => events.map((e) => `${e.recordedAt}  ${e.stream.padEnd(40)} ${e.type.padEnd(22)} ${e.actor}  ${e.eventId}`).join('\n'), events);
    }),
  );
  const aa = cmd('as-of <cycleId> <timeOrEventId>', audit).description('the cycle as it was at a time (ISO 8601) or after an event id');
  aa.action(
    action(() => aa, async (_o, out, client, cycleId: string, at: string) => {
      const isTime = /^\d{4}-\d{2}-\d{2}T/.test(at);
      if (isTime && Number.isNaN(Date.parse(at))) throw new CliInputError(`not a date-time: ${at}`);
      const d = await client.request<{ cycleAsOf: Record<string, unknown> & { waves: unknown[]; endpoints: unknown[] } }>(
        `query($c: ID!, $t: DateTime, $e: ID) { cycleAsOf(cycleId: $c, at: $t, eventId: $e) { cycleId status kind policyId requestedBy planHash approvals approvalsRequired haltCode waves { index name size status succeeded failed } endpoints { endpointId wave groupId tier state step code } endpointsByState { state count } eventCount lastEventId lastPosition lastRecordedAt unknownEventTypes } }`,
        { c: cycleId, t: isTime ? at : undefined, e: isTime ? undefined : at },
      );
      const s = d.cycleAsOf;
      const view = { cycle: { ...s, status: String(s['status']) } as never, failures: [] };
      out(() => `${renderProgress(view)}\n  (${String(s['eventCount'])} events, last ${String(s['lastEventId'])} at ${String(s['lastRecordedAt'])})`, s);
    }),
  );
  const av = cmd('verify <cycleId>', audit).description("verify the hash chains of the cycle's streams");
  av.action(
    action(() => av, async (_o, out, client, cycleId: string) => {
      const d = await client.request<{ verifyCycle: { ok: boolean; streams: { stream: string; events: number; ok: boolean }[]; firstBroken: { stream: string; revision: number; eventId: string | null; reason: string } | null } }>(
        'query($c: ID!) { verifyCycle(cycleId: $c) { cycleId ok streams { stream events ok headHash } firstBroken { stream revision eventId reason } } }',
        { c: cycleId },
      );
      const v = d.verifyCycle;
      out(() => `${v.ok ? 'OK' : 'BROKEN'}: ${v.streams.length} stream(s), ${v.streams.reduce((n, s) => n + s.events, 0)} events${v.firstBroken ? `\nfirst broken link: ${v.firstBroken.stream} revision ${v.firstBroken.revision} (${v.firstBroken.eventId ?? '?'}): ${v.firstBroken.reason}` : ''}`, v);
      if (!v.ok) process.exitCode = EXIT.failed;
    }),
  );
  const ax = cmd('export <cycleId>', audit)
    .description('download the signed export; writes <file> and <file>.manifest.json (manifest, signature, public key)')
    .addOption(new Option('--format <format>').choices(['jsonl', 'csv']).default('jsonl'))
    .requiredOption('-o, --output <file>', 'where to write the export');
  ax.action(
    action(() => ax, async (_o, out, client, cycleId: string) => {
      const o = ax.opts<{ format: string; output: string }>();
      const res = await client.get(`/audit/cycles/${encodeURIComponent(cycleId)}/export.${o.format}`);
      const content = Buffer.from(await res.arrayBuffer());
      const manifest = JSON.parse(Buffer.from(res.headers.get('patchbay-export-manifest') ?? '', 'base64').toString('utf8')) as Record<string, unknown>;
      const signature = res.headers.get('patchbay-export-signature') ?? '';
      const publicKey = await (await client.get('/audit/public-key')).text();
      writeFileSync(o.output, content);
      const manifestFile = `${o.output}.manifest.json`;
      writeFileSync(manifestFile, `${JSON.stringify({ manifest, signature, publicKey }, null, 2)}\n`);
      out(() => `wrote ${o.output} (${String(manifest['events'])} events) and ${manifestFile}`, { file: o.output, manifestFile, manifest });
    }),
  );
  const avx = cmd('verify-export <file> <manifest>', audit).description('verify a downloaded export offline against its manifest file (manifest, signature, public key)').option('--public-key <pem-file>', 'the gateway public key (else the one in the manifest file)');
  avx.action(
    action(() => avx, async (_o, out, _client, file: string, manifestFile: string) => {
      const { verifyExport } = await import('@patchbay/gateway');
      let m: { manifest: Parameters<typeof verifyExport>[1]; signature: string; publicKey?: string };
      try {
        m = JSON.parse(readInput(manifestFile)) as typeof m;
      } catch (err) {
        throw new CliInputError(`${manifestFile} is not a manifest file: ${(err as Error).message}`);
      }
      const keyFile = avx.opts<{ publicKey?: string }>().publicKey;
      const pem = keyFile ? readInput(keyFile) : m.publicKey;
      if (!m.manifest || !m.signature || !pem) throw new CliInputError(`${manifestFile} needs manifest, signature and publicKey (or --public-key)`);
      const verdict = verifyExport(readFileSync(file), m.manifest, m.signature, pem);
      out(() => (verdict.ok ? `OK: ${file} matches its signed manifest` : `FAILED:\n${verdict.problems.map((p) => `  ${p.code}: ${p.message}`).join('\n')}`), verdict);
      if (!verdict.ok) process.exitCode = EXIT.failed;
    }),
  );
}
