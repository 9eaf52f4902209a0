/**
 * Files the lab installs in its own layer on top of the Debian base: an init for PID 1, stand-ins
 * for the commands minbase lacks (reboot, shutdown, systemctl), a tiny service runner, the demo
 * application and the sshd/apt configuration. Each value is the file content keyed by its path.
 */

/** Path of the marker a host writes to ask the lab to keep it powered off. */
export const POWEROFF_MARKER = 'var/lib/patchbay/poweroff';

const PATH_LINE = 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const INIT = `#!/bin/bash
# PID 1 of a lab host: prepares /run, host keys, starts sshd and the autostart services, then
# waits. SIGTERM (sent by the reboot stand-ins) ends the host; the lab boots it again.
${PATH_LINE}
trap 'kill -TERM -1 2>/dev/null; exit 0' TERM INT
mkdir -p /run/sshd /run/patchbay /run/lock
chmod 1777 /run/lock
ln -sf /proc/self/mounts /etc/mtab 2>/dev/null
grep -qs " $(hostname)\\$" /etc/hosts || echo "127.0.1.1 $(hostname)" >> /etc/hosts
# Each host makes its own keys on first boot (the layer removed the base's shared ones).
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A >/dev/null 2>&1
patchbay-service start ssh
for unit in /etc/patchbay/autostart/*; do
  [ -e "$unit" ] && patchbay-service start "\${unit##*/}"
done
date +%s > /run/patchbay/booted
while :; do
  sleep 3600 &
  wait $!
done
`;

const SERVICE = `#!/bin/bash
# Minimal service runner: start|stop|restart|is-active|status <unit>. Units are shell fragments in
# /etc/patchbay/services/<unit> that set CMD; pids live in /run, so a reboot stops everything.
${PATH_LINE}
action=\${1:-}
unit=\${2:-}
unit=\${unit%.service}
conf=/etc/patchbay/services/$unit
if [ -z "$unit" ] || [ ! -f "$conf" ]; then
  echo "Unit \${unit:-?}.service could not be found." >&2
  exit 5
fi
CMD=
. "$conf"
pidfile=/run/patchbay/$unit.pid
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  mkdir -p /run/patchbay
  rm -f "$pidfile"
  setsid -f /bin/bash -c 'echo $$ > "$1"; shift; exec "$@"' patchbay-service "$pidfile" /bin/bash -c "exec $CMD" </dev/null >>"/var/log/$unit.log" 2>&1
  for _ in $(seq 1 100); do [ -s "$pidfile" ] && break; sleep 0.02; done
  running
}
stop() {
  running || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
  return 0
}
case "$action" in
  start) start ;;
  stop) stop ;;
  restart|reload|try-restart|reload-or-restart) stop; start ;;
  is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
  status)
    if running; then echo "* $unit.service - running (pid $(cat "$pidfile"))"; echo "   Active: active (running)"
    else echo "* $unit.service"; echo "   Active: inactive (dead)"; exit 3; fi ;;
  *) echo "usage: patchbay-service start|stop|restart|is-active|status <unit>" >&2; exit 2 ;;
esac
`;

const REBOOT = `#!/bin/bash
# Stand-in for reboot/shutdown -r/systemctl reboot: returns at once, then PID 1 ends a moment
# later so the caller's command completes. HUP is ignored and the killer fully detached, or the
# pty hangup of an 'ssh -tt' session kills it before it runs.
${PATH_LINE}
trap '' HUP
mode=reboot
case "\${0##*/}" in
  halt|poweroff) mode=poweroff ;;
esac
for arg in "$@"; do
  case "$arg" in
    -h|-P|--poweroff|--halt|-H) mode=poweroff ;;
    -r|--reboot) mode=reboot ;;
    -c) echo "shutdown cancelled"; exit 0 ;;
  esac
done
if [ "$mode" = poweroff ]; then
  mkdir -p /var/lib/patchbay && touch /${POWEROFF_MARKER}
fi
echo "The system will $mode now."
setsid -f /bin/bash -c 'trap "" HUP; sleep 1; kill -TERM 1' </dev/null >/dev/null 2>&1
exit 0
`;

