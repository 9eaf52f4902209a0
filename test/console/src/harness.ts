import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEFAULT_SCENARIO, Lab, type PackageSpec } from '@patchbay/fleet-lab';
import { inventoryIni } from '@patchbay/cli';
import { descendants, startUp, type RunningUp } from '@patchbay/e2e/dist/stack-process.js';

/** Debian's chromium, driven headless by playwright-core (no browser download). */
export const CHROMIUM = process.env['PATCHBAY_CHROMIUM'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Where every page's full-page screenshot goes (gitignored). */
export const SCREENSHOT_DIR = resolve(__dirname, '..', '..', '..', 'bench', 'out', 'console-screenshots');

/** The built console the gateway serves from disk. */
const CONSOLE_INDEX = resolve(__dirname, '..', '..', '..', 'gateway', 'console', 'dist', 'index.html');

/** The roles the console tests sign in as (one API token each, made by the admin). */
export const ROLES = ['operator', 'approver', 'viewer', 'auditor'] as const;
export type ConsoleRole = (typeof ROLES)[number];

export interface ConsoleUser {
  /** The main role (the lead also has approver). */
  role: ConsoleRole | 'admin';
  name: string;
  token: string;
  /** What the gateway records as the actor (`token:<id>:<name>`). */
  actor: string;
}

/** Why the suite cannot run here, or false when it can. */
export function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for the lab of real hosts';
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (!existsSync(CONSOLE_INDEX)) return 'the console is not built (npm run build -w @patchbay/console)';
  return false;
}

/** A refusal from the gateway, with its stable code. */
export class GatewayRefusal extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details?: unknown,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * Reference groups, a short workflow (check disk, patch, reboot if required, ssh back, validate the
 * application) and two policies over the lab's inventory (canary → web → databases): one approved
 * automatically, one gated on the approver's token.
 */
export function consoleBundle(approverActors: string[]): string {
  return `kind: ReferenceGroup
id: console-canary
name: Canary host (patched first)
tier: low
selector: env=demo,group.canary=true
---
kind: ReferenceGroup
id: console-web
name: Web front ends
tier: high
selector: env=demo,role=web,!group.canary
---
kind: ReferenceGroup
id: console-db
name: Databases
tier: critical
selector: env=demo,role=db
---
kind: WorkflowTemplate
id: console-quick
name: Check the disk, patch, reboot if required, validate the application
phases:
  pre:
    - id: disk
      type: check-disk
      params: { path: /, minFreeMb: 20 }
  patch:
    - id: patch
      type: patch
      params: { scope: all, manager: apt }
      timeoutSeconds: 600
    - id: reboot
      type: reboot
      params: { mode: if-required, returnTimeoutSeconds: 120 }
      timeoutSeconds: 180
    - id: ssh-back
      type: wait-for
      params: { check: { kind: tcp, port: 22 }, intervalSeconds: 0.5 }
      timeoutSeconds: 120
  post:
    - id: health
      type: validate
      params:
        check:
          kind: command
          on: endpoint
          argv: [python3, -c, "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=5).status)"]
          expectOutput: "200"
      retries: { max: 5, backoffSeconds: 1 }
---
kind: PatchPolicy
id: console-rollout
name: Whole lab, canary first, approved automatically
groups: [console-canary, console-web, console-db]
approval: { mode: auto, afterDays: 0 }
rollout:
  tierOrder: [low, high, critical]
  canary: 1
maxConcurrency: 2
errorThreshold: 1
reboot: if-required
workflow: { id: console-quick, version: 1 }
---
kind: PatchPolicy
id: console-gated
name: Web front ends, approved by a second person
groups: [console-web]
approval:
  mode: manual
  approvers: [${approverActors.map((a) => JSON.stringify(a)).join(', ')}]
maxConcurrency: 1
errorThreshold: 1
reboot: if-required
workflow: { id: console-quick, version: 1 }
`;
}

export interface HarnessOptions {
  hosts?: number;
  log?: (line: string) => void;
}

/**
 * One stack (`patchbay up` as a child), one lab of real hosts imported from an Ansible inventory,
 * groups/workflow/policies applied through the GraphQL API, a token per role, and chromium.
 */
