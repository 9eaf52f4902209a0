import { cp, mkdir, rm, writeFile, chmod, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runCommand } from './command.js';
import { LAYER_SETUP } from './host-files.js';

/**
 * Builds the lab's own layer: an overlay upper dir over the untouched base, filled by copying the
 * lab files in and running the setup chrooted. The mount lives in a private mount namespace that
 * ends with the command, so nothing stays mounted. Removals (the base's host keys) become overlay
 * whiteouts, which hide those files when the layer is used as a lower dir.
 */
export async function buildLayer(opts: {
  baseDir: string;
  layerDir: string;
  scratchDir: string;
  files: Array<{ path: string; content: string; mode: number }>;
  initialDebsDir: string;
}): Promise<void> {
  const staging = join(opts.scratchDir, 'files');
  const work = join(opts.scratchDir, 'work');
  const merged = join(opts.scratchDir, 'merged');
  await rm(opts.scratchDir, { recursive: true, force: true });
  await rm(opts.layerDir, { recursive: true, force: true });
  for (const d of [staging, work, merged, opts.layerDir]) await mkdir(d, { recursive: true });
  for (const f of opts.files) {
    const p = join(staging, f.path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, f.content);
    await chmod(p, f.mode);
  }
  const initial = join(staging, 'tmp/initial');
  await mkdir(initial, { recursive: true });
  for (const deb of await readdir(opts.initialDebsDir).catch(() => [] as string[])) {
    if (deb.endsWith('.deb')) await cp(join(opts.initialDebsDir, deb), join(initial, deb));
  }
  const script = [
    'set -e',
    'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"',
    'cp -a "$5/." "$4/"',
    // cp -a copied the staging directories' modes over these; put Debian's back.
    'chmod 1777 "$4/tmp"; chmod 700 "$4/root"',
    'mount --bind /dev "$4/dev"',
    'mount -t proc proc "$4/proc"',
    'chroot "$4" /bin/bash -c "$6"',
  ].join('\n');
  try {
    await runCommand(['unshare', '--mount', '--propagation', 'private', '/bin/bash', '-c', script, 'layer', opts.baseDir, opts.layerDir, work, merged, staging, LAYER_SETUP]);
  } finally {
    await rm(opts.scratchDir, { recursive: true, force: true });
  }
}

/** The script run as PID 1 of a new host namespace (still on the controller's root). */
export const ENTER_SCRIPT = `#!/bin/bash
# PID 1 of a new lab host's mount/PID/UTS/IPC namespaces, still on the controller's root: mount
# the host's tree, give it a fresh boot id and /run, then become its init inside the chroot.
set -eu
H=$1 LAYER=$2 BASE=$3 REPO=$4 NAME=$5
M=$H/merged
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$LAYER:$BASE,upperdir=$H/disk/upper,workdir=$H/disk/work" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount -t tmpfs -o mode=0755,size=64m,nosuid,nodev tmpfs "$M/run"
mount -t tmpfs -o mode=0755,size=1m,nosuid tmpfs "$M/dev"
mknod -m 666 "$M/dev/null" c 1 3
mknod -m 666 "$M/dev/zero" c 1 5
mknod -m 666 "$M/dev/full" c 1 7
mknod -m 666 "$M/dev/random" c 1 8
mknod -m 666 "$M/dev/urandom" c 1 9
mknod -m 666 "$M/dev/tty" c 5 0
ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"
ln -s /proc/self/fd/1 "$M/dev/stdout"
ln -s /proc/self/fd/2 "$M/dev/stderr"
mkdir "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/dev/shm"
cat /proc/sys/kernel/random/uuid > "$H/boot_id.new"
mv "$H/boot_id.new" "$H/boot_id"
mount --bind "$H/boot_id" "$M/proc/sys/kernel/random/boot_id"
mount --bind "$REPO" "$M/srv/repo"
mount -o remount,bind,ro "$M/srv/repo"
hostname "$NAME"
exec chroot "$M" /usr/local/sbin/patchbay-init
`;
