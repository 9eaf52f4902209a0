import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShellSyntaxError } from './errors.js';
import { parseCommandList, parseShellWords, tokenizeShell } from './shell-words.js';

describe('simulated fleet: shell-words parser (unit)', () => {
  const cases: [string, string[]][] = [
    ['apt-get -y upgrade', ['apt-get', '-y', 'upgrade']],
    ["printf '%s\\n' 'a b'", ['printf', '%s\\n', 'a b']],
    ["'it'\\''s'", ["it's"]],
    ['"a \\"b\\" \\\\ \\$x \\n"', ['a "b" \\ $x \\n']],
    ['a\\ b c', ['a b', 'c']],
    ["''", ['']],
    ['""', ['']],
    ['a""b', ['ab']],
    ['  spaced\t\tout  ', ['spaced', 'out']],
    ['echo a # comment', ['echo', 'a']],
    ['echo a#b', ['echo', 'a#b']],
    ['line\\\ncontinued', ['linecontinued']],
    ["'multi\nline'", ['multi\nline']],
    ['"日本語" \'ü\'', ['日本語', 'ü']],
  ];
  for (const [input, expected] of cases) {
    it(`splits ${JSON.stringify(input)}`, () => assert.deepEqual(parseShellWords(input), expected));
  }

  it('rejects unterminated quotes and expansions with ShellSyntaxError', () => {
    for (const bad of ["'open", '"open', 'echo $HOME', 'echo "$HOME"', 'echo `id`', 'a | b', 'a > f']) {
      assert.throws(
        () => parseShellWords(bad),
        (e: unknown) => e instanceof ShellSyntaxError && e.code === 'SHELL_SYNTAX',
        bad,
      );
    }
  });

  it('keeps quoted operators and dollars as plain text', () => {
    assert.deepEqual(parseShellWords("echo '$HOME' '|' ';' '&&'"), ['echo', '$HOME', '|', ';', '&&']);
  });

  it('tokenizes operators', () => {
    assert.deepEqual(
      tokenizeShell('a&&b||c;d|e>f>>g').map((t) => t.value),
      ['a', '&&', 'b', '||', 'c', ';', 'd', '|', 'e', '>', 'f', '>>', 'g'],
    );
  });

  it('splits ; && || lists and refuses pipes and dangling operators', () => {
    assert.deepEqual(parseCommandList('apt-get update && apt-get -y upgrade; true || false\n\necho x'), [
      { connector: ';', argv: ['apt-get', 'update'] },
      { connector: '&&', argv: ['apt-get', '-y', 'upgrade'] },
      { connector: ';', argv: ['true'] },
      { connector: '||', argv: ['false'] },
      { connector: ';', argv: ['echo', 'x'] },
    ]);
    for (const bad of ['a | b', '&& a', 'a &&', 'a &', '(a)']) assert.throws(() => parseCommandList(bad), ShellSyntaxError, bad);
  });
});
