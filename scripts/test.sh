#!/usr/bin/env bash
# The whole test suite: setup (idempotent), strict type check, then every node:test file (unit tests beside the
# modules in src/, integration tests with real berthd, crun and the docker CLI in test/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
echo "typecheck: tsc --noEmit"
node_modules/.bin/tsc --noEmit -p .
mapfile -t files < <(find src test -name '*.test.ts' | sort)
exec scripts/node.sh --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
