import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { InvalidArgvError, InvalidEnvError, REMOTE_ERROR_CODES, SecretUnavailableError } from './errors.js';
import { describeHostKey, pinnedHostKeys, sshCryptoBackend, sshSha256Fingerprint } from './host-key.js';
import { combinedDigest, OutputTail } from './output-tail.js';
import { buildRemoteCommand, buildStopCommand } from './remote-command.js';
import { BuiltinSecretResolver } from './secret-resolver.js';
import { Ssh2RemoteExecutor } from './ssh2-executor.js';

const dir = mkdtempSync(join(tmpdir(), 'remote-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile('/bin/sh', ['-c', script], { encoding: 'buffer', env: { PATH: '/usr/bin:/bin' } }, (e, out) => (e ? reject(e) : resolve(out))),
  );
}

describe('buildRemoteCommand', () => {
  it('wraps argv as exec, sudo, timeout and env words, with only argv and env values quoted', () => {
    assert.equal(buildRemoteCommand(['apt-get', '-y', 'upgrade']), 'apt-get -y upgrade');
    assert.equal(buildRemoteCommand(['apt-get', 'upgrade'], { sudo: true }), 'sudo -n -- apt-get upgrade');
    assert.equal(
      buildRemoteCommand(['apt-get', 'upgrade'], {
        sudo: true,
        env: { DEBIAN_FRONTEND: 'noninteractive' },
        deadline: { deadlineMs: 61_000, killAfterMs: 2_000 },
      }),
      'exec sudo -n -- timeout -k 2s 61s env DEBIAN_FRONTEND=noninteractive apt-get upgrade',
    );
    assert.equal(buildRemoteCommand(['sleep', '1'], { deadline: { deadlineMs: 1_500, killAfterMs: 250 } }), 'exec timeout -k 0.25s 1.5s sleep 1');
    assert.equal(buildRemoteCommand(['echo'], { env: { X: "it's $(reboot)" } }), "env 'X=it'\\''s $(reboot)' echo");
  });

  it('runs exactly argv, env included, through a real shell with the deadline wrapper', async () => {
    const hostile = ['$(touch pwned)', '`id`', 'a;b', 'x\ny', '*', '~', "'", '--', '-n'];
    const line = buildRemoteCommand(['printf', '%s\\0', ...hostile], { deadline: { deadlineMs: 5_000, killAfterMs: 1_000 } });
    const out = (await sh(line)).toString('utf8').split('\0');
    out.pop();
    assert.deepEqual(out, hostile);
    const env = await sh(buildRemoteCommand(['printenv', 'PB_VALUE'], { env: { PB_VALUE: "a b $HOME `x` '" } }));
    assert.equal(env.toString('utf8'), "a b $HOME `x` '\n");
  });

  it('the remote deadline kills the command and its children at the deadline', async () => {
    const started = Date.now();
    // A child process of the command: timeout kills the whole process group, not just its child.
    const line = buildRemoteCommand(['sh', '-c', 'sleep 30 & wait'], { deadline: { deadlineMs: 300, killAfterMs: 200 } });
    await assert.rejects(sh(line), (e: unknown) => (e as { code?: unknown }).code === 124);
    assert.ok(Date.now() - started < 3_000);
  });

  it('the stop command signals exactly the processes of one run id, children included', async () => {
    const runId = 'a'.repeat(32);
    const other = 'b'.repeat(32);
    const start = (id: string) =>
      spawn('/bin/sh', ['-c', buildRemoteCommand(['sh', '-c', 'sleep 30 & wait'], { runId: id, deadline: { deadlineMs: 20_000, killAfterMs: 500 } })], {
        stdio: 'ignore',
      });
    const target = start(runId);
    const bystander = start(other);
    const exited = (p: ReturnType<typeof spawn>) => new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const targetExit = exited(target);
      await sh(buildStopCommand(runId, 'TERM', false));
      await targetExit;
      assert.ok(Date.now() - started < 2_000);
      assert.equal(bystander.exitCode, null, 'another run is untouched');
    } finally {
      const bystanderExit = exited(bystander);
      await sh(buildStopCommand(other, 'KILL', false));
      await bystanderExit;
    }
    assert.throws(() => buildStopCommand('$(reboot)', 'TERM', false), InvalidArgvError);
    assert.throws(() => buildRemoteCommand(['true'], { runId, env: { PATCHBAY_RUN_ID: 'x' } }), InvalidEnvError);
  });

  it('refuses bad argv with INVALID_ARGV and bad env with INVALID_ENV', () => {
    for (const argv of [[], ['-rf'], [''], ['A=b', 'x'], ['ls', 'a\0']]) {
      assert.throws(
        () => buildRemoteCommand(argv),
        (e: unknown) => e instanceof InvalidArgvError && e.code === 'INVALID_ARGV',
        JSON.stringify(argv),
      );
    }
    for (const env of <Record<string, string>[]>[
      { 'A-B': 'x' },
      { '1A': 'x' },
      { '': 'x' },
      { 'A B': 'x' },
      { 'X=Y': 'z' },
      { A: 'x\0y' },
      { A: 42 as unknown as string },
    ]) {
      assert.throws(
        () => buildRemoteCommand(['true'], { env }),
        (e: unknown) => e instanceof InvalidEnvError && e.code === 'INVALID_ENV',
        JSON.stringify(env),
      );
    }
  });
});

