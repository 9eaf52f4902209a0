import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgvError } from './errors.js';
import { quoteArg, quoteArgv, validateArgv } from './quote-argv.js';

/** Runs `<shell> -c 'printf "%s\0" <quoted argv>'` and splits what printf wrote back into argv. */
function roundTrip(shell: string, argv: readonly string[], cwd?: string): Promise<string[]> {
  const script = `printf '%s\\0' ${quoteArgv(argv)}`;
  return new Promise((resolve, reject) => {
    execFile(shell, ['-c', script], { encoding: 'buffer', cwd, env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } }, (err, stdout) => {
      if (err) return reject(err);
      const parts = stdout.toString('utf8').split('\0');
      assert.equal(parts.pop(), '', 'printf output ends with NUL');
      resolve(parts);
    });
  });
}

// Characters a shell gives meaning to, mixed into the fuzzed strings so every run has some.
const SHELL_META = [...`'"\\$\`!*?[]{}()<>|&;#~=% \t\n\r-`, 'é', '漢', '🙂', '\u00a0', '\u202e'];
const nasty = fc.string({ unit: fc.constantFrom(...SHELL_META), maxLength: 12 });
const anyUnicode = fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => !s.includes('\0'));
const arg = fc.oneof(anyUnicode, nasty, fc.constantFrom('', "'", "''", '-', '--', '-rf', '~', '~root', '*', 'a=b', 'if', 'time', '!'));
const argvArb = fc.array(arg, { minLength: 1, maxLength: 8 });

describe('quoteArgv', () => {
  for (const shell of ['/bin/sh', '/bin/bash']) {
    it(`gives back exactly argv through ${shell} -c for any unicode argv without NUL (fuzz)`, async () => {
      await fc.assert(
        fc.asyncProperty(argvArb, async (argv) => {
          // printf needs one argument at least; it is the argument list under test, not a command.
          assert.deepEqual(await roundTrip(shell, argv), argv);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('leaves hostile inputs inert: no substitution, no second command, no glob, no tilde', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quote-argv-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'a.txt'), '');
    writeFileSync(join(dir, 'b.txt'), '');
    const marker = join(dir, 'pwned');
    const hostile = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `; touch ${marker}`,
      `x\ntouch ${marker}`,
      `&& touch ${marker}`,
      `| touch ${marker}`,
      `> ${marker}`,
      `$(reboot)`,
      '--',
      '-rf',
      '--help',
      '*',
      '*.txt',
      '?.txt',
      '[ab].txt',
      '{a,b}.txt',
      '~',
      '~root',
      '$HOME',
      '${HOME}',
      "it's",
      "'; touch pwned; '",
      '\\',
      '#comment',
    ];
    for (const shell of ['/bin/sh', '/bin/bash']) {
      assert.deepEqual(await roundTrip(shell, hostile, dir), hostile, shell);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['a.txt', 'b.txt'], 'nothing was created or touched');
  });

  it('quotes a first word that a shell would read as an assignment or a reserved word', async () => {
    assert.equal(quoteArgv(['a=b', 'a=b']), "'a=b' a=b");
    assert.equal(quoteArgv(['time', 'ls']), "'time' ls");
    assert.equal(quoteArgv(['if']), "'if'");
    // As the first word, quoted `time` is looked up as a program, so bash does not time anything.
    await assert.rejects(
      new Promise((resolve, reject) =>
        execFile('/bin/bash', ['-c', quoteArgv(['time', 'true'])], { env: { PATH: '/nonexistent' } }, (e, out) => (e ? reject(e) : resolve(out))),
      ),
    );
  });

  it('leaves safe words bare and quotes everything else, writing a quote as close-escape-reopen', () => {
    assert.equal(
      quoteArgv(['apt-get', '-y', 'upgrade', '/etc/os-release', 'key=value', 'user@host:1,2', '100%']),
      'apt-get -y upgrade /etc/os-release key=value user@host:1,2 100%',
    );
    assert.equal(quoteArg(''), "''");
    assert.equal(quoteArg("it's"), "'it'\\''s'");
    assert.equal(quoteArg('a b'), "'a b'");
    assert.equal(quoteArg('~'), "'~'");
  });

  it('rejects what cannot reach a remote program unchanged with INVALID_ARGV', () => {
    const cases: unknown[] = [[], ['a\0b'], ['ok', 'x\0'], ['\uD800'], ['a', '\uDC00b'], [42], ['ls', null], 'ls -l'];
    for (const c of cases) {
      assert.throws(
        () => quoteArgv(c as string[]),
        (e: unknown) => e instanceof InvalidArgvError && e.code === 'INVALID_ARGV',
        JSON.stringify(c),
      );
      assert.throws(() => validateArgv(c as string[]), InvalidArgvError);
    }
    // A paired surrogate (an emoji) is fine.
    assert.equal(quoteArgv(['echo', '🙂']), "echo '🙂'");
  });
});
