#!/usr/bin/env bash
# Installs from the lockfile, lints, tests and packages the VS Code extension.
set -euo pipefail
cd "$(dirname "$0")"
npm ci
npm run lint
npm test
npm run package
