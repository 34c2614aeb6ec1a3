#!/usr/bin/env bash
# Web load figures: gunicorn (2 workers, production-like settings: DEBUG off, whitenoise manifest,
# Redis broker) on loopback, and wrk against a few pages for DURATION each; prints requests/s,
# latency p50/p95/p99 and errors per page, with the machine load (uptime) before and after.
#
#   nice -n 0 bash bench/load_web.sh                 # 30 s per page, 8 connections, 2 threads
#   DURATION=10s CONNECTIONS=16 bash bench/load_web.sh
#
# Uses its own database (BENCH_WEB_DB, default trainwatch_bench_web: created, migrated and seeded
# with `manage.py seed_demo` from ../shared/data the first time) and Redis key prefix. TLS is not
# terminated here, so SECURE_SSL_REDIRECT is off; everything else is as in production. The
# search page is rate-limited per client in production (THROTTLE_SEARCH_*): the limit is raised
# for this run, since one wrk client would otherwise measure the 429 page.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-8}"
THREADS="${THREADS:-2}"
# A free port unless told (another server on a fixed port would be measured instead).
PORT="${PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DB="${BENCH_WEB_DB:-trainwatch_bench_web}"
WORK="${BENCH_WEB_DIR:-/tmp/bench_web}"
PY=.venv/bin/python

case "$DB" in *bench*) ;; *) echo "refusing: BENCH_WEB_DB must contain 'bench'" >&2; exit 2 ;; esac
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
mkdir -p "$WORK"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
export SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
export DEBUG=false SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=127.0.0.1,localhost
export MEDIA_ROOT="$WORK/media" STATIC_ROOT="$WORK/static"
export THROTTLE_SEARCH_ANON=1000000/minute THROTTLE_SEARCH_USER=1000000/minute

if ! psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw "$DB"; then
  createdb -h 127.0.0.1 -U postgres "$DB"
fi
$PY manage.py migrate --no-input -v0
$PY manage.py collectstatic --no-input -v0
# Seeded without a broker: the demo run is matched in-process, so the report exists.
shell() { $PY manage.py shell --no-imports -v 0 -c "$1"; }
if [ "$(shell 'from matcher.models import MatchRun; print(MatchRun.objects.filter(status="done").count())')" = 0 ]; then
  $PY manage.py seed_demo --username bench-owner >/dev/null
fi
# A signed-in session of the demo owner, and the demo run's report page.
read -r SESSION RUN < <(shell '
from django.contrib.auth import get_user_model
from django.test import Client
from matcher.models import MatchRun
user = get_user_model().objects.get(username="bench-owner")
client = Client()
client.force_login(user)
run = MatchRun.objects.filter(organization__memberships__user=user, status="done").first()
print(client.cookies["sessionid"].value, run.pk)
')
[ -n "${RUN:-}" ] || { echo "no signed-in session or demo run" >&2; exit 1; }

# The server as deployed: with the broker (healthz checks it), 2 sync workers.
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}" CELERY_KEY_PREFIX="bench-web:"
.venv/bin/gunicorn config.wsgi -w 2 -b "127.0.0.1:${PORT}" --access-logfile /dev/null \
  --error-logfile "$WORK/gunicorn.log" &
GUNICORN=$!
trap 'kill "$GUNICORN" 2>/dev/null; wait "$GUNICORN" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
kill -0 "$GUNICORN" || { echo "gunicorn did not start: see $WORK/gunicorn.log" >&2; exit 1; }
curl -fsS "http://127.0.0.1:${PORT}/healthz"; echo

cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f non_2xx_3xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

base="http://127.0.0.1:${PORT}"
cookie="Cookie: sessionid=${SESSION}"
echo "gunicorn -w 2 on ${base}; wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} per page; run ${RUN}"
run_wrk() {  # name, url, [header]
  local name=$1 url=$2
  shift 2
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")
  echo "== ${name}: ${url} (HTTP ${status} to one request)"
  echo "   before: $(uptime)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$WORK/report.lua" "$@" "$url" \
    | grep -E '^RESULT' | sed 's/^/   /'
  echo "   after:  $(uptime)"
}
run_wrk "health check" "${base}/healthz"
run_wrk "public dataset list API" "${base}/api/datasets/"
run_wrk "public search page" "${base}/search/?artist=Taylor+Swift&title=Cruel+Summer"
run_wrk "dashboard (signed in)" "${base}/" -H "$cookie"
run_wrk "report page (signed in)" "${base}/runs/${RUN}/" -H "$cookie"
