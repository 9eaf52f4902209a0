import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseShellWords } from '../sim/shell-words.js';
import { argvArbitrary } from './argv.fixture.js';
import { InvalidArgvError } from './errors.js';
import { quoteArgv } from './quote-argv.js';

describe('simulated fleet driver: quoteArgv (unit, fuzzed)', () => {
  it('parseShellWords(quoteArgv(argv)) returns argv exactly', () => {
    fc.assert(
      fc.property(argvArbitrary, (argv) => {
        assert.deepEqual(parseShellWords(quoteArgv(argv)), argv);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves plain words bare and quotes the rest', () => {
    assert.equal(quoteArgv(['apt-get', '-y', '-o', 'Dpkg::Options::=--force-confold', 'upgrade']), 'apt-get -y -o Dpkg::Options::=--force-confold upgrade');
    assert.equal(quoteArgv(['echo', "it's", '', '$HOME', 'a b']), `echo 'it'\\''s' '' '$HOME' 'a b'`);
    assert.equal(quoteArgv(['A=b', 'c']), "'A=b' c", 'a first word with = must not become an assignment');
  });

  it('rejects what cannot travel in an argv with InvalidArgvError', () => {
    for (const bad of [[], ['a\0b'], ['x', '\uD800']]) {
      assert.throws(
        () => quoteArgv(bad),
        (e: unknown) => e instanceof InvalidArgvError && e.code === 'INVALID_ARGV',
        JSON.stringify(bad),
      );
    }
  });
});
