import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { generateSshKeyPair, SimulatedFleet, type SimulatedEndpoint } from '@patchbay/fleet-lab';
import { CollectingMetricReader, METRIC, startTelemetry, type CollectedPoint, type Telemetry } from '@patchbay/telemetry';
import { freePort } from '@patchbay/testing';
import { RemoteError } from './errors.js';
import { pinnedHostKeys } from './host-key.js';
import type { PresentedHostKey, RemoteTarget } from './port.js';
import { BuiltinSecretResolver } from './secret-resolver.js';
import { Ssh2RemoteExecutor, type Ssh2RemoteExecutorOptions } from './ssh2-executor.js';

/** Asserts a promise rejects with a RemoteError of `code`; returns it for further checks. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

describe('Ssh2RemoteExecutor against the simulated fleet', () => {
  const clientKey = generateSshKeyPair();
  const otherKey = generateSshKeyPair();
  const env = { PB_KEY: clientKey.private, PB_OTHER_KEY: otherKey.private, PB_GARBAGE: 'not a key TOPSECRET-garbage' };
  const exporter = new InMemorySpanExporter();
  const reader = new CollectingMetricReader();
  let telemetry: Telemetry;
  let fleet: SimulatedFleet;
  let pins: Record<string, string>;
  const executors: Ssh2RemoteExecutor[] = [];

  const ep = (i: number): SimulatedEndpoint => fleet.endpoints[i]!;
  const target = (i: number, extra: Partial<RemoteTarget> = {}): RemoteTarget => ({
    endpointId: ep(i).id,
    host: ep(i).host,
    port: ep(i).port,
    user: 'patchbay',
    keyRef: 'env:PB_KEY',
    ...extra,
  });
  const executor = (opts: Partial<Ssh2RemoteExecutorOptions> = {}): Ssh2RemoteExecutor => {
    // The simulated shell runs simple commands only (no `exec`, no GNU timeout): no remote deadline.
    const ex = new Ssh2RemoteExecutor({
      hostKeyVerifier: pinnedHostKeys(pins),
      secretResolver: new BuiltinSecretResolver(env),
      remoteProcessControl: false,
      stopGraceMs: 200,
      ...opts,
    });
    executors.push(ex);
    return ex;
  };

  before(async () => {
    telemetry = startTelemetry({ serviceName: 'remote-int', spanProcessors: [new SimpleSpanProcessor({ exporter })], metricReaders: [reader] });
    fleet = await SimulatedFleet.start({
      endpoints: 6,
      clientPublicKey: clientKey.public,
      basePort: 20_000 + Math.floor(Math.random() * 20_000),
      latencyJitter: 0,
      shutdownDelayMs: 50,
    });
    pins = Object.fromEntries(fleet.targets().map((t) => [t.id, t.hostKeyFingerprint]));
  });
  after(async () => {
    await Promise.all(executors.map((e) => e.close()));
    await fleet?.stop();
    await telemetry?.shutdown();
  });
  beforeEach(() => exporter.reset());

  it('runs many commands over one connection, with sudo, env and captured stdout', async () => {
    const ex = executor();
    const before = ep(0).connectionsAccepted;
    await ex.run(target(0), ['true']);
    const started = Date.now();
    for (let i = 0; i < 100; i++) {
      const r = await ex.run(target(0), ['echo', `n${i}`, "it's $(x)"]);
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdoutTail, `n${i} it's $(x)\n`);
    }
    // Round trips only: Nagle's algorithm with delayed ACKs would make this about 4 s.
    assert.ok(Date.now() - started < 2_500, `100 commands took ${Date.now() - started} ms`);
    const who = await ex.run(target(0), ['whoami'], { sudo: true, captureStdout: 100 });
    assert.equal(who.stdout, 'root\n');
    assert.equal((await ex.run(target(0), ['whoami'])).stdoutTail, 'patchbay\n');
    const withEnv = await ex.run(target(0), ['env'], { env: { PB_MODE: 'a b' } });
    assert.match(withEnv.stdoutTail, /^PB_MODE=a b$/m);
    assert.equal(ep(0).connectionsAccepted - before, 1, 'one connection for every command');
  });

  it('maps exit codes and keeps stdout/stderr tails, byte counts and a digest', async () => {
    const ex = executor();
    const r = await ex.run(target(0), ['apt', 'list', '--upgradable'], { captureStdout: 1 << 16, tailLines: 2 });
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout ?? '', /^Listing\.\.\.\n/);
    assert.equal(r.stdoutTail.split('\n').length, 3, 'two lines and the final newline');
    assert.equal(r.truncated, true, 'the tail holds two lines of more');
    assert.equal(r.stdoutBytes, Buffer.byteLength(r.stdout ?? ''));
    assert.match(r.digest, /^[0-9a-f]{64}$/);
    const again = await ex.run(target(0), ['apt', 'list', '--upgradable'], { tailLines: 2 });
    assert.equal(again.digest, r.digest, 'same output, same digest');
    const missing = await ex.run(target(0), ['no-such-program']);
    assert.equal(missing.exitCode, 127);
    assert.match(missing.stderrTail, /command not found/);
    assert.ok(Date.parse(missing.startedAt) <= Date.now() && missing.durationMs >= 0);
  });

  it('runs parallel commands on channels of one connection, at most 8 at once', async () => {
    const ex = executor();
    const before = ep(1).connectionsAccepted;
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, () => ex.run(target(1), ['sleep', '0.3'])));
    const elapsed = Date.now() - started;
    assert.ok(results.every((r) => r.exitCode === 0));
    assert.equal(ep(1).connectionsAccepted - before, 1);
    // 20 commands of 300 ms, 8 at a time: three rounds; all at once would be one, one by one twenty.
    assert.ok(elapsed >= 850 && elapsed < 4_000, `took ${elapsed} ms`);
  });

  it('stops a command at its timeout with REMOTE_TIMEOUT, and the connection stays usable', async () => {
    const ex = executor();
    const started = Date.now();
    const e = await rejectsWith(ex.run(target(2), ['sleep', '5'], { timeoutMs: 200 }), 'REMOTE_TIMEOUT');
    assert.deepEqual(e.details, { endpointId: ep(2).id, argv0: 'sleep', timeoutMs: 200 });
    assert.ok(Date.now() - started < 2_000);
    assert.equal((await ex.run(target(2), ['true'])).exitCode, 0);
  });

  it('cancels through an AbortSignal: a running command, a pre-aborted call, a wait for a channel', async () => {
    const ex = executor({ maxChannelsPerConnection: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operator pressed stop')), 150);
    const started = Date.now();
    const [running, queued] = await Promise.all([
      rejectsWith(ex.run(target(2), ['sleep', '5'], { signal: ac.signal }), 'CANCELLED'),
      rejectsWith(ex.run(target(2), ['true'], { signal: ac.signal }), 'CANCELLED'),
    ]);
    assert.match(running.message, /operator pressed stop/);
    assert.equal(queued.details['argv0'], 'true');
    assert.ok(Date.now() - started < 2_000);
    await rejectsWith(ex.run(target(2), ['true'], { signal: AbortSignal.abort() }), 'CANCELLED');
    assert.equal((await ex.run(target(2), ['true'])).exitCode, 0, 'the channel was given back');
  });

  it('a drop mid-command is CONNECTION_LOST; the next command reconnects; a reboot is confirmed by a new boot id', async () => {
    const ex = executor();
    const t = target(3, { sudo: true });
    const oldBoot = await ex.readBootId(t);
    assert.equal(oldBoot, ep(3).bootId);
    const long = ex.run(t, ['sleep', '10']);
    await new Promise((r) => setTimeout(r, 50));
    const reboot = await ex.run(t, ['reboot']);
    assert.equal(reboot.exitCode, 0);
    const lost = await rejectsWith(long, 'CONNECTION_LOST');
    assert.equal(lost.details['argv0'], 'sleep');
    const started = Date.now();
    const newBoot = await ex.waitForNewBootId(t, oldBoot, { timeoutMs: 10_000 });
    assert.notEqual(newBoot, oldBoot);
    assert.equal(newBoot, ep(3).bootId);
    assert.ok(Date.now() - started < 5_000);
    assert.equal((await ex.run(t, ['true'])).exitCode, 0);
  });

  it('waitForNewBootId gives up with REBOOT_TIMEOUT when the host stays on its boot', async () => {
    const ex = executor();
    const t = target(4);
    const boot = await ex.readBootId(t);
    // Long enough for polls to answer on a loaded machine; the last poll, cut short by the deadline,
    // must not hide what the earlier ones found.
    const e = await rejectsWith(ex.waitForNewBootId(t, boot, { timeoutMs: 2000, pollIntervalMs: 50 }), 'REBOOT_TIMEOUT');
    assert.equal(e.details['lastErrorCode'], 'SAME_BOOT_ID');
  });

  it('refuses a host whose key the verifier rejects, naming the presented key, before any command', async () => {
    const asked: PresentedHostKey[] = [];
    const ex = executor({
      hostKeyVerifier: async (_id, presented) => {
        asked.push(presented);
        return 'reject';
      },
    });
    const served = ep(4).machine.commandsServed;
    const e = await rejectsWith(ex.run(target(4), ['true']), 'HOST_KEY_REJECTED');
    assert.equal(e.details['sha256Fingerprint'], ep(4).hostKeyFingerprint);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.sha256Fingerprint, ep(4).hostKeyFingerprint);
    assert.equal(`${asked[0]!.algorithm} ${asked[0]!.publicKeyBase64}`, ep(4).hostPublicKey.split(/\s+/).slice(0, 2).join(' '));
    assert.equal(ep(4).machine.commandsServed, served, 'nothing ran');
    // A verifier that throws refuses too.
    const throwing = executor({ hostKeyVerifier: async () => Promise.reject(new Error('pin store down')) });
    await rejectsWith(throwing.run(target(4), ['true']), 'HOST_KEY_REJECTED');
  });

  it('fails with AUTH_FAILED for a wrong key and SECRET_UNAVAILABLE for an unusable one, never showing key material', async () => {
    const ex = executor();
    const failures = fleet.counters.authFailures;
    const auth = await rejectsWith(ex.run(target(5, { keyRef: 'env:PB_OTHER_KEY' }), ['true']), 'AUTH_FAILED');
    assert.ok(fleet.counters.authFailures > failures);
    const garbage = await rejectsWith(ex.run(target(5, { keyRef: 'env:PB_GARBAGE' }), ['true']), 'SECRET_UNAVAILABLE');
    await rejectsWith(ex.run(target(5, { keyRef: 'env:PB_UNSET' }), ['true']), 'SECRET_UNAVAILABLE');
    await rejectsWith(ex.run(target(5, { keyRef: undefined }), ['true']), 'SECRET_UNAVAILABLE');
    for (const e of [auth, garbage]) {
      const shown = JSON.stringify({ message: e.message, details: e.details, stack: e.stack });
      for (const secret of [otherKey.private, 'TOPSECRET', otherKey.private.split('\n')[1]!])
        assert.ok(!shown.includes(secret), `${e.code} shows key material`);
    }
    for (const span of exporter.getFinishedSpans()) {
      const shown = JSON.stringify({ a: span.attributes, s: span.status, e: span.events });
      assert.ok(!shown.includes('TOPSECRET') && !shown.includes(otherKey.private.split('\n')[1]!), `span ${span.name} shows key material`);
    }
    // The right key still works on the same endpoint.
    assert.equal((await ex.run(target(5), ['true'])).exitCode, 0);
  });

  it('fails with HOST_UNREACHABLE when nothing listens, and within the connect timeout when nothing answers', async () => {
    const ex = executor({ connectTimeoutMs: 300 });
    const port = await freePort();
    const refused = await rejectsWith(
      ex.run({ endpointId: 'gone', host: '127.0.0.1', port, user: 'root', keyRef: 'env:PB_KEY' }, ['true']),
      'HOST_UNREACHABLE',
    );
    assert.match(refused.message, /ECONNREFUSED/);
    // A listener that accepts and never says a word: the handshake must give up at the connect timeout.
    const held = new Set<Socket>();
    const silent = createServer((sock) => held.add(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const e = await rejectsWith(
        ex.run({ endpointId: 'mute', host: '127.0.0.1', port: (silent.address() as AddressInfo).port, user: 'root', keyRef: 'env:PB_KEY' }, ['true']),
        'HOST_UNREACHABLE',
      );
      const took = Date.now() - started;
      assert.equal(e.details['reason'], 'timed out');
      assert.ok(took >= 280 && took < 1_500, `gave up after ${took} ms`);
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('rejects bad argv and env before connecting', async () => {
    const ex = executor();
    const accepted = ep(0).connectionsAccepted;
    await rejectsWith(ex.run(target(0), []), 'INVALID_ARGV');
    await rejectsWith(ex.run(target(0), ['echo', 'a\0b']), 'INVALID_ARGV');
    await rejectsWith(ex.run(target(0), ['-rf']), 'INVALID_ARGV');
    await rejectsWith(ex.run(target(0), ['env'], { env: { 'BAD NAME': 'x' } }), 'INVALID_ENV');
    assert.equal(ep(0).connectionsAccepted, accepted);
  });

  it('traces ssh.connect and ssh.exec with the endpoint and argv[0] only', async () => {
    const ex = executor();
    await ex.run(target(1), ['echo', 'secret-looking-argument'], { sudo: true });
    const spans = exporter.getFinishedSpans();
    const connect = spans.find((s) => s.name === 'ssh.connect');
    const exec = spans.find((s) => s.name === 'ssh.exec');
    assert.ok(connect && exec);
    assert.equal(connect.attributes['patchbay.endpoint.id'], ep(1).id);
    assert.equal(exec.attributes['patchbay.endpoint.id'], ep(1).id);
    assert.equal(exec.attributes['process.executable.name'], 'echo');
    assert.equal(exec.attributes['process.exit.code'], 0);
    assert.equal(exec.attributes['patchbay.remote.sudo'], true);
    assert.ok(!JSON.stringify(exec.attributes).includes('secret-looking-argument'));
  });

  it('measures connects and commands in ms and counts errors by code, with no endpoint in the attributes', async () => {
    // Metrics are cumulative over the file: compare before and after.
    const snapshot = async () => {
      const by = (points: CollectedPoint[], key: string) => Object.fromEntries(points.map((p) => [String(p.attributes[key]), p]));
      return {
        connect: by(await reader.points(METRIC.sshConnectDuration), 'patchbay.outcome'),
        command: by(await reader.points(METRIC.sshCommandDuration), 'patchbay.outcome'),
        errors: by(await reader.points(METRIC.sshErrors), 'error.type'),
      };
    };
    const count = (p: CollectedPoint | undefined) => p?.count ?? p?.value ?? 0;
    const sum = (p: CollectedPoint | undefined) => (p?.count !== undefined ? p.value : 0);
    const before = await snapshot();
    const ex = executor({ connectTimeoutMs: 500 });
    await ex.run(target(3), ['true']);
    await ex.run(target(3), ['sh', '-c', 'exit 3']);
    await rejectsWith(ex.run(target(3), ['sleep', '5'], { timeoutMs: 150 }), 'REMOTE_TIMEOUT');
    await rejectsWith(ex.run({ endpointId: 'gone', host: '127.0.0.1', port: await freePort(), user: 'root', keyRef: 'env:PB_KEY' }, ['true']), 'HOST_UNREACHABLE');
    const now = await snapshot();
    assert.equal(count(now.connect['ok']) - count(before.connect['ok']), 1, 'one connection for three commands');
    assert.equal(count(now.connect['error']) - count(before.connect['error']), 1);
    assert.equal(count(now.command['ok']) - count(before.command['ok']), 2, 'a non-zero exit is still a working SSH command');
    assert.equal(count(now.command['error']) - count(before.command['error']), 1);
    const timedOut = sum(now.command['error']) - sum(before.command['error']);
    assert.ok(timedOut >= 140 && timedOut < 3_000, `the timed-out command took ${timedOut} ms`);
    assert.equal(count(now.errors['REMOTE_TIMEOUT']) - count(before.errors['REMOTE_TIMEOUT']), 1);
    assert.equal(count(now.errors['HOST_UNREACHABLE']) - count(before.errors['HOST_UNREACHABLE']), 1);
    for (const p of [...Object.values(now.connect), ...Object.values(now.command), ...Object.values(now.errors)]) {
      assert.ok(!JSON.stringify(p.attributes).includes(ep(3).id) && !JSON.stringify(p.attributes).includes('gone'), 'no endpoint id in metric attributes');
    }
  });
});
