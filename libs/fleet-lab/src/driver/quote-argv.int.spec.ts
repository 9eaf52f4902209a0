import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { quoteArgv } from './quote-argv.js';
import { argvArbitrary } from './argv.fixture.js';

const run = promisify(execFile);

describe('simulated fleet driver: quoteArgv against the real /bin/sh (int, fuzzed)', () => {
  it('sh -c "printf %s\\0 <quoted>" prints exactly argv', async () => {
    await fc.assert(
      fc.asyncProperty(argvArbitrary, async (argv) => {
        const { stdout } = await run('/bin/sh', ['-c', 'printf "%s\\0" ' + quoteArgv(argv)], { encoding: 'buffer' });
        const printed = stdout.toString('utf8').split('\0').slice(0, -1);
        assert.deepEqual(printed, argv);
      }),
      { numRuns: 300 },
    );
  });

  it('a quoted first word runs as a command, not an assignment', async () => {
    const { stdout } = await run('/bin/sh', ['-c', quoteArgv(['printf', '%s', 'A=b'])]);
    assert.equal(stdout, 'A=b');
    await assert.rejects(run('/bin/sh', ['-c', quoteArgv(['A=b'])]), (e: { code?: number }) => e.code === 127);
  });
});
