#!/usr/bin/env bash
# Serve the shop (gunicorn, as production does) and a Huey consumer side by side; say
# "ready" only once the shop answers. Ctrl-C stops both.
set -euo pipefail
BIN=$1 HOST=$2 PORT=$3
# Links in emails point at the address the shop is served on (unless told otherwise).
export SHOP_BASE_URL="${SHOP_BASE_URL:-http://$HOST:$PORT}"
"$BIN/huey_consumer" tasks.huey --workers 2 --worker-type thread &
WORKER=$!
"$BIN/gunicorn" --bind "$HOST:$PORT" --workers 2 --access-logfile - \
  --access-logformat '%(h)s "%(r)s" %(s)s %(b)s %(M)sms' wsgi:app &
SERVER=$!
trap 'kill "$WORKER" "$SERVER" 2>/dev/null; wait 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 300); do
  if ! kill -0 "$WORKER" 2>/dev/null; then
    echo "The Huey consumer did not start; see the messages above." >&2
    exit 1
  fi
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "The web server did not start; see the messages above." >&2
    exit 1
  fi
  if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://$HOST:$PORT/healthz" 2>/dev/null; then
    echo "ShopSphere is ready on http://$HOST:$PORT (Huey consumer pid $WORKER). Ctrl-C stops both."
    wait
    exit 0
  fi
  sleep 0.2
done
echo "ShopSphere did not answer on http://$HOST:$PORT within a minute." >&2
exit 1
