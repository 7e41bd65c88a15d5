#!/usr/bin/env bash
# Fetches the Raspberry Pi Wi-Fi firmware (brcmfmac 43430/43455 blobs, their
# CLM blobs and the Pi NVRAM files) from Debian's firmware-brcm80211
# (non-free-firmware) and regulatory.db from wireless-regdb, with their
# licences, into OUT, which the image maps to /lib/firmware (gokrazy
# ExtraFilePaths). Usage: fetch.sh OUT   (needs apt-get and dpkg-deb; no
# change to the machine's apt sources: it uses a private apt state).
set -euo pipefail
out=${1:?usage: fetch.sh OUT}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$out"
out=$(cd "$out" && pwd)
apt="$out/.apt"
rm -rf "$apt" "$out/brcm"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/deb" "$apt/x"
echo "deb $mirror $suite main non-free-firmware" > "$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update
(cd "$apt/deb" && apt-get "${opts[@]}" -qq download firmware-brcm80211 wireless-regdb)
for d in "$apt"/deb/*.deb; do dpkg-deb -x "$d" "$apt/x"; done

fw="$out"
mkdir -p "$fw/brcm"
src="$apt/x/lib/firmware"
# cp -L turns Debian's symlinks (brcm/... -> ../cypress/...) into files.
for f in \
	brcmfmac43430-sdio.bin brcmfmac43430-sdio.clm_blob \
	'brcmfmac43430-sdio.raspberrypi,3-model-b.txt' 'brcmfmac43430-sdio.raspberrypi,model-zero-w.txt' \
	brcmfmac43455-sdio.bin brcmfmac43455-sdio.clm_blob \
	'brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt' 'brcmfmac43455-sdio.raspberrypi,3-model-a-plus.txt' \
	'brcmfmac43455-sdio.raspberrypi,4-model-b.txt'; do
	cp -L "$src/brcm/$f" "$fw/brcm/$f"
done
# Aliases that Debian trixie ships as symlinks (bookworm lacks them): the
# Zero 2 W with the 43430 chip uses the 3B's NVRAM, the Pi 5 the 4B's.
cp -L "$src/brcm/brcmfmac43430-sdio.raspberrypi,3-model-b.txt" "$fw/brcm/brcmfmac43430-sdio.raspberrypi,model-zero-2-w.txt"
cp -L "$src/brcm/brcmfmac43455-sdio.raspberrypi,4-model-b.txt" "$fw/brcm/brcmfmac43455-sdio.raspberrypi,5-model-b.txt"
# The Pi kernel trusts the upstream wireless-regdb signing key, not Debian's.
cp -L "$src/regulatory.db-upstream" "$fw/regulatory.db"
cp -L "$src/regulatory.db.p7s-upstream" "$fw/regulatory.db.p7s"
cp "$apt/x/usr/share/doc/firmware-brcm80211/copyright" "$fw/LICENSE.firmware-brcm80211"
cp "$apt/x/usr/share/doc/wireless-regdb/copyright" "$fw/LICENSE.wireless-regdb"
{
	echo "# Fetched by internal/hotspot/firmware/fetch.sh from $mirror $suite"
	for d in "$apt"/deb/*.deb; do basename "$d"; done
	(cd "$fw" && find . -path ./.apt -prune -o -type f ! -name MANIFEST.hotspot -print | LC_ALL=C sort | xargs -d '\n' sha256sum)
} > "$fw/MANIFEST.hotspot"
rm -rf "$apt"
echo "firmware in $fw:"
(cd "$fw" && find . -type f | LC_ALL=C sort | sed 's/^/  /')
