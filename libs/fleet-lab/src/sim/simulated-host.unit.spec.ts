import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SCENARIO, FAULT_PACKAGES, hostBehaviour, scenarioSchema, type Scenario } from '../scenario.js';
import { SimulatedHost, type CommandContext } from './simulated-host.js';

const root: CommandContext = { user: 'root', env: {}, nowMs: 1_000_000, random: () => 0.5 };
const nonRoot: CommandContext = { ...root, user: 'patchbay' };
const host = (scenario: Scenario = DEFAULT_SCENARIO, overrides: Record<string, unknown> = {}): SimulatedHost =>
  new SimulatedHost(3, scenario, { ...hostBehaviour(scenario, 3), ...overrides }, 'boot-1', 0);

describe('simulated fleet: Debian 12 host state machine (unit)', () => {
  it('answers os-release, boot id and uptime like bookworm', () => {
    const h = host();
    assert.match(h.run('cat /etc/os-release', root).stdout, /^PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"$/m);
    assert.match(h.run('cat /etc/os-release', root).stdout, /^VERSION_CODENAME=bookworm$/m);
    assert.equal(h.run('cat /proc/sys/kernel/random/boot_id', root).stdout, 'boot-1\n');
    assert.match(h.run('cat /proc/uptime', root).stdout, /^1000\.00 \d+\.\d\d\n$/);
  });

  it("lists upgrades in apt's real format with the security suite", () => {
    const r = host().run('apt list --upgradable', root);
    assert.equal(r.exitCode, 0);
    assert.equal(
      r.stdout,
      [
        'Listing...',
        'pb-libfoo/bookworm-security 1.1-1 all [upgradable from: 1.0-1]',
        'pb-openssl-demo/bookworm-security 1.0.1-1 all [upgradable from: 1.0.0-1]',
        'pb-tools/bookworm 2.4.0-1 all [upgradable from: 2.3.0-1]',
        'pb-webapp/bookworm 3.1-1 all [upgradable from: 3.0-1]',
        '',
      ].join('\n'),
    );
    assert.match(r.stderr, /WARNING: apt does not have a stable CLI interface/);
  });

  it('upgrades with apt-get like real apt and creates /run/reboot-required', () => {
    const h = host();
    assert.equal(h.run('test -e /run/reboot-required', root).exitCode, 1);
    const u = h.run('env DEBIAN_FRONTEND=noninteractive apt-get -q update', root);
    assert.equal(u.exitCode, 0);
    assert.match(u.stdout, /^Hit:1 file:\/srv\/repo\/security \.\/ InRelease$/m);
    const r = h.run('DEBIAN_FRONTEND=noninteractive apt-get -y upgrade', root);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^4 upgraded, 0 newly installed, 0 to remove and 0 not upgraded\.$/m);
    assert.match(r.stdout, /^Unpacking pb-tools \(2\.4\.0-1\) over \(2\.3\.0-1\) \.\.\.$/m);
    assert.match(r.stdout, /^Setting up pb-openssl-demo \(1\.0\.1-1\) \.\.\.$/m);
    // The dependency is configured before the package that needs it.
    assert.ok(r.stdout.indexOf('Setting up pb-libfoo') < r.stdout.indexOf('Setting up pb-webapp'));
    assert.equal(r.stderr, '');
    assert.equal(h.installed.get('pb-tools'), '2.4.0-1');
    assert.equal(h.run('test -e /run/reboot-required', root).exitCode, 0);
    assert.equal(h.run('cat /run/reboot-required', root).stdout, '*** System restart required ***\n');
    assert.equal(h.run('cat /var/run/reboot-required.pkgs', root).stdout, 'pb-openssl-demo\n');
    assert.match(h.run('apt-get -y upgrade', root).stdout, /^0 upgraded, 0 newly installed/m);
    assert.equal(h.run('apt list --upgradable', root).stdout, 'Listing...\n');
  });

  it('asks for confirmation without -y and aborts (exit 1) on a non-tty', () => {
    const h = host();
    const r = h.run('apt-get upgrade', root);
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /Do you want to continue\? \[Y\/n\] Abort\.\n$/);
    assert.equal(h.installed.get('pb-tools'), '2.3.0-1');
  });

  it("fails a postinst with dpkg's error text and exit 100, leaving the package half-configured", () => {
    const scenario = scenarioSchema.parse({ name: 'broken', packages: [FAULT_PACKAGES[0]] });
    const h = host(scenario);
    const r = h.run('apt-get -y install pb-broken-postinst', root);
    assert.equal(r.exitCode, 100);
    assert.match(
      r.stderr,
      /^dpkg: error processing package pb-broken-postinst \(--configure\):\n installed pb-broken-postinst package post-installation script subprocess returned error exit status 1$/m,
    );
    assert.match(r.stderr, /^E: Sub-process \/usr\/bin\/dpkg returned an error code \(1\)$/m);
    assert.match(r.stdout, /^Errors were encountered while processing:\n pb-broken-postinst$/m);
    assert.equal(h.run("dpkg-query -W -f='${db:Status-Abbrev}${Version}' pb-broken-postinst", root).stdout, 'iF 1.1-1');
  });

  it('refuses an upgrade that does not fit the disk quota', () => {
    const scenario = scenarioSchema.parse({ name: 'big', packages: [FAULT_PACKAGES[1]], defaults: { diskQuotaMb: 50 } });
    const h = host(scenario);
    const r = h.run('apt-get -y upgrade', root);
    assert.equal(r.exitCode, 100);
    assert.match(r.stderr, /E: You don't have enough free space in \/var\/cache\/apt\/archives\//);
    assert.equal(h.installed.get('pb-bigdata'), '1.0-1');
  });

  it('keeps back an upgrade whose new dependency is not installed, installs it on request', () => {
    const scenario = scenarioSchema.parse({
      name: 'dep',
      packages: [
        { name: 'pb-dep', available: '1.0-1' },
        { name: 'pb-app', installed: '1.0-1', available: '2.0-1', dependsOn: { name: 'pb-dep', version: '1.0-1' } },
      ],
    });
    const h = host(scenario);
    const up = h.run('apt-get -y upgrade', root);
    assert.match(up.stdout, /The following packages have been kept back:\n {2}pb-app\n/);
    assert.match(up.stdout, /^0 upgraded, 0 newly installed, 0 to remove and 1 not upgraded\.$/m);
    const inst = h.run('apt-get -y install pb-app', root);
    assert.equal(inst.exitCode, 0);
    assert.match(inst.stdout, /The following NEW packages will be installed:\n {2}pb-dep\n/);
    assert.equal(h.installed.get('pb-dep'), '1.0-1');
    assert.equal(h.installed.get('pb-app'), '2.0-1');
  });

  it('needs sudo for privileged commands as a non-root user, and sudo -n works', () => {
    const h = host();
    const denied = h.run('apt-get -y upgrade', nonRoot);
    assert.equal(denied.exitCode, 100);
    assert.match(denied.stderr, /are you root\?/);
    assert.equal(h.run('systemctl stop patchbay-demo-app', nonRoot).exitCode, 1);
    assert.equal(h.run('sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -y upgrade', nonRoot).exitCode, 0);
    assert.equal(h.run('sudo -n whoami', nonRoot).stdout, 'root\n');
    assert.equal(h.run('whoami', nonRoot).stdout, 'patchbay\n');
  });

  it('manages services with systemctl exit codes', () => {
    const h = host();
    assert.deepEqual(pick(h.run('systemctl is-active patchbay-demo-app', root)), ['active\n', 0]);
    assert.equal(h.run('systemctl stop patchbay-demo-app.service', root).exitCode, 0);
    assert.deepEqual(pick(h.run('systemctl is-active patchbay-demo-app', root)), ['inactive\n', 3]);
    assert.equal(h.run('ss -Hltn sport = :8080', root).stdout, '');
    assert.equal(h.run('curl -fsS http://127.0.0.1:8080/', root).exitCode, 7);
    assert.equal(h.run('systemctl start patchbay-demo-app', root).exitCode, 0);
    assert.match(h.run('ss -Hltn sport = :8080', root).stdout, /^LISTEN\s+0\s+511\s+0\.0\.0\.0:8080\s+0\.0\.0\.0:\*/);
    assert.equal(h.run('curl -fsS -o /dev/null http://127.0.0.1:8080/', root).exitCode, 0);
    const missing = h.run('systemctl start nope', root);
    assert.deepEqual(pick(missing), ['Failed to start nope.service: Unit nope.service not found.\n', 5]);
  });

  it('reboot answers 0 and asks the fleet to reboot; a boot clears /run and stops the app', () => {
    const h = host();
    h.run('apt-get -y upgrade', root);
    for (const cmd of ['reboot', 'systemctl reboot', 'shutdown -r now', '/sbin/shutdown -r 0 "patching"', 'sudo -n systemctl reboot']) {
      const r = h.run(cmd, root);
      assert.equal(r.exitCode, 0, cmd);
      assert.equal(r.reboot, true, cmd);
    }
    assert.equal(h.rebootRequestsByBootId.get('boot-1'), 5);
    assert.equal(h.run('reboot', nonRoot).reboot, false);
    h.boot('boot-2', 2_000_000);
    assert.equal(h.run('cat /proc/sys/kernel/random/boot_id', root).stdout, 'boot-2\n');
    assert.equal(h.run('test -e /run/reboot-required', root).exitCode, 1);
    assert.equal(h.run('systemctl is-active patchbay-demo-app', root).exitCode, 3);
    assert.equal(h.run('systemctl is-active ssh', root).exitCode, 0);
    assert.deepEqual(h.bootHistory, ['boot-1', 'boot-2']);
    assert.equal(h.installed.get('pb-openssl-demo'), '1.0.1-1', 'packages survive the reboot');
  });

  it('prints df -P and df --output in GNU df layout', () => {
    const h = host(DEFAULT_SCENARIO, { diskQuotaMb: 2048 });
    const lines = h.run('df -P /', root).stdout.split('\n');
    assert.match(lines[0]!, /^Filesystem {5}1024-blocks +Used +Available +Capacity Mounted on$/);
    const cols = lines[1]!.split(/\s+/);
    assert.equal(cols[0], '/dev/vda1');
    assert.equal(Number(cols[3]), 2048 * 1024);
    assert.equal(cols[5], '/');
    const o = h.run('df --output=source,fstype,avail,pcent,target -BM /var/cache/apt/archives', root).stdout.split('\n');
    assert.match(o[0]!, /^Filesystem {5}Type +Avail Use% Mounted on$/);
    assert.match(o[1]!, /^\/dev\/vda1 {6}ext4 +2048M +\d+% \/$/);
    assert.deepEqual(pick(h.run('df /nonexistent', root)), ['df: /nonexistent: No such file or directory\n', 1]);
  });

  it('answers dpkg-query formats and missing packages like dpkg', () => {
    const h = host();
    assert.equal(h.run("dpkg-query -W -f='${Package} ${Version}\\n' pb-tools bash", root).stdout, 'pb-tools 2.3.0-1\nbash 5.2.15-2+b8\n');
    assert.equal(h.run('dpkg-query -W pb-tools', root).stdout, 'pb-tools\t2.3.0-1\n');
    const r = h.run('dpkg-query -W nope', root);
    assert.deepEqual([r.stderr, r.exitCode], ['dpkg-query: no packages found matching nope\n', 1]);
  });

  it('unknown commands exit 127; unsupported shell syntax exits 2; lists honour && and ||', () => {
    const h = host();
    assert.deepEqual([h.run('frobnicate --now', root).stderr, h.run('frobnicate', root).exitCode], ['bash: frobnicate: command not found\n', 127]);
    assert.equal(h.run('ls | wc -l', root).exitCode, 2);
    assert.equal(h.run('false && echo no || echo yes', root).stdout, 'yes\n');
    assert.equal(h.run("sh -c 'test -e /run/reboot-required || echo none'", root).stdout, 'none\n');
  });

  it('injects transient failures at the configured rate, never in shell builtins', () => {
    let n = 0;
    const ctx: CommandContext = { ...root, random: () => (n++ % 2 === 0 ? 0.1 : 0.9) };
    const h = host(DEFAULT_SCENARIO, { commandFailureRate: 0.5 });
    const first = h.run('apt-get update', ctx);
    assert.equal(first.exitCode, 100);
    assert.match(first.stderr, /Could not get lock \/var\/lib\/apt\/lists\/lock/);
    assert.equal(h.run('apt-get update', ctx).exitCode, 0);
    assert.equal(h.run('echo ok', ctx).exitCode, 0);
    assert.equal(h.run('true', ctx).exitCode, 0);
  });
});

function pick(r: { stdout: string; stderr: string; exitCode: number }): [string, number] {
  return [r.stdout || r.stderr, r.exitCode];
}