const SYSTEMCTL = `#!/bin/bash
# Stand-in for systemctl on a host without systemd: enough for services, reboot and status checks.
${PATH_LINE}
args=()
for a in "$@"; do case "$a" in -*) ;; *) args+=("$a") ;; esac; done
cmd=\${args[0]:-}
case "$cmd" in
  reboot) exec /usr/sbin/reboot ;;
  poweroff|halt) exec /usr/sbin/poweroff ;;
  start|stop|restart|reload|try-restart|reload-or-restart|is-active|status)
    rc=0
    for unit in "\${args[@]:1}"; do patchbay-service "$cmd" "$unit" || rc=$?; done
    exit $rc ;;
  daemon-reload|enable|disable|mask|unmask) exit 0 ;;
  is-system-running) echo running ;;
  *) echo "systemctl stand-in: unsupported command '$cmd'" >&2; exit 1 ;;
esac
`;

const APP = `#!/usr/bin/python3
# The host's application: answers 200 on /health with the host name and boot id.
import http.server, json, socket, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split('?')[0] not in ('/health', '/healthz', '/'):
            self.send_error(404)
            return
        with open('/proc/sys/kernel/random/boot_id') as f:
            boot_id = f.read().strip()
        body = json.dumps({'status': 'ok', 'host': socket.gethostname(), 'bootId': boot_id}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(('0.0.0.0', int(sys.argv[1])), Handler).serve_forever()
`;

const SSHD_CONF = `# Lab hosts: key authentication only, root allowed with keys, many parallel clients.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
MaxStartups 200:30:400
MaxSessions 100
`;

/** Every file of the lab layer, with its mode. */
export function layerFiles(app: { service: string; port: number }, clientPublicKey: string): Array<{ path: string; content: string; mode: number }> {
  const exec = 0o755;
  return [
    { path: 'usr/local/sbin/patchbay-init', content: INIT, mode: exec },
    { path: 'usr/local/sbin/patchbay-service', content: SERVICE, mode: exec },
    { path: 'usr/sbin/reboot', content: REBOOT, mode: exec },
    { path: 'usr/sbin/shutdown', content: REBOOT, mode: exec },
    { path: 'usr/sbin/halt', content: REBOOT, mode: exec },
    { path: 'usr/sbin/poweroff', content: REBOOT, mode: exec },
    { path: 'usr/bin/systemctl', content: SYSTEMCTL, mode: exec },
    { path: 'usr/local/lib/patchbay/app.py', content: APP, mode: exec },
    { path: 'etc/patchbay/services/ssh', content: 'CMD="/usr/sbin/sshd -D -e"\n', mode: 0o644 },
    { path: 'etc/patchbay/services/sshd', content: 'CMD="/usr/sbin/sshd -D -e"\n', mode: 0o644 },
    { path: `etc/patchbay/services/${app.service}`, content: `CMD="/usr/bin/python3 /usr/local/lib/patchbay/app.py ${app.port}"\n`, mode: 0o644 },
    { path: `etc/patchbay/autostart/${app.service}`, content: '', mode: 0o644 },
    { path: 'etc/ssh/sshd_config.d/patchbay-lab.conf', content: SSHD_CONF, mode: 0o644 },
    { path: 'etc/apt/sources.list', content: '# Lab hosts use only the lab repository (sources.list.d/patchbay-lab.list).\n', mode: 0o644 },
    {
      path: 'etc/apt/sources.list.d/patchbay-lab.list',
      content: 'deb [trusted=yes] file:/srv/repo/security ./\ndeb [trusted=yes] file:/srv/repo/regular ./\n',
      mode: 0o644,
    },
    { path: 'etc/hosts', content: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n', mode: 0o644 },
    { path: 'etc/sudoers.d/patchbay', content: 'patchbay ALL=(ALL) NOPASSWD:ALL\n', mode: 0o440 },
    { path: 'root/.ssh/authorized_keys', content: clientPublicKey, mode: 0o600 },
    { path: 'home/patchbay/.ssh/authorized_keys', content: clientPublicKey, mode: 0o600 },
  ];
}

/** Shell run inside the layer (chrooted) after the files are copied: user, keys, initial packages. */
export const LAYER_SETUP = `set -e
${PATH_LINE}
rm -f /etc/ssh/ssh_host_*
id patchbay >/dev/null 2>&1 || useradd -M -d /home/patchbay -s /bin/bash -G sudo patchbay
# '*' rather than the locked '!': sshd without PAM refuses locked accounts even for key logins.
usermod -p '*' patchbay
chown -R patchbay:patchbay /home/patchbay
chmod 700 /root/.ssh /home/patchbay/.ssh
mkdir -p /srv/repo /var/lib/patchbay
if ls /tmp/initial/*.deb >/dev/null 2>&1; then dpkg -i /tmp/initial/*.deb >/dev/null; fi
rm -rf /tmp/initial
rm -f /etc/apt/sources.list.d/debian.sources
apt-get clean
`;
