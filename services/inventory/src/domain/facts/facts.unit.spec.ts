import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpointFactsSchema } from '@patchbay/contracts';
import { aptUpdates, parseAptListUpgradable, parseAptSimulation } from './apt.js';
import { assembleFacts, packageCommands } from './gather.js';
import { parseDf, parseProcessNames, parseUptime } from './linux.js';
import { packageManagerFor, parseOsRelease } from './os-release.js';
import { parseDnfCheckUpdate, parseNevra, parseRpmInstalled, parseUpdateinfoList, rpmUpdates } from './rpm.js';
import { parseZypperListPatches, parseZypperListUpdates, ZypperXmlError } from './zypper.js';

// Compiled tests run from dist/; the fixtures stay in src/.
const FIXTURES = join(__dirname, '..', '..', '..', 'src', 'domain', 'facts', 'fixtures');
const fixture = (p: string) => readFileSync(join(FIXTURES, p), 'utf8');

describe('apt (captured on the lab: Debian 12 with the lab repository)', () => {
  it('apt list --upgradable: versions from/to and suites', () => {
    const r = parseAptListUpgradable(fixture('apt/list-upgradable.debian12-lab.txt'));
    assert.deepEqual(r.unparsed, []);
    assert.deepEqual(r.packages[0], { name: 'pb-libfoo', suites: ['bookworm-security'], to: '1.1-1', arch: 'all', from: '1.0-1' });
    assert.equal(r.packages.length, 4);
  });
  it('apt-get -s dist-upgrade: origins of each candidate', () => {
    const r = parseAptSimulation(fixture('apt/get-s-dist-upgrade.debian12-lab.txt'));
    assert.deepEqual(r.map((s) => [s.name, s.from, s.to, s.origins[0]!.origin]), [
      ['pb-libfoo', '1.0-1', '1.1-1', 'Debian-Security'],
      ['pb-openssl-demo', '1.0.0-1', '1.0.1-1', 'Debian-Security'],
      ['pb-tools', '2.3.0-1', '2.4.0-1', 'Debian'],
      ['pb-webapp', '3.0-1', '3.1-1', 'Debian'],
    ]);
  });
  it('classifies security updates by suite and origin', () => {
    const r = aptUpdates(fixture('apt/list-upgradable.debian12-lab.txt'), fixture('apt/get-s-dist-upgrade.debian12-lab.txt'));
    assert.deepEqual(r.updates.map((u) => [u.name, u.security]), [
      ['pb-libfoo', true],
      ['pb-openssl-demo', true],
      ['pb-tools', false],
      ['pb-webapp', false],
    ]);
    // Without the simulation the suite alone still classifies.
    assert.deepEqual(aptUpdates(fixture('apt/list-upgradable.debian12-lab.txt'), undefined).updates.filter((u) => u.security).length, 2);
  });
  it('garbage lines are reported, not thrown', () => {
    const r = parseAptListUpgradable('Listing...\nthis is not apt\n\u0000\u0001');
    assert.equal(r.packages.length, 0);
    assert.equal(r.unparsed.length, 2);
  });
});

