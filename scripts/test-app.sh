#!/usr/bin/env bash
# The reference service's own suite (with coverage) and the same suite on every Node version of the matrix.
set -euo pipefail
cd "$(dirname "$0")/../app"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm test
npm run test:matrix
