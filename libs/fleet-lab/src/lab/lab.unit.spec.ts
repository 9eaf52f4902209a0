import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { packageSpecSchema } from '../scenario.js';
import { mirrorFromDeb822, mirrorFromSourcesList } from './apt-sources.js';
import { sshFingerprint } from './fingerprint.js';
import { Lab } from './lab.js';
import { hostAddress, networkNames, parseSubnet, bridgeName, netemDelayMs, nftLossScript, validateLossPercent } from './network.js';
import { controlFile, postinstScript } from './repository.js';

const code = (c: string) => (e: unknown) => e instanceof PatchbayError && e.code === c;

describe('apt sources', () => {
  it('takes the first plain Debian URI of a deb822 file, skipping security and disabled stanzas', () => {
    const text = [
      'Types: deb',
      'URIs: http://security.example.invalid/debian-security',
      'Suites: bookworm-security',
      '',
      'Types: deb',
      'Enabled: no',
      'URIs: http://disabled.example.invalid/debian',
      'Suites: bookworm',
      '',
      'Types: deb-src deb',
      '# a comment',
      'URIs: http://mirror.example.invalid/debian http://second.example.invalid/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
    ].join('\n');
    assert.equal(mirrorFromDeb822(text), 'http://mirror.example.invalid/debian');
    assert.equal(mirrorFromDeb822('Types: deb-src\nURIs: http://x.invalid/debian\nSuites: bookworm\n'), undefined);
  });

  it('reads one-line sources.list entries, with options, ignoring comments and security', () => {
    const text = '# deb http://old.invalid/debian bookworm main\ndeb http://sec.invalid/debian-security bookworm-security main\ndeb [arch=amd64] http://m.invalid/debian bookworm main\n';
    assert.equal(mirrorFromSourcesList(text), 'http://m.invalid/debian');
    assert.equal(mirrorFromSourcesList(''), undefined);
  });
});

describe('host key fingerprints', () => {
  it('matches ssh-keygen -l', () => {
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILNkDjfo16jbDtKxgBL8ZEKgXmMIX9xiXRyzJmt4z9XY fixture';
    assert.equal(sshFingerprint(line), 'SHA256:Hr2ABn3tB0LIuzmL4UHjOon9NjK57WbpdiCxdC5Su4U');
  });
  it('rejects text that is not a public key line', () => {
    assert.throws(() => sshFingerprint('not a key'), TypeError);
  });
});

describe('lab packages', () => {
  const spec = packageSpecSchema.parse({ name: 'pb-x', installed: '1.0-1', available: '1.1-1', classification: 'security', rebootRequired: true, postinstFails: true });
  it('writes a control file with the dependency and installed size', () => {
    const c = controlFile(spec, '1.1-1', { installedKb: 65540, depends: 'pb-y (>= 2.0-1)' });
    assert.match(c, /^Package: pb-x$/m);
    assert.match(c, /^Version: 1\.1-1$/m);
    assert.match(c, /^Installed-Size: 65540$/m);
    assert.match(c, /^Depends: pb-y \(>= 2\.0-1\)$/m);
  });
  it('writes a postinst that requests a reboot and fails when asked', () => {
    const p = postinstScript(spec);
    assert.match(p, /touch \/run\/reboot-required/);
    assert.match(p, /echo pb-x >> \/run\/reboot-required\.pkgs/);
    assert.match(p, /exit 1/);
    const plain = postinstScript(packageSpecSchema.parse({ name: 'pb-z', available: '1' }));
    assert.doesNotMatch(plain, /reboot-required|exit 1|sleep/);
    assert.match(postinstScript(packageSpecSchema.parse({ name: 'pb-s', available: '1', postinstSeconds: 3 })), /^ {2}sleep 3$/m);
    assert.throws(() => packageSpecSchema.parse({ name: 'pb-s', available: '1', postinstSeconds: 'rm -rf /' }));
  });
});

describe('lab network', () => {
  it('accepts only private /24 subnets', () => {
    assert.equal(parseSubnet('10.213.4.0/24'), '10.213.4');
    assert.equal(parseSubnet('192.168.77.0/24'), '192.168.77');
    assert.equal(parseSubnet('172.20.1.0/24'), '172.20.1');
    for (const bad of ['8.8.8.0/24', '10.213.4.0/16', '10.213.4.1/24', '10.300.1.0/24', 'lab']) {
      assert.throws(() => parseSubnet(bad), code('LAB_CONFIG_INVALID'), bad);
    }
  });
  it('gives hosts addresses from .10 and interface names within 15 characters', () => {
    assert.equal(hostAddress('10.213.4', 0), '10.213.4.10');
    assert.throws(() => hostAddress('10.213.4', 240), code('LAB_CONFIG_INVALID'));
    const n = networkNames('abc123', 239);
    assert.ok(n.veth.length <= 15 && bridgeName('abc123').length <= 15);
  });
});

describe('Lab.up input', () => {
  it('rejects a bad host count with a stable code before touching the machine', async () => {
    for (const hosts of [0, -1, 1.5, 241]) await assert.rejects(Lab.up({ hosts }), code('LAB_CONFIG_INVALID'));
  });
  it('rejects an invalid scenario', async () => {
    await assert.rejects(Lab.up({ hosts: 1, scenario: { name: 'x' } as never }), code('LAB_CONFIG_INVALID'));
  });
});

describe('packet loss rules', () => {
  it('drop the given share of packets on eth0 both ways, replacing any earlier table in one script', () => {
    const script = nftLossScript(30);
    assert.match(script, /^table inet patchbay_fault\ndelete table inet patchbay_fault\ntable inet patchbay_fault \{/);
    assert.match(script, /hook input .*iifname "eth0" numgen random mod 100 < 30 drop/);
    assert.match(script, /hook output .*oifname "eth0" numgen random mod 100 < 30 drop/);
    // nft refuses `mod 100 < 100`, so total loss drops without a draw.
    assert.match(nftLossScript(100), /iifname "eth0" drop;[^\n]*\n.*oifname "eth0" drop;/);
  });

  it('refuse a percentage that is not a whole number from 1 to 100', () => {
    for (const bad of [0, -5, 101, 12.5, Number.NaN]) assert.throws(() => validateLossPercent(bad), code('LAB_CONFIG_INVALID'), String(bad));
    assert.throws(() => nftLossScript(0), code('LAB_CONFIG_INVALID'));
    assert.equal(validateLossPercent(100), 100);
  });

  it('read the delay a netem qdisc already has, so adding loss keeps it', () => {
    assert.equal(netemDelayMs('qdisc netem 8001: root refcnt 2 limit 1000 delay 200ms loss 5%\n'), 200);
    assert.equal(netemDelayMs('qdisc netem 8001: root refcnt 2 limit 1000 delay 1.5s\n'), 1500);
    assert.equal(netemDelayMs('qdisc netem 8001: root refcnt 2 limit 1000 loss 5%\n'), 0);
    assert.equal(netemDelayMs('qdisc noqueue 0: root refcnt 2\n'), 0);
  });
});