describe('dnf / yum (public captured outputs, see fixtures/README.md)', () => {
  it('splits NEVRAs with and without epochs', () => {
    assert.deepEqual(parseNevra('dbus-1:1.10.24-14.el7_8.x86_64'), { name: 'dbus', evr: '1:1.10.24-14.el7_8', arch: 'x86_64' });
    assert.deepEqual(parseNevra('elfutils-default-yama-scope-0.176-2.el7.noarch'), { name: 'elfutils-default-yama-scope', evr: '0.176-2.el7', arch: 'noarch' });
    assert.equal(parseNevra('nonsense'), undefined);
  });
  it('dnf check-update: exit 100 lists updates, 0 means none, 1 is an error', () => {
    const r = parseDnfCheckUpdate(fixture('dnf/check-update.fedora25.txt'), 100);
    assert.equal(r.status, 'updates');
    assert.equal(r.packages.length, 10);
    assert.deepEqual(r.packages[0], { name: 'PackageKit', arch: 'x86_64', version: '1.1.4-2.fc25', repo: 'updates' });
    assert.deepEqual(parseDnfCheckUpdate(fixture('dnf/check-update.fedora25.txt'), 0), { status: 'none', packages: [] });
    assert.equal(parseDnfCheckUpdate('Error: Failed to download metadata', 1).status, 'error');
  });
  it('dnf check-update skips the Obsoleting Packages section (RHEL 8)', () => {
    const r = parseDnfCheckUpdate(fixture('dnf/check-update-obsoleting.rhel8.txt'), 100);
    assert.deepEqual(r.packages.map((p) => `${p.name} ${p.version} ${p.repo}`), [
      'grub2-tools-efi 1:2.02-87.el8_2 BaseOS',
      'grub2-tools-extra 1:2.02-87.el8_2 BaseOS',
      'grub2-tools-minimal 1:2.02-87.el8_2 BaseOS',
      'podman 1.6.4-10.module_el8.2.0+305+5e198a41 AppStream',
    ]);
  });
  it('yum updateinfo list (RHEL 7): advisory, severity, package', () => {
    const r = parseUpdateinfoList(fixture('yum/updateinfo-list-security.rhel7.txt'));
    assert.deepEqual(r.unparsed, []);
    assert.equal(r.advisories.length, 21);
    assert.deepEqual(r.advisories[8], { advisory: 'RHSA-2020:2894', type: 'security', severity: 'Important', nevra: { name: 'dbus', evr: '1:1.10.24-14.el7_8', arch: 'x86_64' } });
    const all = parseUpdateinfoList(fixture('yum/updateinfo-list-security-all.rhel7.txt'));
    assert.deepEqual(all.unparsed, [], 'plugin banner lines are skipped');
    assert.equal(all.advisories.length, 13);
  });
  it('yum list-sec (RHEL 5): typed lines, bugfix and enhancement are not security', () => {
    const r = parseUpdateinfoList(fixture('yum/list-sec.rhel5.txt'));
    assert.deepEqual(r.advisories.map((a) => [a.advisory, a.type, a.nevra.name]), [
      ['RHBA-2014:1368', 'bugfix', 'at'],
      ['RHSA-2014:1984', 'security', 'bind-libs'],
      ['RHSA-2015:1514', 'security', 'bind-libs'],
      ['RHEA-2016:2832', 'enhancement', 'tzdata'],
      ['RHBA-2015:1652', 'bugfix', 'udev'],
    ]);
  });
  it('dnf 4 list-sec and dnf 5 advisory tables', () => {
    const d4 = parseUpdateinfoList(fixture('dnf/updateinfo-list-sec.fedora27.txt'));
    assert.deepEqual(d4.advisories, [{ advisory: 'FEDORA-2017-ad1937a146', type: 'security', severity: 'Moderate', nevra: { name: 'TurboGears', evr: '1.0.2.2-2.fc17', arch: 'noarch' } }]);
    assert.deepEqual(d4.unparsed, []);
    const d5 = parseUpdateinfoList(fixture('dnf/advisory-list.dnf5.txt'));
    assert.deepEqual(d5.advisories.map((a) => [a.advisory, a.type, a.severity ?? null, a.nevra.name]), [
      ['FEDORA-2018-318f184000', 'bugfix', null, 'glibc'],
      ['FEDORA-2999:002-02', 'enhancement', 'Moderate', 'flac'],
    ]);
  });
  it('yum check-update (CentOS 7 with epochs; CentOS 6 with plugin and mirror chatter)', () => {
    const c7 = parseDnfCheckUpdate(fixture('yum/check-update.centos7.txt'), 100);
    assert.equal(c7.packages.length, 12);
    assert.deepEqual(c7.packages[2], { name: 'device-mapper', arch: 'x86_64', version: '7:1.02.107-5.el7_2.5', repo: 'updates' });
    const c6 = parseDnfCheckUpdate(fixture('yum/check-update.centos6.txt'), 100);
    assert.deepEqual(c6.packages.map((p) => p.name), ['Django14', 'GeoIP', 'Percona-Server-shared-56', 'abrt', 'abrt-addon-ccpp', 'abrt-addon-kerneloops', 'abrt-addon-python']);
  });
  it('dnf check-update: a long name wrapped onto its own line is joined with the indented line below', () => {
    const text = 'Last metadata expiration check: 0:01:02 ago.\n\nshort.x86_64    1.0-2.fc39    updates\nvery-long-package-name-that-wraps-in-the-column.noarch\n                1.2.3-4.fc39  updates\nnext.x86_64     2-1.fc39      updates\n';
    assert.deepEqual(parseDnfCheckUpdate(text, 100).packages.map((p) => `${p.name} ${p.version}`), ['short 1.0-2.fc39', 'very-long-package-name-that-wraps-in-the-column 1.2.3-4.fc39', 'next 2-1.fc39']);
  });
  it('rpm -qa gives the installed version of each name.arch (the "from" of an update)', () => {
    const r = parseRpmInstalled(fixture('rpm/qa.el10.txt'));
    assert.deepEqual(r.unparsed, []);
    assert.equal(r.installed.size, 38);
    assert.equal(r.installed.get('python3-gobject-base-noarch.noarch'), '3.46.0-5.el10');
    assert.equal(r.installed.get('crypto-policies-scripts.noarch'), '20240522-2.git77963ab.el10');
    const u = rpmUpdates([{ name: 'nss', arch: 'x86_64', version: '3.101.0-2.el10', repo: 'baseos' }], [], r.installed);
    assert.deepEqual(u[0], { name: 'nss', from: '3.101.0-1.el10', to: '3.101.0-2.el10', arch: 'x86_64', origin: 'baseos', security: false });
  });
  it('marks check-update packages as security with the highest severity of their advisories', () => {
    const adv = parseUpdateinfoList(fixture('yum/updateinfo-list-security.rhel7.txt')).advisories;
    const u = rpmUpdates(
      [
        { name: 'dbus', arch: 'x86_64', version: '1:1.10.24-15.el7', repo: 'updates' },
        { name: 'vim-minimal', arch: 'x86_64', version: '2:7.4.629-8.el7_9', repo: 'updates' },
      ],
      adv,
    );
    assert.deepEqual(u[0], { name: 'dbus', to: '1:1.10.24-15.el7', arch: 'x86_64', origin: 'updates', security: true, severity: 'Important', advisory: 'RHSA-2020:2894' });
    assert.equal(u[1]!.security, false);
  });
});

