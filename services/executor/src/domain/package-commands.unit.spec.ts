import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cleanupCommands,
  downgradeCommand,
  installCommand,
  interpretPackageResult,
  isSecuritySuite,
  listInstalledCommand,
  managerFromOsRelease,
  packageChanges,
  parseAptUpgradable,
  parseDfFreeMb,
  parseInstalledPackages,
  pinnedName,
  refreshCommand,
  repairCommands,
  type PackageManager,
} from './package-commands.js';

// Output captured from a Debian 12 host (`df -Pk /`, `dpkg-query -W -f ...`) and from apt-get runs on lab hosts.
const DF_OUTPUT = 'Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 14518724  80982540      16% /\n';
const DF_WRAPPED = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/mapper/very--long--volume--group-root\n 20511312 9132548 10313804 47% /\n';
const DPKG_QUERY = 'adduser\t3.134\tii \nadwaita-icon-theme\t43-1\tii \npb-broken-postinst\t1.1-1\tiF \nrc-only\t\trc \nlibc6\t2.36-9+deb12u4\tii \n';
const RPM_QUERY = 'bash\t0:5.1.8-9.el9\tii\nopenssl\t1:3.0.7-27.el9\tii\ngpg-pubkey\t0:fd431d51-4ae0493b\tii\n';
const APT_INSTALL_OK = `Reading package lists...
Building dependency tree...
Reading state information...
The following packages will be upgraded:
  pb-libfoo pb-openssl-demo
2 upgraded, 0 newly installed, 0 to remove and 2 not upgraded.
Need to get 1,720 B of archives.
Setting up pb-openssl-demo (1.0.1-1) ...
`;
const APT_LOCKED = `E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)
N: Be aware that removing the lock file is not a solution and may break your system.
E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?
`;
const APT_INTERRUPTED = "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. \n";

