import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareDebianVersions } from './debian-version.js';

describe('simulated fleet: Debian version ordering (unit)', () => {
  // Each pair is strictly ascending, as `dpkg --compare-versions a lt b` says.
  const ascending: [string, string][] = [
    ['1.0-1', '1.0-2'],
    ['1.0-1', '1.1-1'],
    ['1.0.0-1', '1.0.1-1'],
    ['1.9-1', '1.10-1'],
    ['1.0~rc1-1', '1.0-1'],
    ['1.0-1', '1:0.1-1'],
    ['2.36-9+deb12u9', '2.36-9+deb12u14'],
    ['252.33-1~deb12u1', '252.33-1'],
    ['1.0', '1.0a'],
    ['1.0a', '1.0+'],
  ];
  for (const [a, b] of ascending) {
    it(`${a} < ${b}`, () => {
      assert.ok(compareDebianVersions(a, b) < 0);
      assert.ok(compareDebianVersions(b, a) > 0);
    });
  }
  it('equal versions compare equal', () => {
    assert.equal(compareDebianVersions('1:9.2p1-2+deb12u3', '1:9.2p1-2+deb12u3'), 0);
    assert.equal(compareDebianVersions('0:1.0-1', '1.0-1'), 0);
  });
});
