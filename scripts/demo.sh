#!/usr/bin/env bash
# Berth's main job on a fresh machine: set up, start berthd on /run/berth.sock, make the offline busybox base
# image from the host's busybox-static, and run a container that greets you.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
export DOCKER_HOST=unix:///run/berth.sock
if ! bin/berth version >/dev/null 2>&1; then
  echo "demo: starting berthd (log: /var/log/berthd.log)"
  nohup bin/berthd -H unix:///run/berth.sock >>/var/log/berthd.log 2>&1 </dev/null &
  for _ in $(seq 100); do bin/berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! bin/berth image inspect busybox:latest >/dev/null 2>&1; then
  bin/berth image bootstrap
fi
bin/berth run --rm busybox echo "Hello from Berth: a container started by berthd, running busybox from the host's busybox-static."
