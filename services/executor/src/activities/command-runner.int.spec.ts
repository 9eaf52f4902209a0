import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { callHttp, outputDigest, runOnController } from './command-runner.js';

describe('controller commands and HTTP calls (real child processes, a real HTTP server)', () => {
  it('runs argv without a shell and records exit code, tails and the digest of the full output', async () => {
    const r = await runOnController(['sh', '-c', 'printf "a\\nb\\n"; printf oops >&2; exit 3'], { timeoutMs: 5000, signal: new AbortController().signal });
    assert.equal(r.exitCode, 3);
    assert.equal(r.record.stdoutTail, 'a\nb\n');
    assert.equal(r.record.stderrTail, 'oops');
    assert.equal(r.record.digest, outputDigest(Buffer.from('a\nb\n'), Buffer.from('oops')));
    const literal = await runOnController(['echo', '$(id); rm -rf /'], { timeoutMs: 5000, signal: new AbortController().signal });
    assert.equal(literal.stdout, '$(id); rm -rf /\n', 'arguments are never interpreted');
  });

  it('keeps only the last lines and bytes of a large output in the record, but digests all of it', async () => {
    const r = await runOnController(['seq', '1', '100000'], { timeoutMs: 10_000, signal: new AbortController().signal });
    assert.equal(r.record.stdoutTail.split('\n').at(-2), '100000');
    assert.ok(r.record.stdoutTail.length <= 4096);
    assert.equal(r.record.truncated, true);
    const full = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(r.record.digest, createHash('sha256').update(Buffer.concat([createHash('sha256').update(full).digest(), createHash('sha256').update('').digest()])).digest('hex'));
  });

  it('a missing program is exit 127; an aborted command is CANCELLED, returned only once the child has exited', async () => {
    assert.equal((await runOnController(['/nonexistent/program'], { timeoutMs: 5000, signal: new AbortController().signal })).exitCode, 127);
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(runOnController(['sleep', '10'], { timeoutMs: 20_000, signal: ac.signal }), (e: unknown) => e instanceof PatchbayError && e.code === 'CANCELLED');
    assert.ok(Date.now() - started < 2000);
  });

  it('HTTP: status and body recorded, headers never; a refused connection is a recorded error', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['authorization'] ?? ''}`);
      res.writeHead(202).end('queued');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pool/a/drain`;
    try {
      const r = await callHttp({ method: 'POST', url, headers: { authorization: 'Bearer secret-token' }, body: '{}' }, { timeoutMs: 5000, signal: new AbortController().signal });
      assert.equal(r.status, 202);
      assert.deepEqual(r.record.argv, ['POST', url]);
      assert.equal(r.record.stdoutTail, 'queued');
      assert.ok(!JSON.stringify(r.record).includes('secret-token'));
      assert.deepEqual(seen, ['POST /pool/a/drain Bearer secret-token']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    const refused = await callHttp({ method: 'GET', url }, { timeoutMs: 2000, signal: new AbortController().signal });
    assert.equal(refused.status, null);
    assert.ok(refused.error);
  });
});
