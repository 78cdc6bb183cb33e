#!/bin/sh
# Turns a fresh `debootstrap --variant=minbase` tree into the e2e box's root file system.
# Usage: rootfs-customize.sh ROOT. This file is part of the rootfs recipe: editing it changes the
# cache key (tests/e2e/rootfs.ts), so the next run rebuilds the cached tree.
set -eu
R="$1"
[ -x "$R/lib/systemd/systemd" ] || { echo "rootfs-customize: $R is not a root file system with systemd" >&2; exit 1; }

# Identity: every box run writes its own /etc/machine-id (tests/e2e/box.ts), so runs never share one.
echo e2e-box > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\te2e-box\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$R/var/lib/dbus/machine-id"

# Units that make no sense in a box, or that would only add noise and time to every boot.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service \
  fstrim.timer systemd-pstore.service modprobe@.service getty@tty1.service console-getty.service \
  systemd-firstboot.service; do
  ln -sf /dev/null "$R/etc/systemd/system/$unit"
done
ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"

# A service that hangs on stop would hold a reboot for 90 s; scenarios set their own limits anyway.
mkdir -p "$R/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=30s\n' > "$R/etc/systemd/system.conf.d/10-e2e-box.conf"

# Journals persist on the box's "disk" (the run's overlay), across reboots, like on a node.
mkdir -p "$R/var/log/journal"

# Mount points for what tests/e2e/box-init.sh binds in: the host's node binary and the checkout.
: > "$R/usr/bin/node"
chmod 0755 "$R/usr/bin/node"
mkdir -p "$R/opt/update-agent"

# Packages (the agent's .deb) depend on nodejs (>= 20.19); bookworm's is 18. The box runs the host's node,
# bound at /usr/bin/node, so an empty package stands in for Debian's.
mkdir -p "$R/tmp/nodejs-box/DEBIAN"
cat > "$R/tmp/nodejs-box/DEBIAN/control" <<'CONTROL'
Package: nodejs
Version: 20.19.0-0e2ebox
Architecture: all
Maintainer: update-agent e2e box <maintainers@update-agent.invalid>
Description: placeholder: the e2e box binds the host's node at /usr/bin/node
CONTROL
chroot "$R" dpkg-deb --build /tmp/nodejs-box /tmp/nodejs-box.deb >/dev/null
chroot "$R" dpkg -i /tmp/nodejs-box.deb >/dev/null
rm -rf "$R/tmp/nodejs-box" "$R/tmp/nodejs-box.deb"

# The .debs debootstrap leaves behind are 50 MB nobody needs again.
rm -f "$R"/var/cache/apt/archives/*.deb
rm -rf "$R"/var/lib/apt/lists/*
