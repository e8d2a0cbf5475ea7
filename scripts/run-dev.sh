#!/usr/bin/env bash
# Serve the shop and a Huey consumer side by side; Ctrl-C stops both.
set -euo pipefail
BIN=$1 HOST=$2 PORT=$3
"$BIN/huey_consumer" tasks.huey --workers 2 --worker-type thread &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null; wait "$WORKER" 2>/dev/null || true' EXIT INT TERM
sleep 1
if ! kill -0 "$WORKER" 2>/dev/null; then
  echo "The Huey consumer did not start; see the messages above." >&2
  exit 1
fi
echo "ShopSphere on http://$HOST:$PORT (Huey consumer pid $WORKER). Ctrl-C stops both."
"$BIN/flask" --app wsgi run --host "$HOST" --port "$PORT" --no-reload