describe('host keys', () => {
  for (const [type, extra] of [
    ['ed25519', []],
    ['ecdsa', ['-b', '256']],
    ['rsa', ['-b', '2048']],
  ] as const) {
    it(`fingerprint and algorithm of a ${type} key match ssh-keygen -lf`, () => {
      const file = join(dir, `key-${type}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', 'unit', '-f', file]);
      const [algorithm, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
      const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];
      const presented = describeHostKey(Buffer.from(b64!, 'base64'));
      assert.equal(presented.sha256Fingerprint, listed);
      assert.match(presented.sha256Fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
      assert.equal(presented.algorithm, algorithm);
      assert.equal(presented.publicKeyBase64, b64);
    });
  }

  it('a blob too short to name its type is described as unknown, never trusted to parse', () => {
    assert.equal(describeHostKey(Buffer.from([0, 0, 0, 200, 1])).algorithm, 'unknown');
    assert.equal(describeHostKey(Buffer.alloc(0)).sha256Fingerprint, sshSha256Fingerprint(Buffer.alloc(0)));
  });

  it('pinnedHostKeys accepts only the pinned fingerprints of that endpoint', async () => {
    const verify = pinnedHostKeys({ a: 'SHA256:one', b: ['SHA256:two', 'SHA256:three'] });
    const key = (fp: string) => ({ algorithm: 'ssh-ed25519', sha256Fingerprint: fp, publicKeyBase64: '' });
    assert.equal(await verify('a', key('SHA256:one')), 'accept');
    assert.equal(await verify('a', key('SHA256:two')), 'reject');
    assert.equal(await verify('b', key('SHA256:three')), 'accept');
    assert.equal(await verify('unknown', key('SHA256:one')), 'reject');
  });

  it('ssh2 runs on its native crypto binding in this build', () => {
    assert.equal(sshCryptoBackend(), 'native');
    const logged: unknown[] = [];
    const ex = new Ssh2RemoteExecutor({ hostKeyVerifier: pinnedHostKeys({}), log: (level, message, fields) => logged.push({ level, message, fields }) });
    assert.equal(ex.cryptoBackend, 'native');
    assert.deepEqual(logged, [{ level: 'info', message: 'ssh2 crypto backend', fields: { backend: 'native' } }]);
  });

  it('an executor without a host key verifier cannot be built', () => {
    assert.throws(() => new Ssh2RemoteExecutor({} as never), TypeError);
  });
});

describe('BuiltinSecretResolver', () => {
  const material = '-----BEGIN OPENSSH PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END OPENSSH PRIVATE KEY-----\n';

  it('reads file: and env: references', async () => {
    const file = join(dir, 'id');
    writeFileSync(file, material, { mode: 0o600 });
    const r = new BuiltinSecretResolver({ PB_KEY: material });
    assert.equal((await r.resolve(`file:${file}`)).toString(), material);
    assert.equal(await r.resolve('env:PB_KEY'), material);
  });

  it('reuses a key file read within its cache time, reads a replaced key after it, never remembers a failed read', async () => {
    const file = join(dir, 'rotating');
    writeFileSync(file, material, { mode: 0o600 });
    const r = new BuiltinSecretResolver({}, 150);
    assert.equal((await r.resolve(`file:${file}`)).toString(), material);
    writeFileSync(file, 'ROTATED', { mode: 0o600 });
    assert.equal((await r.resolve(`file:${file}`)).toString(), material, 'within the cache time: the content read before');
    await new Promise((res) => setTimeout(res, 200));
    assert.equal((await r.resolve(`file:${file}`)).toString(), 'ROTATED', 'after it: read again');
    const late = join(dir, 'late');
    await assert.rejects(r.resolve(`file:${late}`), SecretUnavailableError);
    writeFileSync(late, material, { mode: 0o600 });
    assert.equal((await r.resolve(`file:${late}`)).toString(), material, 'a missing file is looked for again at once');
    const uncached = new BuiltinSecretResolver({}, 0);
    assert.equal((await uncached.resolve(`file:${file}`)).toString(), 'ROTATED');
    writeFileSync(file, material, { mode: 0o600 });
    assert.equal((await uncached.resolve(`file:${file}`)).toString(), material, 'no cache: every read sees the file');
  });

  it('fails with SECRET_UNAVAILABLE naming the reference, never the material', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    const r = new BuiltinSecretResolver({ EMPTY: '', OTHER: material });
    for (const ref of [
      'env:MISSING',
      'env:EMPTY',
      'env:',
      'env:not-a-name',
      `file:${join(dir, 'missing')}`,
      `file:${empty}`,
      'file:',
      'vault:x',
      'TOPSECRETMATERIAL',
    ]) {
      await assert.rejects(r.resolve(ref), (e: unknown) => {
        assert.ok(e instanceof SecretUnavailableError, ref);
        assert.equal(e.code, 'SECRET_UNAVAILABLE');
        assert.ok(!e.message.includes('BEGIN OPENSSH'), e.message);
        return true;
      });
    }
  });
});

describe('OutputTail', () => {
  const feed = (t: OutputTail, text: string, chunk = 7): void => {
    const b = Buffer.from(text);
    for (let i = 0; i < b.length; i += chunk) t.push(b.subarray(i, i + chunk));
  };

  it('keeps the last lines within the byte cap, counts and hashes everything', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const out = new OutputTail(256, 32);
    const err = new OutputTail(256);
    feed(out, text);
    const tail = out.tail(3);
    assert.equal(tail.text, 'line 997\nline 998\nline 999\n');
    assert.equal(tail.complete, false);
    assert.equal(out.bytes, Buffer.byteLength(text));
    assert.deepEqual(out.capture(), { text: text.slice(0, 32), complete: false });
    const expected = createHash('sha256').update(createHash('sha256').update(text).digest()).update(createHash('sha256').update('').digest()).digest('hex');
    assert.equal(combinedDigest(out, err), expected);
  });

  it('short output is complete; a tail cut inside a line or a character drops that partial line', () => {
    const small = new OutputTail(1024, 1024);
    feed(small, 'a\nb\n');
    assert.deepEqual(small.tail(50), { text: 'a\nb\n', complete: true });
    assert.deepEqual(small.capture(), { text: 'a\nb\n', complete: true });
    const cut = new OutputTail(10);
    feed(cut, 'ééééééééééé\nend\n', 3);
    assert.deepEqual(cut.tail(50), { text: 'end\n', complete: false });
    const none = new OutputTail(1024);
    assert.deepEqual(none.tail(5), { text: '', complete: true });
    assert.equal(new OutputTail(0).tail(5).text, '');
  });
});

describe('error vocabulary', () => {
  it('every code is stable and every error is a PatchbayError', () => {
    assert.deepEqual(
      [...REMOTE_ERROR_CODES],
      [
        'HOST_UNREACHABLE',
        'AUTH_FAILED',
        'HOST_KEY_REJECTED',
        'CONNECTION_LOST',
        'REMOTE_TIMEOUT',
        'CANCELLED',
        'INVALID_ARGV',
        'INVALID_ENV',
        'SECRET_UNAVAILABLE',
        'REBOOT_TIMEOUT',
        'BOOT_ID_UNREADABLE',
      ],
    );
    const e = new InvalidArgvError('x');
    assert.ok(e instanceof PatchbayError);
    assert.deepEqual(e.toJSON(), { code: 'INVALID_ARGV', message: 'x', details: {} });
    assert.equal(e.name, 'InvalidArgvError');
  });
});
