#!/usr/bin/env bash
# The production topology, started on this machine and checked by a shopper's checkout:
#
#   client → nginx (static files from disk, far-future caching for fingerprinted ones)
#          → two gunicorn instances (2 workers each, TRUSTED_PROXY_COUNT=1)
#          → PostgreSQL + Redis, shared with one Huey consumer
#
# It differs from a real server only where going offline needs it: payments use the
# offline sandbox and emails the outbox, and nginx listens on plain HTTP on loopback (so
# the shop runs in development mode, whose cookies are not Secure-only); SHOP_ENV=production
# needs TLS in front and real Stripe and mail settings (README, "Running in production").
#
#   scripts/production-recipe.sh          start, check a checkout, stop, exit 0 if it passed
#   KEEP=1 scripts/production-recipe.sh   leave it running afterwards (Ctrl-C stops it)
#
# Settings: BIN (.venv/bin), RECIPE_PORT (8080), RECIPE_APP_PORTS ("8001 8002"),
# RECIPE_POSTGRES (postgresql+psycopg://postgres@127.0.0.1:5432). It creates and drops a
# database of its own, and runs a Redis of its own (Debian's redis-server, no disk) on a
# free port, so two runs never share a queue or flush each other's keys.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-.venv/bin}
PORT=${RECIPE_PORT:-8080}
read -r APP1 APP2 <<<"${RECIPE_APP_PORTS:-8001 8002}"
POSTGRES=${RECIPE_POSTGRES:-postgresql+psycopg://postgres@127.0.0.1:5432}
DB_NAME="shopsphere_recipe_$$"
RUN=$(mktemp -d /tmp/shopsphere-recipe.XXXXXX)
PIDS=()
free_port() { "$BIN/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
REDIS_PORT=$(free_port)

scripts/ensure-nginx.sh
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

database() {  # create | drop
  "$BIN/python" - "$1" "$POSTGRES/postgres" "$DB_NAME" <<'PY'
import sys
import sqlalchemy as sa
action, url, name = sys.argv[1:]
engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    if action == "create":
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    else:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PY
}

stop() {
  [ -f "$RUN/nginx.pid" ] && "$NGINX" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" -s stop 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  database drop || true
  if [ "${KEEP_LOGS:-}" = 1 ]; then echo "Logs kept in $RUN"; else rm -rf "$RUN"; fi
}
trap stop EXIT
trap 'exit 130' INT TERM

export DATABASE_URL="$POSTGRES/$DB_NAME"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export SECRET_KEY
SECRET_KEY=$("$BIN/python" -c "import secrets; print(secrets.token_urlsafe(48))")
export TRUSTED_PROXY_COUNT=1
export SHOP_BASE_URL="http://127.0.0.1:$PORT"
export PROMETHEUS_MULTIPROC_DIR="$RUN/metrics"   # one empty directory per host
export METRICS_ALLOWED_IPS=127.0.0.1
export SHOP_INSTANCE_DIR="$RUN/instance"         # media files: one folder both instances share
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" "$SHOP_INSTANCE_DIR"

echo "== database $DB_NAME on $POSTGRES, Redis $REDIS_URL"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  --dir "$RUN" --logfile "$RUN/redis.log" &
PIDS+=($!)
"$BIN/python" - "$REDIS_URL" <<'PY'
import sys, time
import redis
client = redis.Redis.from_url(sys.argv[1])
for _ in range(100):
    try:
        client.ping()
        break
    except redis.ConnectionError:
        time.sleep(0.05)
else:
    sys.exit("Redis did not start")
PY
database create
"$BIN/flask" --app wsgi db upgrade >"$RUN/migrate.log" 2>&1
"$BIN/flask" --app wsgi shop seed --if-empty >"$RUN/seed.log" 2>&1

echo "== two gunicorn instances on :$APP1 and :$APP2, one Huey consumer"
for port in "$APP1" "$APP2"; do
  GUNICORN_BIND="127.0.0.1:$port" GUNICORN_WORKERS=2 \
    GUNICORN_ACCESS_LOG="$RUN/app-$port-access.log" GUNICORN_ERROR_LOG="$RUN/app-$port-error.log" \
    "$BIN/gunicorn" -c deploy/gunicorn.conf.py wsgi:app &
  PIDS+=($!)
done
nice -n 10 "$BIN/huey_consumer" tasks.huey --workers 2 --worker-type thread >"$RUN/huey.log" 2>&1 &
PIDS+=($!)

echo "== nginx on http://127.0.0.1:$PORT"
mkdir -p "$RUN"/nginx-{body,proxy,fastcgi,uwsgi,scgi}
sed -e "s|@RUN@|$RUN|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" \
  -e "s|@APP1@|$APP1|g" -e "s|@APP2@|$APP2|g" -e "s|@USER@|$(id -un)|g" \
  -e "s|@SERVER_NAME@|127.0.0.1 localhost|g" deploy/nginx.conf >"$RUN/nginx.conf"
"$NGINX" -t -q -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"
"$NGINX" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"

ready=""
for _ in $(seq 1 150); do
  if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$PORT/readyz" 2>/dev/null \
    && "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$APP1/healthz" 2>/dev/null \
    && "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$APP2/healthz" 2>/dev/null; then
    ready=yes
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "The topology did not come up within 30 s. Last lines of the logs:" >&2
  tail -n 20 "$RUN"/app-*-error.log "$RUN/huey.log" "$RUN/nginx-error.log" >&2 || true
  exit 1
fi

echo "== a shopper's checkout through nginx"
if ! "$BIN/python" scripts/recipe_checkout.py "http://127.0.0.1:$PORT" "$RUN"; then
  echo "The checkout through nginx failed. Last lines of the logs:" >&2
  tail -n 20 "$RUN"/app-*-error.log "$RUN/huey.log" "$RUN/nginx-error.log" >&2 || true
  exit 1
fi
if [ "${KEEP:-}" = 1 ]; then
  echo "Running on http://127.0.0.1:$PORT (logs in $RUN). Ctrl-C stops everything."
  wait
fi
