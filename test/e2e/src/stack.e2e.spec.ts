import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, cliEntry, descendants, graphql, startUp } from './stack-process.js';

interface HealthData {
  health: { status: string; services: Array<{ service: string; status: string; pid: number | null; error: string | null }> };
}

const HEALTH = '{ health { status services { service status pid error } } }';

describe('patchbay up: the whole stack with one command', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'patchbay-up-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const mode of ['separate processes', 'single process'] as const) {
    it(`${mode}: every service answers health over NATS, and Ctrl-C stops everything it started`, async () => {
      const dataDir = tmp();
      const up = await startUp(['--port', '0', '--data-dir', dataDir, ...(mode === 'single process' ? ['--single-process'] : [])]);
      try {
        const r = await graphql<HealthData>(up.url, HEALTH);
        assert.equal(r.data?.health.status, 'ok', JSON.stringify(r));
        const services = r.data!.health.services.map((s) => s.service).sort();
        assert.deepEqual(services, ['executor', 'gateway', 'inventory', 'planner', 'policy']);
        const pids = new Set(r.data!.health.services.map((s) => s.pid));
        const started = descendants(up.child.pid!);
        if (mode === 'separate processes') {
          assert.equal(pids.size, 5, 'five processes answer');
          for (const pid of pids) assert.ok(started.includes(pid!), `service pid ${pid} is a child of patchbay up`);
          assert.ok(started.length >= 7, `nats-server, 4 services, relay, gateway: ${started.length}`);
        } else {
          assert.deepEqual([...pids], [up.child.pid], 'every service runs in the patchbay up process');
          assert.equal(started.length, 1, 'only nats-server is a child');
        }
        assert.ok(existsSync(join(dataDir, 'events.db')), 'the SQLite store is under the data dir');
        // The web console is printed and served by the gateway at /.
        const consoleLine = up.lines.map((l) => /^Console: (\S+)/.exec(l)?.[1]).find(Boolean);
        assert.equal(consoleLine, new URL('/', up.url).href, up.lines.join('\n'));
        const page = await fetch(consoleLine!);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<div id="root">/);
        up.child.kill('SIGINT');
        assert.equal(await up.exited, 0);
        for (const pid of started) assert.equal(alive(pid), false, `pid ${pid} still running after Ctrl-C`);
      } finally {
        if (up.child.exitCode === null) up.child.kill('SIGKILL');
        for (const pid of descendants(up.child.pid!)) process.kill(pid, 'SIGKILL');
      }
    });
  }

  it('a killed service is restarted by the supervisor and the stack is healthy again', async () => {
    const up = await startUp(['--port', '0', '--data-dir', tmp()]);
    try {
      const before = await graphql<HealthData>(up.url, HEALTH);
      const planner = before.data!.health.services.find((s) => s.service === 'planner')!.pid!;
      process.kill(planner, 'SIGKILL');
      let healthy: HealthData | undefined;
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const r = await graphql<HealthData>(up.url, HEALTH);
        const p = r.data?.health.services.find((s) => s.service === 'planner');
        if (r.data?.health.status === 'ok' && p?.pid !== planner) {
          healthy = r.data;
          break;
        }
      }
      assert.ok(healthy, 'planner came back');
      up.child.kill('SIGINT');
      assert.equal(await up.exited, 0);
    } finally {
      if (up.child.exitCode === null) up.child.kill('SIGKILL');
    }
  });

  it('missing nats-server: a clear error with the install command, nothing left running', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_SERVER_BIN: '/nonexistent/nats-server' };
    delete env['NATS_URL'];
    const r = spawnSync(process.execPath, [cliEntry(), 'up', '--port', '0', '--data-dir', tmp()], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[NATS_SERVER_MISSING\]/);
    assert.match(r.stderr, /apt-get install -y nats-server/);
  });

  it('bad configuration: exit status 2 and the variable named, with a stable code', () => {
    const env = { ...process.env, GATEWAY_PORT: 'not-a-port' };
    const r = spawnSync(process.execPath, [cliEntry(), 'up', '--data-dir', tmp()], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /\[CONFIG_INVALID\].*GATEWAY_PORT/);
    const bad = spawnSync(process.execPath, [cliEntry(), 'up', '--port', '70000'], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /must be a port number/);
  });
});
