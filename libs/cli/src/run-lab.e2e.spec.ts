import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_SCENARIO, Lab } from '@patchbay/fleet-lab';
import { inventoryIni } from './demo.js';
import { up } from './up.js';

const ROOT = resolve(__dirname, '../../..');
const MAIN = join(__dirname, 'main.js');
const HOSTS = 3;

/** The demo's groups and workflow (libs/cli/demo/fleet.yaml) with a policy approved automatically, so `run` follows it to the end alone. */
const POLICY = `
kind: PatchPolicy
id: run-lab
groups: [demo-canary, demo-web, demo-db]
updates: { include: all }
approval: { mode: auto, afterDays: 0 }
rollout:
  tierOrder: [low, high, critical]
  canary: 1
maxConcurrency: 2
errorThreshold: 1
reboot: if-required
workflow: { id: demo-standard, version: 1 }
`;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>, timeoutMs: number): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/**
 * `patchbay run` end to end on real lab hosts: the stack (`up()`, services as processes), three
 * Debian hosts with sshd (`Lab`), the inventory imported and the policy applied with the CLI, facts
 * gathered, then `patchbay run` as an operator: its live view (not a terminal: one frame per
 * event, each ended with `---`) must show every wave while it runs and the completed cycle at the end.
 */
describe(`patchbay run: the live view of a cycle on ${HOSTS} real lab hosts`, { skip: process.getuid?.() !== 0 ? 'needs root for the lab' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cli-run-'));
  const adminToken = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const savedToken = process.env['PATCHBAY_ADMIN_TOKEN'];
  let url = '';
  let stop: (() => void) | undefined;
  let stack: Promise<void> | undefined;
  let lab: Lab | undefined;
  let operator: Record<string, string>;

  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<T> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  };

  before(async () => {
    process.env['PATCHBAY_ADMIN_TOKEN'] = adminToken;
    const until = new Promise<void>((r) => (stop = r));
    let ready!: (info: { url: string }) => void;
    const readyP = new Promise<{ url: string }>((r) => (ready = r));
    stack = up({ dataDir: join(dir, 'patchbay'), port: 0, until, onReady: ready, log: () => undefined });
    const failed = stack.then(() => Promise.reject(new Error('the stack stopped before it was ready')));
    failed.catch(() => undefined);
    url = (await Promise.race([readyP, failed])).url;
    lab = await Lab.up({ hosts: HOSTS, scenario: DEFAULT_SCENARIO, stateDir: join(dir, 'lab') });
    const keyPath = join(dir, 'lab-client-key');
    writeFileSync(keyPath, await lab.clientPrivateKey());
    chmodSync(keyPath, 0o600);
    writeFileSync(join(dir, 'lab.ini'), inventoryIni(lab, keyPath));
    const policyDir = join(dir, 'policy');
    mkdirSync(policyDir);
    copyFileSync(join(ROOT, 'libs/cli/demo/fleet.yaml'), join(policyDir, 'fleet.yaml'));
    writeFileSync(join(policyDir, 'run-lab.yaml'), POLICY);
    const created = await gql<{ createApiToken: { token: string } }>('mutation { createApiToken(name: "run-lab-operator", roles: [operator]) { token } }');
    operator = { PATCHBAY_URL: url, PATCHBAY_TOKEN: created.createApiToken.token };

    const imported = await cli(['import', join(dir, 'lab.ini'), '--host-key-policy', 'tofu'], operator, 60_000);
    assert.equal(imported.code, 0, imported.stderr);
    const applied = await cli(['apply', policyDir], operator, 60_000);
    assert.equal(applied.code, 0, applied.stderr);
    // The CLI has no facts command: the operator's gatherFacts mutation, as the console would send it.
    const facts = await gql<{ gatherFacts: { result: { outcomes?: Array<{ ok: boolean }> } } }>('mutation { gatherFacts(wait: true, refresh: true) { result } }');
    assert.equal(facts.gatherFacts.result.outcomes?.filter((o) => o.ok).length, HOSTS, JSON.stringify(facts));
    for (let i = 0; ; i++) {
      const g = await gql<{ referenceGroups: { edges: Array<{ node: { id: string; memberCount: number } }> } }>('{ referenceGroups(first: 10) { edges { node { id memberCount } } } }');
      const members = g.referenceGroups.edges.filter((e) => e.node.id.startsWith('demo-')).reduce((n, e) => n + e.node.memberCount, 0);
      if (members === HOSTS) break;
      if (i > 300) throw new Error(`the demo groups have ${members} members, expected ${HOSTS}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await lab?.down().catch(() => undefined);
    stop?.();
    await stack?.catch(() => undefined);
    if (savedToken === undefined) delete process.env['PATCHBAY_ADMIN_TOKEN'];
    else process.env['PATCHBAY_ADMIN_TOKEN'] = savedToken;
    rmSync(dir, { recursive: true, force: true });
  });

  it('plan: the dry run of the policy targets every host', async (t) => {
    const plan = await cli(['plan', 'run-lab'], operator, 60_000);
    t.diagnostic(plan.stdout);
    assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
    assert.doesNotMatch(plan.stdout, /^skipped/m, plan.stdout);
    for (const h of lab!.hosts) assert.match(plan.stdout, new RegExp(`\\b${h.name}\\b`), plan.stdout);
  });

  it('exits 0 after showing each wave while it runs and the completed cycle with every host at the end', { timeout: 600_000 }, async (t) => {
    const ran = await cli(['run', 'run-lab'], operator, 540_000);
    const out = ran.stdout;
    assert.equal(ran.code, 0, `exit code\n${out}\n${ran.stderr}`);
    const cycleId = /^requested cycle (\S+)$/m.exec(out)?.[1];
    assert.ok(cycleId, out);
    const frames = out
      .split(/^---$/m)
      .map((f) => f.trim())
      .filter((f) => f.startsWith(`cycle ${cycleId}`));
    // Frames come at most every 250 ms (a burst of events ends with a trailing frame).
    assert.ok(frames.length >= 6, `frames while the cycle runs (${frames.length})`);

    const last = frames.at(-1)!;
    assert.match(last, new RegExp(`^cycle ${cycleId}  status: completed  policy: run-lab`));
    const waves = [...last.matchAll(/^ {2}wave (\d+) (\S+): (\S+) {2}(\d+)\/(\d+) ok, (\d+) running, (\d+) failed$/gm)].map((m) => ({ index: Number(m[1]), name: m[2]!, status: m[3]!, ok: Number(m[4]), size: Number(m[5]), running: Number(m[6]), failed: Number(m[7]) }));
    assert.ok(waves.length >= 2, `a canary wave and at least one more:\n${last}`);
    assert.equal(waves[0]!.size, 1, 'the canary wave has one host');
    assert.equal(
      waves.reduce((n, w) => n + w.size, 0),
      HOSTS,
    );
    for (const w of waves) assert.deepEqual({ status: w.status, ok: w.ok, running: w.running, failed: w.failed }, { status: 'completed', ok: w.size, running: 0, failed: 0 }, `wave ${w.index} at the end:\n${last}`);
    assert.match(last, new RegExp(`^ {2}succeeded \\(${HOSTS}\\)$`, 'm'));
    for (const h of lab!.hosts) assert.match(last, new RegExp(`^ {4}${h.name} \\[wave \\d+\\]`, 'm'), `${h.name} in the final frame`);

    // Live: each wave is seen released with a host running while the waves after it are still planned, in order.
    let previous = -1;
    for (const w of waves) {
      const at = frames.findIndex((f) => new RegExp(`^ {2}wave ${w.index} ${w.name}: released {2}\\d+/${w.size} ok, [1-9]\\d* running`, 'm').test(f) && waves.filter((x) => x.index > w.index).every((x) => new RegExp(`^ {2}wave ${x.index} ${x.name}: planned`, 'm').test(f)));
      assert.ok(at > previous, `wave ${w.index} (${w.name}) shown running after the waves before it (frame ${at})`);
      // The first frame of a wave may come between a run's start and its first step: the host is shown
      // running, and a later frame of the same wave shows it with its current step.
      const stepFrame = frames.findIndex((f, i) => i >= at && new RegExp(`^ {2}wave ${w.index} ${w.name}: released`, 'm').test(f) && /^ {2}running \(\d+\)\n {4}\S+ \[wave \d+\] {2}step: \S+/m.test(f));
      assert.ok(stepFrame >= at, `wave ${w.index}: the running host shown with its current step:\n${frames.slice(at, at + 3).join('\n---\n')}`);
      previous = at;
    }
    t.diagnostic(`${frames.length} frames; final:\n${last}`);
  });
});