describe('zypper (public captured outputs, see fixtures/README.md)', () => {
  it('list-updates (SLES 12 SP1): packages with repository alias', () => {
    const u = parseZypperListUpdates(fixture('zypper/list-updates.sles12sp1.xml'));
    assert.deepEqual(u.map((x) => [x.name, x.to, x.origin]), [
      ['SUSEConnect', '0.2.33-7.1', 'SLE12-SP1-x86_64-Update'],
      ['bind-libs', '9.9.6P1-35.1', 'SLE12-SP1-x86_64-Update'],
      ['bind-utils', '9.9.6P1-35.1', 'SLE12-SP1-x86_64-Update'],
    ]);
  });
  it('list-updates (Leap 16): edition-old gives the installed version', () => {
    const u = parseZypperListUpdates(fixture('zypper/list-updates.leap16.xml'));
    assert.equal(u.length, 4);
    assert.deepEqual(u[3], { name: 'qemu-guest-agent', from: '10.0.4-160000.1.1', to: '10.0.7-160000.1.1', arch: 'aarch64', origin: 'https-download.opensuse.org-4bc031d9', security: false });
  });
  it('list-patches: security category and severity per patch', () => {
    const p = parseZypperListPatches(fixture('zypper/list-patches-security.leap16.xml'));
    assert.deepEqual(p.map((x) => [x.name, x.security, x.severity]), [
      ['openSUSE-Leap-16.0-112', true, 'important'],
      ['openSUSE-Leap-16.0-113', true, 'important'],
    ]);
  });
  it('truncated or non-XML output is refused with a typed error', () => {
    const xml = fixture('zypper/list-updates.leap16.xml');
    assert.throws(() => parseZypperListUpdates(xml.slice(0, 300)), ZypperXmlError);
    assert.throws(() => parseZypperListPatches('System management is locked by the application with pid 123'), ZypperXmlError);
  });
});

describe('os and linux facts', () => {
  it('os-release and the package manager it implies', () => {
    const os = parseOsRelease(fixture('linux/os-release.debian12.txt'));
    assert.deepEqual([os.id, os.versionId, os.prettyName], ['debian', '12', 'Debian GNU/Linux 12 (bookworm)']);
    assert.equal(packageManagerFor(os), 'apt');
    assert.equal(packageManagerFor({ id: 'rhel', versionId: '7.9', idLike: ['fedora'] }), 'yum');
    assert.equal(packageManagerFor({ id: 'rocky', versionId: '9.3', idLike: ['rhel', 'centos', 'fedora'] }), 'dnf');
    assert.equal(packageManagerFor({ id: 'opensuse-leap', versionId: '15.5', idLike: ['suse', 'opensuse'] }), 'zypper');
    assert.equal(packageManagerFor({ id: 'alpine', idLike: [] }), 'unknown');
  });
  it('df -PTk, /proc/uptime, process names', () => {
    const df = parseDf(fixture('linux/df-PTk.debian12-lab.txt'));
    assert.deepEqual(df.unparsed, []);
    assert.deepEqual(df.disks[0], { mount: '/', filesystem: 'overlay', sizeBytes: 1048576 * 1024, freeBytes: 1045072 * 1024 });
    assert.equal(parseUptime(fixture('linux/proc-uptime.txt')), 1503.06);
    assert.deepEqual(parseProcessNames(fixture('linux/ps-comm.debian12-lab.txt')), ['patchbay-init', 'python3', 'sleep', 'sshd']);
  });
});

