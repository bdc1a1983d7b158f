#!/usr/bin/env bash
# One idempotent set-up step shared by `npm run demo` and `npm test` on a Debian 12 machine (as root):
# installs missing apt packages, runs `npm ci` only when package-lock.json changed since the last
# successful install, and rebuilds the JavaScript bundles, BPF objects and native helpers only when
# their sources changed (scripts/build.mjs keeps the hashes).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(iproute2 iputils-ping ethtool nftables procps psmisc bird2 frr clang llvm libbpf-dev bpftool make gcc g++ libc6-dev libssl-dev iperf3 mininet bridge-utils wireguard-go wireguard-tools)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing apt packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: frr and bird2 would otherwise pull in extras; their services are never started by us;
  # wireguard-tools would pull in a kernel image (encrypted paths use the module when present, else wireguard-go).
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.patronus-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "setup: npm ci (package-lock.json changed)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

node scripts/build.mjs
