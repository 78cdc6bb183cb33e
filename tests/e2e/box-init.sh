#!/bin/sh
# The e2e box's second stage (see docs/e2e.md). tests/e2e/box.ts runs it as
#   unshare --cgroup --uts --ipc --pid --mount --fork --mount-proc=$BOX_ROOT/proc box-init.sh
# so it starts as PID 1 of a new PID namespace, in a private mount namespace, with the box's cgroup as
# the root of its cgroup namespace. It mounts what systemd needs and execs it, chrooted in $BOX_ROOT.
#
# Environment (all required but BOX_BINDS):
#   BOX_ROOT     the root file system (the run's overlay)
#   BOX_NODE     the host's node binary, bound read-only at /usr/bin/node
#   BOX_BOOT_ID  a file with this boot's id, bound over /proc/sys/kernel/random/boot_id: the kernel is
#                shared with the host, so without it every boot of the box would have the same boot id
#   BOX_BINDS    more binds, one per line: "ro|rw<TAB>host path<TAB>box path" (not recursive)
set -eu
R="$BOX_ROOT"
fail() { echo "box-init: $*" >&2; exit 70; }
[ "$$" = 1 ] || fail "not PID 1 of a new PID namespace"

bind() { # bind MODE SRC DST
  if [ -d "$2" ]; then mkdir -p "$R$3"; else [ -e "$R$3" ] || { mkdir -p "$(dirname "$R$3")"; : > "$R$3"; }; fi
  mount --bind "$2" "$R$3" # not --rbind: the checkout holds the box's own disk (.cache/e2e/runs)
  if [ "$1" = ro ]; then mount -o remount,bind,ro "$R$3"; fi
}

# The kernel is the host's: keep the box from changing it (systemd-sysctl, udev, binfmt are then skipped
# by their ConditionPathIsReadWrite=). sysfs read-only, /proc/sys read-only.
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind "$BOX_BOOT_ID" "$R/proc/sys/kernel/random/boot_id"
mount -o remount,bind,ro "$R/proc/sys/kernel/random/boot_id"
if [ -e /proc/sysrq-trigger ]; then
  mount --bind /proc/sysrq-trigger "$R/proc/sysrq-trigger"
  mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi

# A fresh cgroup2 mount: in our cgroup namespace it shows only the box's own subtree, which systemd
# manages as if it were the whole tree ("unified" mode).
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"

# A minimal /dev, as systemd-nspawn makes it: no disks, no consoles, no /dev/kmsg (so neither getty nor
# journald touches the host's), its own pty instance.
mount -t tmpfs -o mode=755,nosuid,size=4m tmpfs "$R/dev"
for node in null zero full random urandom tty; do
  : > "$R/dev/$node"
  mount --bind "/dev/$node" "$R/dev/$node"
done
mkdir -p "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"

bind ro "$BOX_NODE" /usr/bin/node
if [ -n "${BOX_BINDS:-}" ]; then
  tab=$(printf '\t')
  printf '%s\n' "$BOX_BINDS" | while IFS="$tab" read -r mode src dst; do
    [ -n "$src" ] || continue
    bind "$mode" "$src" "$dst"
  done
fi

# Bookworm's own nodejs is too old; the host's binary must run on the box's libraries.
if ! out=$(chroot "$R" /usr/bin/node -e "" 2>&1); then
  fail "the host's node ($BOX_NODE) does not run inside the box: $out
$(ldd "$BOX_NODE" 2>&1)"
fi

# `container=` tells systemd it runs in a container (and which one: systemd-detect-virt says container-other).
# Nothing else of this script's environment goes in.
exec env -i container=update-agent-box "$(command -v chroot)" "$R" /lib/systemd/systemd --system