describe('package-manager command builders', () => {
  const released = [
    { name: 'pb-openssl-demo', to: '1.0.1-1' },
    { name: 'pb-libfoo', to: '1.1-1' },
  ];

  it('apt installs exactly the released packages at their versions, non-interactively, never prompting about config files', () => {
    const c = installCommand('apt', { kind: 'packages', packages: released })!;
    assert.equal(c.argv[0], 'apt-get');
    assert.deepEqual(c.argv.slice(-3), ['install', 'pb-openssl-demo=1.0.1-1', 'pb-libfoo=1.1-1']);
    assert.ok(c.argv.includes('-y'));
    assert.ok(c.argv.includes('Dpkg::Options::=--force-confold'));
    assert.ok(c.argv.includes('Dpkg::Options::=--force-confdef'));
    assert.ok(c.argv.some((a) => a.startsWith('DPkg::Lock::Timeout=')));
    assert.equal(c.env?.['DEBIAN_FRONTEND'], 'noninteractive');
  });

  const table: Array<[PackageManager, 'all' | 'security', string[] | undefined]> = [
    ['apt', 'all', ['apt-get', 'upgrade']],
    ['apt', 'security', undefined],
    ['dnf', 'all', ['dnf', '-y', 'upgrade']],
    ['dnf', 'security', ['dnf', '-y', 'upgrade', '--security']],
    ['yum', 'all', ['yum', '-y', 'upgrade']],
    ['yum', 'security', ['yum', '-y', 'upgrade', '--security']],
    ['zypper', 'all', ['zypper', '--non-interactive', 'update']],
    ['zypper', 'security', ['zypper', '--non-interactive', 'patch', '--category', 'security']],
  ];
  for (const [pm, scope, expected] of table) {
    it(`${pm} scope ${scope}`, () => {
      const c = installCommand(pm, { kind: scope });
      if (!expected) return assert.equal(c, undefined);
      assert.ok(c);
      for (const word of expected) assert.ok(c.argv.includes(word), `${word} in ${c.argv.join(' ')}`);
      assert.equal(c.argv[0], expected[0]);
    });
  }

  it('pins versions the way each manager spells them', () => {
    assert.equal(pinnedName('apt', 'openssl', '3.0.11-1~deb12u2'), 'openssl=3.0.11-1~deb12u2');
    assert.equal(pinnedName('zypper', 'openssl', '3.1.4-150600.5.7.1'), 'openssl=3.1.4-150600.5.7.1');
    assert.equal(pinnedName('dnf', 'openssl', '1:3.0.7-27.el9'), 'openssl-1:3.0.7-27.el9');
    assert.equal(pinnedName('yum', 'bash', '0:4.2.46-35.el7_9'), 'bash-4.2.46-35.el7_9');
    assert.deepEqual(installCommand('dnf', { kind: 'packages', packages: [{ name: 'openssl', to: '1:3.0.7-27.el9' }] })!.argv, ['dnf', '-y', 'install', 'openssl-1:3.0.7-27.el9']);
  });

  it('an empty release or list is nothing to do, not an unbounded upgrade', () => {
    for (const pm of ['apt', 'dnf', 'yum', 'zypper'] as const) {
      assert.equal(installCommand(pm, { kind: 'packages', packages: [] }), undefined);
      assert.equal(installCommand(pm, { kind: 'names', names: [] }), undefined);
    }
  });

  it('downgrades to recorded versions (apt allows downgrades explicitly; zypper --oldpackage; dnf downgrade)', () => {
    const old = [{ name: 'pb-tools', version: '2.3.0-1' }];
    const apt = downgradeCommand('apt', old)!;
    assert.ok(apt.argv.includes('--allow-downgrades'));
    assert.equal(apt.argv.at(-1), 'pb-tools=2.3.0-1');
    assert.deepEqual(downgradeCommand('dnf', old)!.argv, ['dnf', '-y', 'downgrade', 'pb-tools-2.3.0-1']);
    assert.ok(downgradeCommand('zypper', old)!.argv.includes('--oldpackage'));
    assert.equal(downgradeCommand('apt', []), undefined);
  });

  it('refresh, list, repair and cleanup commands per manager', () => {
    assert.equal(refreshCommand('apt').argv[1], 'update');
    assert.deepEqual(refreshCommand('dnf').argv, ['dnf', '-q', '-y', 'makecache']);
    assert.equal(refreshCommand('zypper').argv.at(-1), 'refresh');
    assert.equal(listInstalledCommand('apt').argv[0], 'dpkg-query');
    assert.equal(listInstalledCommand('yum').argv[0], 'rpm');
    assert.deepEqual(repairCommands('apt').repair?.argv.slice(-2), ['--configure', '-a']);
    assert.deepEqual(repairCommands('apt').audit?.argv, ['dpkg', '--audit']);
    assert.equal(repairCommands('dnf').repair, undefined);
    assert.deepEqual(cleanupCommands('apt', { autoremove: true, cleanCache: true }).map((c) => c.argv.at(-1)), ['autoremove', 'clean']);
    assert.deepEqual(cleanupCommands('dnf', { autoremove: false, cleanCache: true }).map((c) => c.argv), [['dnf', 'clean', 'all']]);
    assert.deepEqual(cleanupCommands('zypper', { autoremove: true, cleanCache: false }), []);
  });

  it('argv never contains a shell string: every element is one word given to the program', () => {
    const c = installCommand('apt', { kind: 'names', names: ['a;rm -rf /'] })!;
    assert.equal(c.argv.at(-1), 'a;rm -rf /');
  });
});

