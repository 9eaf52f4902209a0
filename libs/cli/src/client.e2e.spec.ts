import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteEventStore } from '@patchbay/event-store';
import { recordedHaltingCycle } from './client/recorded-cycle.js';
import { up } from './up.js';

const ROOT = resolve(__dirname, '../../..');
const MAIN = join(__dirname, 'main.js');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `patchbay …` as a child process (asynchronously: the stack serves from this process). */
function cli(args: string[], env: Record<string, string | undefined> = {}, onStdout?: (text: string) => void): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, PATCHBAY_URL: undefined, PATCHBAY_TOKEN: undefined, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      onStdout?.(stdout);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const makeToken = (): string => `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('patchbay CLI against a running stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cli-'));
  const token = makeToken();
  let url = '';
  let stop!: () => void;
  let stopped: Promise<void>;
  let env: Record<string, string>;
  const savedToken = process.env['PATCHBAY_ADMIN_TOKEN'];

  before(async () => {
    process.env['PATCHBAY_ADMIN_TOKEN'] = token;
    const until = new Promise<void>((r) => (stop = r));
    const ready = new Promise<string>((r, j) => {
      stopped = up({ dataDir: dir, port: 0, singleProcess: true, until, log: () => undefined, onReady: (i) => r(i.url) });
      stopped.catch(j);
    });
    url = await ready;
    env = { PATCHBAY_URL: url, PATCHBAY_TOKEN: token };
  });

  after(async () => {
    stop?.();
    await stopped?.catch(() => undefined);
    if (savedToken === undefined) delete process.env['PATCHBAY_ADMIN_TOKEN'];
    else process.env['PATCHBAY_ADMIN_TOKEN'] = savedToken;
    rmSync(dir, { recursive: true, force: true });
  });

  it('apply: the demo fleet and the policy examples as policy-as-code; --json parses', async () => {
    const demo = await cli(['apply', 'libs/cli/demo/fleet.yaml'], env);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /define +ReferenceGroup +demo-web v1/);
    const ex = await cli(['--json', 'apply', 'services/policy/examples'], env);
    assert.equal(ex.code, 0, ex.stderr);
    const r = JSON.parse(ex.stdout) as { result: { changes: { kind: string; id: string }[] } };
    assert.deepEqual(r.result.changes.filter((c) => c.kind === 'PatchPolicy').map((c) => c.id).sort(), ['production-weekly', 'staging-daily']);
    const again = await cli(['apply', '--dry-run', 'libs/cli/demo/fleet.yaml'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /5 unchanged \(dry run: nothing stored\)/);
  });

  it('groups and policies: list (human and --json), show, explain', async () => {
    let list: Ran | undefined;
    for (let i = 0; i < 50; i++) {
      list = await cli(['--json', 'groups', 'list'], env);
      if ((JSON.parse(list.stdout || '[]') as unknown[]).length >= 6) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(list!.code, 0, list!.stderr);
    const ids = (JSON.parse(list!.stdout) as { id: string }[]).map((g) => g.id).sort();
    assert.deepEqual(ids, ['demo-canary', 'demo-db', 'demo-web', 'prod-databases', 'prod-web', 'staging']);
    const human = await cli(['groups'], env);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^demo-db +critical +v1 +0 members +Databases/m);
    const pol = await cli(['policies', 'list'], env);
    assert.match(pol.stdout, /^production-weekly +v1/m);
    const show = await cli(['policies', 'show', 'demo-all'], env);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /demo-canary/);
    const explain = await cli(['groups', 'explain', 'demo-web', 'web-9'], env);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /web-9 is not in demo-web \(selector: env=demo,role=web,!group.canary\)/);
    assert.equal((await cli(['groups', 'show', 'no-such-group'], env)).code, 4);
  });

  it('plan of a policy whose groups are empty: PLANNER_EMPTY_TARGET, exit 1; an unknown policy: exit 4', async () => {
    const r = await cli(['plan', 'demo-all'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\[PLANNER_EMPTY_TARGET\] groups demo-canary, demo-db, demo-web have no members/);
    const j = await cli(['--json', 'plan', 'demo-all'], env);
    assert.equal((JSON.parse(j.stderr) as { error: { code: string } }).error.code, 'PLANNER_EMPTY_TARGET');
    const unknown = await cli(['plan', 'no-such-policy'], env);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /PLANNER_UNKNOWN_POLICY/);
    const advisory = await cli(['plan', 'demo-all', '--emergency', 'not-an-advisory', '--packages', 'openssl'], env);
    assert.equal(advisory.code, 2, advisory.stderr);
    const run = await cli(['run', 'demo-all'], env);
    assert.equal(run.code, 1, 'run refused by the planner ends the live view at once');
    assert.match(run.stderr, /PLANNER_EMPTY_TARGET/);
    assert.equal((await cli(['run', 'demo-all', '--packages', 'openssl'], env)).code, 2, '--packages without --emergency');
    const approve = await cli(['approve', 'c-does-not-exist'], env);
    assert.equal(approve.code, 4, approve.stderr);
    assert.match(approve.stderr, /^patchbay: \[CYCLE_NOT_FOUND\] /);
    assert.equal((await cli(['pause', 'c-does-not-exist'], env)).code, 4);
  });

  it('import: a bad line in a CSV or an INI file is exit 2 naming file and line; a good file imports', async () => {
    const csv = join(dir, 'hosts.csv');
    writeFileSync(csv, 'endpoint_id,host,port,labels\nweb-1,10.0.0.1,22,env=demo;role=web\nweb-2,10.0.0.2,22,env=demo;role\n');
    const bad = await cli(['import', csv], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /hosts\.csv:3/);
    const ini = join(dir, 'hosts.ini');
    writeFileSync(ini, '[web]\nweb-1 ansible_host=10.0.0.1\nweb-2 ansible_port=22 ===\n');
    const badIni = await cli(['import', ini, '--format', 'ansible-ini'], env);
    assert.equal(badIni.code, 2, badIni.stderr);
    assert.match(badIni.stderr, /hosts\.ini:3/);
    writeFileSync(csv, 'endpoint_id,host,port,labels\nweb-1,10.0.0.1,22,env=demo;role=web\n');
    const dry = await cli(['import', csv, '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /checked .*hosts\.csv .*endpoints 1.*\(dry run: nothing stored\)/);
    const good = await cli(['--json', 'import', csv, '--host-key-policy', 'tofu'], env);
    assert.equal(good.code, 0, good.stderr);
    assert.equal((JSON.parse(good.stdout) as { result: { summary: { registered: number } } }).result.summary.registered, 1);
    let explain: Ran | undefined;
    for (let i = 0; i < 50; i++) {
      explain = await cli(['groups', 'explain', 'demo-web', 'web-1'], env);
      if (/is in demo-web/.test(explain.stdout)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(explain!.stdout, /web-1 is in demo-web since .*: selector/);
  });

  it('authentication, not found, unreachable and usage errors have their exit codes', async () => {
    const badToken = await cli(['groups', 'list'], { PATCHBAY_URL: url, PATCHBAY_TOKEN: makeToken() });
    assert.equal(badToken.code, 3, badToken.stderr);
    assert.match(badToken.stderr, /UNAUTHENTICATED/);
    assert.equal((await cli(['--url', url, 'policies'])).code, 3, 'no token');
    const port = await closedPort();
    const down = await cli(['--url', `http://127.0.0.1:${port}/graphql`, '--token', token, 'groups']);
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /GATEWAY_UNREACHABLE/);
    const missing = await cli(['audit', 'verify', 'c-does-not-exist'], env);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /NOT_FOUND/);
    assert.equal((await cli(['watch', 'c-does-not-exist'], env)).code, 4);
    assert.equal((await cli(['audit', 'export', 'c-does-not-exist', '-o', join(dir, 'x.jsonl')], env)).code, 4);
    assert.equal((await cli(['plan'], env)).code, 2, 'missing argument');
    assert.equal((await cli(['no-such-command'], env)).code, 2, 'unknown command');
    assert.equal((await cli(['import', 'x.csv', '--format', 'xml'], env)).code, 2, 'bad choice');
    assert.equal((await cli(['import', join(dir, 'absent.csv')], env)).code, 2, 'unreadable file');
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes[\s\S]*5 +the gateway is unreachable/);
  });

  it('watch follows a cycle live until it halts (exit 1); audit history, as-of, verify, export and offline verify-export', async () => {
    const cycleId = `c-cli-${randomBytes(3).toString('hex')}`;
    const steps = recordedHaltingCycle(cycleId);
    const store = SqliteEventStore.open(join(dir, 'events.db'));
    let n = 0;
    const append = async (count: number): Promise<void> => {
      for (const s of steps.slice(n, n + count)) {
        const stream = s.stream === 'cycle' ? `cycle-${cycleId}` : `run-${cycleId}.${s.stream}`;
        await store.append(stream, [{ eventId: `${cycleId}-${n++}`, type: s.type, data: s.data, actor: 'planner', correlationId: cycleId }], 'any');
      }
    };
    try {
      await append(5);
      let sawRunning!: () => void;
      const running = new Promise<void>((r) => (sawRunning = r));
      const watching = cli(['watch', cycleId], env, (out) => {
        if (/status: running/.test(out)) sawRunning();
      });
      await running;
      await append(steps.length - n);
      const w = await watching;
      assert.equal(w.code, 1, w.stderr);
      assert.match(w.stderr, /\[CYCLE_NOT_COMPLETED\] cycle .* ended halted/);
      const last = w.stdout.trimEnd().split('---').filter((b) => b.trim()).pop()!;
      assert.match(last, /status: halted .*halt: ERROR_THRESHOLD_REACHED/);
      assert.match(last, /wave 0 canary: completed {2}1\/2 ok, 0 running, 1 failed/);
      assert.match(last, /db-1 validate: CHECK_FAILED health check answered 503\n {6}\| line 1/);

      const history = await cli(['--json', 'audit', 'history', cycleId], env);
      assert.equal(history.code, 0, history.stderr);
      assert.equal((JSON.parse(history.stdout) as unknown[]).length, steps.length);
      const asOf = await cli(['--json', 'audit', 'as-of', cycleId, `${cycleId}-4`], env);
      assert.equal(asOf.code, 0, asOf.stderr);
      assert.equal((JSON.parse(asOf.stdout) as { status: string }).status, 'running');
      const verify = await cli(['audit', 'verify', cycleId], env);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /^OK: 3 stream\(s\), 18 events/);

      const file = join(dir, 'export.jsonl');
      const exp = await cli(['audit', 'export', cycleId, '--format', 'jsonl', '-o', file], env);
      assert.equal(exp.code, 0, exp.stderr);
      const ok = await cli(['audit', 'verify-export', file, `${file}.manifest.json`]);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, /^OK/);
      writeFileSync(file, readFileSync(file, 'utf8').replace('health check answered 503', 'health check answered 200'));
      const tampered = await cli(['--json', 'audit', 'verify-export', file, `${file}.manifest.json`]);
      assert.equal(tampered.code, 1);
      assert.ok((JSON.parse(tampered.stdout) as { problems: { code: string }[] }).problems.some((p) => p.code === 'DIGEST_MISMATCH'));
      const csv = join(dir, 'export.csv');
      assert.equal((await cli(['audit', 'export', cycleId, '--format', 'csv', '-o', csv], env)).code, 0);
      assert.equal((await cli(['audit', 'verify-export', csv, `${csv}.manifest.json`])).code, 0);
    } finally {
      await store.close();
    }
  });
});
