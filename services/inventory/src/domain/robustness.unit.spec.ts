import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { endpointFactsSchema } from '@patchbay/contracts';
import { aptUpdates } from './facts/apt.js';
import { assembleFacts } from './facts/gather.js';
import { parseDf } from './facts/linux.js';
import { parseOsRelease } from './facts/os-release.js';
import { parseDnfCheckUpdate, parseUpdateinfoList } from './facts/rpm.js';
import { parseZypperListPatches, parseZypperListUpdates, ZypperXmlError } from './facts/zypper.js';
import { inventoryToSpecs } from './import/endpoint-spec.js';

// Text that looks like the real thing often enough to reach deep branches.
const noisy = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.array(fc.constantFrom('[g]', '[g:vars]', '[g:children]', 'h1', 'web[01:03]', 'a=b', 'x="y z', '#', ';c', 'all:', '  hosts:', '    h:', '      k: v', 'endpoint_id,host', 'a,b', '"q', '\t', ':', 'db-[a:c]:22', '[', ']'), { maxLength: 30 }).map((ls) => ls.join('\n')),
);

describe('untrusted input never throws', () => {
  it('inventory parsers return specs or issues for any text, never both, never an exception', () => {
    fc.assert(
      fc.property(noisy, fc.constantFrom('ansible-ini', 'ansible-yaml', 'csv') as fc.Arbitrary<'ansible-ini' | 'ansible-yaml' | 'csv'>, (text, format) => {
        const r = inventoryToSpecs(format, text, 'f');
        assert.ok(r.issues.length === 0 || r.specs.length === 0);
        for (const i of r.issues) assert.ok(i.line >= 1 && i.code && i.field !== undefined);
      }),
      { numRuns: 1500 },
    );
  });

  it('fact parsers and the assembly accept any output', () => {
    const out = fc.oneof(fc.string({ maxLength: 600 }), fc.array(fc.constantFrom('Inst a [1] (2 Debian-Security:x [all])', 'a/b 1 all [upgradable from: 0]', 'RHSA-1 Important/Sec. a-1-1.x86_64', 'x.y 1-1 repo', 'Obsoleting Packages', '<stream>', '<update kind="patch" name="p" category="security">', '</stream>', 'ID=debian', 'ID=rhel', '/dev/x ext4 1 1 1 1% /'), { maxLength: 20 }).map((l) => l.join('\n')));
    fc.assert(
      fc.property(out, fc.integer({ min: -1, max: 200 }), (text, code) => {
        parseOsRelease(text);
        parseDf(text);
        aptUpdates(text, text);
        parseDnfCheckUpdate(text, code);
        parseUpdateinfoList(text);
        for (const f of [parseZypperListUpdates, parseZypperListPatches]) {
          try {
            f(text);
          } catch (err) {
            assert.ok(err instanceof ZypperXmlError, String(err));
          }
        }
        const facts = assembleFacts({ 'os-release': { exitCode: 0, stdout: text }, df: { exitCode: code, stdout: text }, 'apt-list': { exitCode: 0, stdout: text }, 'check-update': { exitCode: code, stdout: text }, 'zypper-updates': { exitCode: 0, stdout: text } });
        assert.ok(endpointFactsSchema.safeParse(facts).success, 'whatever came back, the facts still fit the event');
      }),
      { numRuns: 1500 },
    );
  });
});
