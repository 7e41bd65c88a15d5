#!/usr/bin/env bash
# mkimage.sh builds a full gokrazy image of one instance and formats its
# /perm partition as ext4, which gok only prints as a hint and never runs.
#
#   mkimage.sh PARENT_DIR INSTANCE FILE [BYTES]   image file of BYTES bytes
#   mkimage.sh PARENT_DIR INSTANCE /dev/sdX       whole SD card
#
# Environment: GOK (the pinned gok binary), XDG_CONFIG_HOME (where gok finds
# gokrazy/http-password.txt), GOENV (go's own settings, which a changed
# XDG_CONFIG_HOME would otherwise hide from the go builds gok runs).
set -euo pipefail

parent=${1:?usage: mkimage.sh PARENT_DIR INSTANCE FILE|DEVICE [BYTES]}
instance=${2:?instance name missing}
target=${3:?output file or device missing}
bytes=${4:-2147483648}
gok=${GOK:?GOK must name the gok binary}
mkfs=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
[ -x "$mkfs" ] || { echo "mkimage: mkfs.ext4 not found: install e2fsprogs (sudo apt-get install e2fsprogs)" >&2; exit 1; }

# gok's partition layout (tools/internal/packer): partition 1 starts at LBA
# 8192, boot is 100 MiB and each root 500 MiB, so /perm (partition 4) starts at
# 8192*512 + 1100 MiB.
perm_offset=$((8192 * 512 + 1100 * 1024 * 1024))

if [ -b "$target" ]; then
  [ "$(id -u)" = 0 ] || { echo "mkimage: writing a device needs root: sudo make image DEV=$target" >&2; exit 1; }
  dev=$(readlink -f "$target")
  name=$(basename "$dev")
  case "$(lsblk -dno TYPE "$dev")" in
    disk | loop) ;;
    *) echo "mkimage: refusing to write $dev: not a whole disk (give /dev/sdX, not a partition)" >&2; exit 1 ;;
  esac
  # The disk holding / (its parent disk, or the device itself when / sits
  # on a whole disk), however the user spelled the target.
  rootsrc=$(findmnt -nvo SOURCE / 2>/dev/null || true)
  rootdisk=""
  if [ -b "$rootsrc" ]; then
    rootdisk=$(lsblk -ndo PKNAME "$rootsrc" 2>/dev/null || true)
    [ -n "$rootdisk" ] || rootdisk=$(basename "$(readlink -f "$rootsrc")")
  fi
  if [ "$name" = "$rootdisk" ]; then
    echo "mkimage: refusing to write $dev: it holds this system's root file system" >&2
    exit 1
  fi
  if lsblk -nro MOUNTPOINTS "$dev" 2>/dev/null | grep -q . || grep -q "^$dev" /proc/mounts; then
    echo "mkimage: refusing to write $dev: it or one of its partitions is mounted:" >&2
    lsblk "$dev" >&2
    exit 1
  fi
  bytes=$(blockdev --getsize64 "$dev")
  perm_kib=$(((bytes / 512 - 2261026) / 2))
  [ "$bytes" -ge 1258299392 ] || { echo "mkimage: $dev ($bytes bytes) is too small: gokrazy needs at least 1258299392" >&2; exit 1; }
  echo "mkimage: writing instance $instance to $dev ($(lsblk -dno SIZE,MODEL "$dev" | xargs))"
  "$gok" --parent_dir "$parent" -i "$instance" overwrite --full "$dev"
  # gok sized partition 4 (/perm) to the device with the same layout as for
  # an image file. Formatting it through the whole device at its offset
  # does not depend on the kernel re-reading the new partition table.
  "$mkfs" -q -F -L perm -E offset="$perm_offset" "$dev" "$perm_kib"
  sync
  echo "mkimage: $dev is ready (/perm ext4 $perm_kib KiB at byte $perm_offset)"
  exit 0
fi

if [ $((bytes % 512)) -ne 0 ] || [ "$bytes" -lt 1258299392 ]; then
  echo "mkimage: BYTES=$bytes must be a multiple of 512 and at least 1258299392" >&2
  exit 1
fi
perm_kib=$(((bytes / 512 - 2261026) / 2))
target=$(realpath -m "$target") # gok prints absolute paths

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rm -f "$target"
if ! "$gok" --parent_dir "$parent" -i "$instance" overwrite --full "$target" --target_storage_bytes="$bytes" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$target"
  echo "mkimage: gok overwrite of instance $instance failed" >&2
  exit 1
fi
# gok prints the mkfs command it expects; check that its layout still matches
# ours, so that a gok upgrade that moves /perm fails here, not on the device.
hint=$(grep -o 'mkfs.ext4 -F -E offset=[0-9]* .*' "$log" || true)
want="mkfs.ext4 -F -E offset=$perm_offset $target $perm_kib"
if [ "$hint" != "$want" ]; then
  cat "$log" >&2
  rm -f "$target" # without /perm it must not be flashed by mistake
  echo "mkimage: gok's /perm hint changed: got '$hint', want '$want'" >&2
  exit 1
fi
"$mkfs" -q -F -L perm -E offset="$perm_offset" "$target" "$perm_kib" || { rm -f "$target"; exit 1; }
echo "mkimage: $target: $instance image, $bytes bytes, /perm ext4 $perm_kib KiB at byte $perm_offset"