describe('assembling facts from untrusted outcomes', () => {
  const ok = (stdout: string, exitCode = 0) => ({ exitCode, stdout });
  it('a full apt host', () => {
    const facts = assembleFacts({
      'os-release': ok(fixture('linux/os-release.debian12.txt')),
      'boot-id': ok('0f6b1c1e-5a44-4a6e-9d8f-3c2b1a0e9f77\n'),
      uptime: ok(fixture('linux/proc-uptime.txt')),
      df: ok(fixture('linux/df-PTk.debian12-lab.txt')),
      systemctl: ok('', 1),
      ps: ok(fixture('linux/ps-comm.debian12-lab.txt')),
      'apt-list': ok(fixture('apt/list-upgradable.debian12-lab.txt')),
      'apt-simulate': ok(fixture('apt/get-s-dist-upgrade.debian12-lab.txt')),
      'reboot-required': ok('', 0),
    });
    assert.ok(endpointFactsSchema.safeParse(facts).success, 'facts satisfy the event schema');
    assert.equal(facts.packageManager, 'apt');
    assert.equal(facts.updates.filter((u) => u.security).length, 2);
    assert.equal(facts.rebootRequired, true);
    assert.equal(facts.services.source, 'processes');
    assert.deepEqual(facts.problems, []);
  });
  it('oversized, failed and unparsable outputs become problems, never exceptions', () => {
    const facts = assembleFacts({
      'os-release': ok('ID=debian\n'),
      'boot-id': ok('not-a-uuid'),
      uptime: { error: 'REMOTE_TIMEOUT: cat ran too long' },
      df: ok('garbage line\n'),
      'apt-list': { exitCode: 0, stdout: 'x', truncated: true },
      'reboot-required': ok('', 1),
    });
    assert.equal(facts.updatesKnown, false);
    assert.equal(facts.rebootRequired, false);
    assert.deepEqual(facts.problems.map((p) => [p.source, p.code]).sort(), [
      ['apt-list', 'FACTS_OUTPUT_TOO_LARGE'],
      ['boot-id', 'FACTS_PARSE_ERROR'],
      ['df', 'FACTS_PARSE_ERROR'],
      ['uptime', 'FACTS_COMMAND_FAILED'],
    ]);
  });
  it('dnf exit code 100 is success with updates; zypper needs-rebooting 102 means reboot', () => {
    const dnf = assembleFacts({
      'os-release': ok('ID="rocky"\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n'),
      'check-update': ok(fixture('dnf/check-update.fedora25.txt'), 100),
      updateinfo: ok(''),
      'needs-restarting': ok('', 1),
    });
    assert.equal(dnf.packageManager, 'dnf');
    assert.equal(dnf.updates.length, 10);
    assert.equal(dnf.updatesKnown, true);
    assert.equal(dnf.rebootRequired, true);
    const sles = assembleFacts({
      'os-release': ok('ID="sles"\nVERSION_ID="12.1"\n'),
      'zypper-updates': ok(fixture('zypper/list-updates.sles12sp1.xml')),
      'rpm-installed': ok('bind-libs-9.9.6P1-28.1.x86_64\nSUSEConnect-0.2.25-3.1.x86_64\n'),
      'needs-rebooting': ok('', 0),
    });
    assert.deepEqual(sles.updates.map((u) => [u.name, u.from, u.to]), [
      ['SUSEConnect', '0.2.25-3.1', '0.2.33-7.1'],
      ['bind-libs', '9.9.6P1-28.1', '9.9.6P1-35.1'],
      ['bind-utils', undefined, '9.9.6P1-35.1'],
    ]);
    const zyp = assembleFacts({
      'os-release': ok('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n'),
      'zypper-updates': ok(fixture('zypper/list-updates.leap16.xml')),
      'zypper-patches': ok(fixture('zypper/list-patches-security.leap16.xml')),
      'needs-rebooting': ok('', 102),
    });
    assert.equal(zyp.updates.length, 6);
    assert.equal(zyp.updates.filter((u) => u.security).length, 2);
    assert.equal(zyp.rebootRequired, true);
    const broken = assembleFacts({ 'os-release': ok('ID=sles\n'), 'zypper-updates': ok('<stream><update-list>'), 'needs-rebooting': ok('', 0) });
    assert.equal(broken.updatesKnown, false);
    assert.equal(broken.problems[0]!.code, 'FACTS_PARSE_ERROR');
  });
  it('fact commands are argv arrays; refresh is privileged', () => {
    const apt = packageCommands('apt', true);
    assert.deepEqual(apt[0], { key: 'refresh', argv: ['apt-get', 'update', '-q'], privileged: true });
    for (const pm of ['apt', 'dnf', 'yum', 'zypper'] as const) for (const c of packageCommands(pm, true)) assert.ok(c.argv.every((a) => typeof a === 'string' && a.length > 0));
  });
});
