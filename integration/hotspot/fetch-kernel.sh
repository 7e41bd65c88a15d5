#!/usr/bin/env bash
# make deps step for the hotspot VM test: fetches Debian's current amd64
# kernel package (the one linux-image-amd64 depends on) and unpacks the
# kernel and the modules mac80211_hwsim needs into CACHE/kernel, with the
# package name in CACHE/kernel/PACKAGE. Does nothing when that package is
# already unpacked. The test itself never downloads; it only reads this.
set -euo pipefail
cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
if ! command -v apt-cache >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "fetch-kernel: no apt-cache/dpkg-deb (not Debian); the hotspot VM test will skip"
  exit 0
fi
depends() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1; }
pkg=$(depends)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq   # a fresh machine has no package lists yet
  pkg=$(depends)
fi
if [ -z "$pkg" ]; then
  echo "fetch-kernel: apt-cache knows no linux-image-amd64; the hotspot VM test will skip"
  exit 0
fi
dest=$cache/kernel
if [ "$(cat "$dest/PACKAGE" 2>/dev/null)" = "$pkg" ]; then
  exit 0
fi
echo "fetch-kernel: $pkg into $dest"
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/fetch.XXXXXX")
chmod 755 "$tmp"   # apt-get download runs as _apt where it can
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq "$pkg")
mkdir "$tmp/root"
dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb | tar -x -C "$tmp/root" --wildcards \
  './boot/vmlinuz-*' './lib/modules/*/kernel/net/*' './lib/modules/*/kernel/lib/*' \
  './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/drivers/net/wireless/mac80211_hwsim.ko' \
  './lib/modules/*/kernel/drivers/virtio/*'
echo "$pkg" > "$tmp/root/PACKAGE"
rm -rf "$dest"
mv "$tmp/root" "$dest"
