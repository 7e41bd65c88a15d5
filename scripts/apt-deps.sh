#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet.
# Without root it only lists what is missing; the tests that need those
# packages then skip with a reason (and fail in CI, where CI=true).
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "apt-deps: not root, so not installing: ${missing[*]}"
  echo "apt-deps: tests that need them will be skipped (make test lists them)"
  exit 0
fi
echo "apt-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