export class ConsoleHarness {
  /** Uncaught errors and CSP refusals seen in any page: a test fails on them. */
  readonly pageErrors: string[] = [];
  private readonly contexts: BrowserContext[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(
    readonly base: string,
    readonly admin: ConsoleUser,
    readonly users: Record<ConsoleRole, ConsoleUser> & { lead: ConsoleUser },
    readonly lab: Lab,
    readonly browser: Browser,
    readonly up: RunningUp,
    cleanups: Array<() => Promise<void> | void>,
  ) {
    this.cleanups = cleanups;
  }

  static async start(options: HarnessOptions = {}): Promise<ConsoleHarness> {
    const log = options.log ?? (() => undefined);
    const cleanups: Array<() => Promise<void> | void> = [];
    const undo = async () => {
      for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: Error) => log(`cleanup: ${err.message}`));
    };
    try {
      const dir = mkdtempSync(join(tmpdir(), 'patchbay-console-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const adminToken = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

      // The lab first, then the stack: both at once on a loaded 2-core machine can push the
      // gateway past the CLI's 30 s start limit.
      const lab = await Lab.up({ hosts: options.hosts ?? 3, scenario: DEFAULT_SCENARIO, stateDir: join(dir, 'lab') });
      cleanups.push(() => lab.down());
      // The gateway serves a copy of the built console taken now: one consistent build for the
      // whole run, whatever rebuilds gateway/console/dist meanwhile.
      const consoleDir = join(dir, 'console');
      await snapshotConsole(consoleDir);
      const up = await startStack(join(dir, 'data'), { PATCHBAY_ADMIN_TOKEN: adminToken, GATEWAY_CONSOLE_DIR: consoleDir }, log);
      cleanups.push(() => stopUp(up));
      const base = up.url.replace(/\/graphql$/, '');
      log(`stack ${base}, lab ${lab.hosts.map((h) => h.name).join(', ')}`);
      const admin: ConsoleUser = { role: 'admin', name: 'bootstrap-admin', token: adminToken, actor: '' };
      admin.actor = (await gql<{ me: { actor: string } }>(base, adminToken, 'query { me { actor } }')).me.actor;

      const users = {} as Record<ConsoleRole, ConsoleUser> & { lead: ConsoleUser };
      const token = async (name: string, roles: string[]) => {
        const r = await gql<{ createApiToken: { token: string; info: { id: string } } }>(base, adminToken, 'mutation ($name: String!, $roles: [Role!]!) { createApiToken(name: $name, roles: $roles) { token info { id } } }', { name, roles });
        return { token: r.createApiToken.token, actor: `token:${r.createApiToken.info.id}:${name}` };
      };
      for (const role of ROLES) users[role] = { role, name: `console-${role}`, ...(await token(`console-${role}`, [role])) };
      // A team lead who may both request and approve: the console must still not offer them the
      // approval of a cycle they requested.
      users.lead = { role: 'operator', name: 'console-lead', ...(await token('console-lead', ['operator', 'approver'])) };

      const keyPath = join(dir, 'lab-client-key');
      writeFileSync(keyPath, await lab.clientPrivateKey());
      chmodSync(keyPath, 0o600);
      await gql(base, users.operator.token, 'mutation ($content: String!) { importInventory(format: ansible_ini, fileName: "lab.ini", content: $content, hostKeyPolicy: tofu) { commandId } }', { content: inventoryIni(lab, keyPath) });
      await gql(base, users.operator.token, 'mutation { gatherFacts(refresh: true, wait: true) { commandId } }');
      await gql(base, users.operator.token, 'mutation ($files: [BundleFileInput!]!) { applyPolicyBundle(files: $files) { commandId } }', { files: [{ name: 'console.yaml', content: consoleBundle([users.approver.actor, users.lead.actor]) }] });
      await waitUntil('every group has its members', async () => {
        const r = await gql<{ referenceGroups: { edges: Array<{ node: { id: string; memberCount: number } }> } }>(base, users.viewer.token, 'query { referenceGroups(first: 50) { edges { node { id memberCount } } } }');
        const groups = r.referenceGroups.edges.map((e) => e.node).filter((g) => g.id.startsWith('console-'));
        return groups.length === 3 && groups.every((g) => g.memberCount > 0);
      });

      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      cleanups.push(() => browser.close());
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      return new ConsoleHarness(base, admin, users, lab, browser, up, cleanups);
    } catch (err) {
      await undo();
      throw err;
    }
  }

  /** Runs a GraphQL operation against the stack as `user` (admin by default). */
  gql<T = unknown>(query: string, variables?: Record<string, unknown>, user: ConsoleUser = this.admin): Promise<T> {
    return gql<T>(this.base, user.token, query, variables);
  }

  /**
   * A fresh browser context (its own session storage) on the console's sign-in page. The context
   * serves axe-core from the console's origin so {@link checkA11y} works under the page's CSP.
   */
  async openConsole(path = '/'): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, locale: 'en-GB', timezoneId: 'Europe/Paris' });
    this.contexts.push(context);
    await context.route('**/__test/axe.min.js', (route) => route.fulfill({ path: require.resolve('axe-core/axe.min.js'), contentType: 'text/javascript; charset=utf-8' }));
    const page = await context.newPage();
    page.on('pageerror', (err) => this.pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) this.pageErrors.push(`${page.url()}: ${m.text()}`);
    });
    await page.goto(`${this.base}${path}`);
    return page;
  }

  /** Opens the console and signs in through the form as `user`; resolves on the signed-in shell. */
  async signIn(user: ConsoleUser, path = '/'): Promise<Page> {
    const page = await this.openConsole(path);
    await page.getByLabel('API token').fill(user.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return page;
  }

  /** Publishes a new version of a package to the lab and lets the inventory see it. */
  async publish(spec: Partial<PackageSpec> & Pick<PackageSpec, 'name' | 'available'>): Promise<void> {
    await this.lab.publish({ classification: 'regular', rebootRequired: false, postinstFails: false, sizeMb: 0, ...spec } as PackageSpec);
    await this.gql('mutation { gatherFacts(refresh: true, wait: true) { commandId } }', undefined, this.users.operator);
  }

  /** Waits until the cycle's status is one of `statuses` (read model, as any viewer sees it). */
  async waitCycle(cycleId: string, statuses: string[], timeoutMs = 180_000): Promise<string> {
    let status = '';
    await waitUntil(
      `cycle ${cycleId} to be ${statuses.join('/')}`,
      async () => {
        const r = await this.gql<{ cycle: { status: string } | null }>('query ($id: ID!) { cycle(id: $id) { status } }', { id: cycleId }, this.users.viewer);
        status = r.cycle?.status ?? '';
        return statuses.includes(status);
      },
      timeoutMs,
      () => `last status: ${status || 'none'}`,
    );
    return status;
  }

  /** Browser, stack and lab, in that order; safe to call twice. */
  async stop(): Promise<void> {
    for (const c of this.contexts.splice(0)) await c.close().catch(() => undefined);
    for (const c of this.cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}

/** POSTs one operation with a bearer token; throws {@link GatewayRefusal} on a GraphQL error. */
export async function gql<T = unknown>(base: string, token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables: variables ?? {} }),
  });
  const body = (await r.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string; details?: unknown } }> };
  const e = body.errors?.[0];
  if (e) throw new GatewayRefusal(e.message, e.extensions?.code ?? 'INTERNAL', e.extensions?.details);
  if (!body.data) throw new GatewayRefusal(`no data (HTTP ${r.status})`, 'BAD_RESPONSE');
  return body.data;
}