describe('output parsers', () => {
  it('dpkg-query: versions, skips config-only packages, reports half-configured ones', () => {
    const r = parseInstalledPackages(DPKG_QUERY);
    assert.deepEqual(r.packages, { adduser: '3.134', 'adwaita-icon-theme': '43-1', 'pb-broken-postinst': '1.1-1', libc6: '2.36-9+deb12u4' });
    assert.deepEqual(r.unclean, ['pb-broken-postinst']);
  });

  it('rpm -qa: drops a zero epoch and the gpg-pubkey pseudo packages', () => {
    assert.deepEqual(parseInstalledPackages(RPM_QUERY).packages, { bash: '5.1.8-9.el9', openssl: '1:3.0.7-27.el9' });
  });

  it('package changes between two records', () => {
    assert.deepEqual(packageChanges({ a: '1', b: '1', gone: '1' }, { a: '2', b: '1', fresh: '1' }), [
      { name: 'a', from: '1', to: '2' },
      { name: 'fresh', to: '1' },
      { name: 'gone', from: '1' },
    ]);
  });

  it('df -P -k, also when a long device name wraps the line', () => {
    assert.equal(parseDfFreeMb(DF_OUTPUT), Math.floor(80982540 / 1024));
    assert.equal(parseDfFreeMb(DF_WRAPPED), Math.floor(10313804 / 1024));
    assert.equal(parseDfFreeMb('garbage'), undefined);
  });

  it('apt results: success with counts, a held lock, an interrupted dpkg', () => {
    const ok = interpretPackageResult('apt', 0, APT_INSTALL_OK, '');
    assert.deepEqual(ok, { ok: true, lockBusy: false, interrupted: false, rebootNeeded: false, counts: { upgraded: 2, installed: 0, removed: 0, notUpgraded: 2 } });
    const locked = interpretPackageResult('apt', 100, '', APT_LOCKED);
    assert.equal(locked.ok, false);
    assert.equal(locked.lockBusy, true);
    const interrupted = interpretPackageResult('apt', 100, '', APT_INTERRUPTED);
    assert.equal(interrupted.interrupted, true);
    // dpkg itself (the repair after a crash) does not wait for the lock an interrupted apt still holds.
    const dpkgLocked = 'dpkg: error: dpkg frontend lock was locked by another process with pid 87\nNote: removing the lock file is always wrong, can damage the locked area\nand the entire system. See <https://wiki.debian.org/Teams/Dpkg/FAQ#db-lock>.\n';
    assert.equal(interpretPackageResult('apt', 2, '', dpkgLocked).lockBusy, true);
    assert.equal(interpretPackageResult('apt', 2, '', 'dpkg: error: dpkg frontend lock is locked by another process\n').lockBusy, true);
    assert.equal(interpretPackageResult('apt', 1, '', 'dpkg: error processing package pb-x (--configure):\n').lockBusy, false);
  });

  it('zypper exit codes: 102 is success with a reboot needed, 104 a failure', () => {
    assert.deepEqual(interpretPackageResult('zypper', 102, '', ''), { ok: true, lockBusy: false, interrupted: false, rebootNeeded: true });
    assert.equal(interpretPackageResult('zypper', 104, '', "No provider of 'nope' found.").ok, false);
    assert.equal(interpretPackageResult('zypper', 7, '', 'System management is locked by the application with pid 1234 (zypper).').lockBusy, true);
    assert.equal(interpretPackageResult('dnf', 1, '', 'Error: Unable to find a match: nope').ok, false);
  });

  it('apt list --upgradable: names, suites, versions; security suites recognised', () => {
    const out = `
WARNING: apt does not have a stable CLI interface. Use with caution in scripts.

Listing...
pb-libfoo/bookworm-security 1.1-1 all [upgradable from: 1.0-1]
pb-openssl-demo/bookworm-security 1.0.1-1 all [upgradable from: 1.0.0-1]
pb-tools/bookworm 2.4.0-1 all [upgradable from: 2.3.0-1]
libssl3/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
`;
    const list = parseAptUpgradable(out);
    assert.deepEqual(list.map((p) => p.name), ['pb-libfoo', 'pb-openssl-demo', 'pb-tools', 'libssl3']);
    assert.deepEqual(list[3], { name: 'libssl3', suites: ['stable-security', 'stable'], version: '3.0.15-1~deb12u1', from: '3.0.14-1~deb12u2' });
    assert.deepEqual(list.filter((p) => p.suites.some(isSecuritySuite)).map((p) => p.name), ['pb-libfoo', 'pb-openssl-demo', 'libssl3']);
    assert.equal(isSecuritySuite('bookworm-updates'), false);
  });

  it('/etc/os-release picks the manager', () => {
    const cases: Array<[string, PackageManager | undefined]> = [
      ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', 'apt'],
      ['ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', 'apt'],
      ['ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\n', 'dnf'],
      ['ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n', 'yum'],
      ['ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\n', 'dnf'],
      ['ID="amzn"\nVERSION_ID="2"\n', 'yum'],
      ['ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n', 'zypper'],
      ['ID="sles"\nVERSION_ID="15.5"\n', 'zypper'],
      ['ID=alpine\n', undefined],
    ];
    for (const [text, pm] of cases) assert.equal(managerFromOsRelease(text), pm, text);
  });
});
