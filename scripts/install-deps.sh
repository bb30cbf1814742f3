#!/usr/bin/env bash
# Installs ztcore's build and test dependencies from Debian 12 packages (idempotent).
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  libsodium-dev libssl-dev liblz4-dev libsqlite3-dev nlohmann-json3-dev libcpp-httplib-dev libpcap-dev
  libgtest-dev libgmock-dev libbenchmark-dev liblwip-dev
  clang-14 libclang-rt-14-dev
  python3 python3-cffi python3-pytest python3-scapy
  iproute2 curl tshark
  chromium chromium-driver python3-selenium
  nim python3-venv python3-pip python3-setuptools
  postgresql-15 libpq-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