/** Polls `check` every 250 ms until it is true; fails after `timeoutMs` saying what did not happen. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s${detail ? ` (${detail()})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Copies the built console to `dest`, retrying while a rebuild is half-way (index.html missing or
 * naming an asset that is not there yet).
 */
async function snapshotConsole(dest: string): Promise<void> {
  const src = dirname(CONSOLE_INDEX);
  for (let attempt = 1; ; attempt++) {
    rmSync(dest, { recursive: true, force: true });
    try {
      cpSync(src, dest, { recursive: true });
      const html = readFileSync(join(dest, 'index.html'), 'utf8');
      const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      if (assets.length > 0 && assets.every((a) => existsSync(join(dest, a)))) return;
    } catch {
      // a rebuild removed files while they were copied
    }
    if (attempt >= 20) throw new Error(`no complete console build in ${src} (npm run build -w @patchbay/console)`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/**
 * `patchbay up` in `dataDir`. The CLI gives the gateway 30 s to start; on a loaded machine it can
 * miss that once, so a STACK_START_FAILED is retried once (saying so), with the gateway's log.
 */
async function startStack(dataDir: string, env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<RunningUp> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startUp(['--port', '0', '--data-dir', dataDir], env, 120_000);
    } catch (err) {
      const message = (err as Error).message;
      let gatewayLog = '';
      try {
        gatewayLog = readFileSync(join(dataDir, 'logs', 'gateway.log'), 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        // no log yet
      }
      if (attempt >= 2 || !/STACK_START_FAILED/.test(message)) throw new Error(`${message}\ngateway log:\n${gatewayLog}`);
      log(`the stack did not start (${message.split('\n').pop()}); once more. gateway log:\n${gatewayLog}`);
    }
  }
}

/** Stops `patchbay up` with Ctrl-C; anything still running 15 s later is killed by pid. */
async function stopUp(up: RunningUp): Promise<void> {
  if (up.child.exitCode !== null) return;
  const started = descendants(up.child.pid!);
  up.child.kill('SIGINT');
  const done = await Promise.race([up.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
  if (!done) up.child.kill('SIGKILL');
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string; html: string }>;
}

/**
 * Runs axe-core on the page as it is now, in the light and the dark colour scheme, and fails on
 * any violation of serious or critical impact, listing each rule with the elements it flags.
 */
export async function checkA11y(page: Page, name: string): Promise<void> {
  const hasAxe = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe === 'object');
  if (!hasAxe) await page.addScriptTag({ url: '/__test/axe.min.js' });
  const problems: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: unknown[] }> } }).axe;
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations;
    });
    for (const v of violations as AxeViolation[]) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      const nodes = v.nodes
        .slice(0, 8)
        .map((n) => `    ${n.target.map(String).join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ').trim()}`)
        .join('\n');
      problems.push(`  [${scheme}] ${v.id} (${v.impact}): ${v.help} (${v.helpUrl})\n${nodes}${v.nodes.length > 8 ? `\n    … and ${v.nodes.length - 8} more` : ''}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.equal(problems.length, 0, `axe-core: serious or critical violations on ${name}:\n${problems.join('\n')}`);
}

/** A full-page screenshot to bench/out/console-screenshots/<name>.png; returns its path. */
export async function shot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path, fullPage: true });
  // After a full-page capture this chromium maps the next click wrongly on a scrolled page (the
  // click lands, nothing gets it); scrolling away and back puts input and layout in step again.
  await page.evaluate(() => {
    const y = window.scrollY;
    window.scrollTo(0, 0);
    window.scrollTo(0, y);
  });
  return path;
}
