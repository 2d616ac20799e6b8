#!/usr/bin/env bash
# Builds the Debian package of the signaling server from a built binary:
#   scripts/server-deb.sh BINARY OUT_DIR      → prints the path of the .deb
# It installs /usr/bin/peerdrop-signal (stripped), the hardened systemd unit, its configuration
# /etc/peerdrop/signal.env (a conffile: upgrades keep your edits) and, as examples, the nginx
# site and the coturn configuration (packaging/server/, turnserver.conf). The unit is not
# enabled on install: the operator edits the configuration first (README "Deploy a server").
set -euo pipefail
cd "$(dirname "$0")/.."

binary="$1"
out="$2"
[[ -x "$binary" ]] || { echo "no binary at $binary" >&2; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
arch="$(dpkg --print-architecture)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/peerdrop" \
  "$root/usr/share/doc/peerdrop-signal/examples"
strip --strip-debug -o "$root/usr/bin/peerdrop-signal" "$binary"
chmod 0755 "$root/usr/bin/peerdrop-signal"
install -m 0644 packaging/server/peerdrop-signal.service "$root/lib/systemd/system/"
# Holds the TURN secret once set: readable by root only (systemd reads it before dropping to
# the unit's dynamic user).
install -m 0600 packaging/server/signal.env "$root/etc/peerdrop/signal.env"
install -m 0644 packaging/server/nginx-peerdrop.conf turnserver.conf \
  "$root/usr/share/doc/peerdrop-signal/examples/"
cat >"$root/usr/share/doc/peerdrop-signal/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: peerdrop
Files: *
Copyright: PeerDrop developers
License: MIT OR Apache-2.0
COPYRIGHT

cat >"$root/DEBIAN/control" <<CONTROL
Package: peerdrop-signal
Version: $version
Architecture: $arch
Maintainer: PeerDrop developers <dev@peerdrop.invalid>
Section: net
Priority: optional
Depends: libc6
Suggests: nginx, coturn
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Description: PeerDrop signaling server
 The rendezvous service PeerDrop devices meet on across networks: presence, short
 codes, WebRTC signaling, the encrypted fallback relay and TURN REST credentials.
 Files never pass through it unencrypted, and never stay on it.
CONTROL
echo "/etc/peerdrop/signal.env" >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  echo "peerdrop-signal: edit /etc/peerdrop/signal.env, then: systemctl enable --now peerdrop-signal"
fi
POSTINST
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/peerdrop-signal_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
