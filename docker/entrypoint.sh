#!/bin/sh
# Entry point of the trainwatch image. The first argument names a role:
#   web        gunicorn on :8000 (WEB_WORKERS, default 3; GUNICORN_CMD_ARGS adds options)
#   worker     Celery worker on the matching and default queues (WORKER_CONCURRENCY, default 2)
#   beat       Celery beat, the periodic scheduler: run exactly one per deployment
#   migrate    apply database migrations, then exit
#   healthcheck  used by HEALTHCHECK: checks whichever role this container was started as
# Anything else is run as given, e.g. `python manage.py createsuperuser`.
set -eu

# The healthcheck runs as a separate process, so the role is left where it can find it.
ROLE_FILE=/tmp/trainwatch-role

remember_role() {
    # A read-only root filesystem without a /tmp mount must not stop the service from starting.
    printf '%s\n' "$1" 2>/dev/null > "$ROLE_FILE" \
        || echo "entrypoint: cannot write $ROLE_FILE, so the healthcheck will not check $1" >&2
}

check_web() {
    # Production settings redirect plain http to https and reject unknown Host headers, so
    # the probe says it came through the TLS proxy and uses a host from ALLOWED_HOSTS.
    exec python - <<'PY'
import os
import sys
import urllib.request

hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
request = urllib.request.Request(
    "http://127.0.0.1:8000/healthz",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # 503 (database or broker down) lands here too
    print(f"healthz failed: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

check_worker() {
    # A worker's node name defaults to celery@<hostname>, the container's own hostname.
    exec celery -A config inspect ping \
        --destination "celery@$(cat /proc/sys/kernel/hostname)" --timeout 10
}

role="${1:-web}"

case "$role" in
    web)
        remember_role web
        exec gunicorn config.wsgi:application \
            --bind 0.0.0.0:8000 \
            --workers "${WEB_WORKERS:-3}" \
            --timeout 120
        ;;
    worker)
        remember_role worker
        exec celery -A config worker \
            -Q matching,default \
            -l info \
            --concurrency "${WORKER_CONCURRENCY:-2}" \
            -O fair
        ;;
    beat)
        remember_role beat
        # The schedule state file goes to /tmp: /app is read-only for the app user.
        exec celery -A config beat -l info --schedule /tmp/celerybeat-schedule
        ;;
    migrate)
        exec python manage.py migrate --noinput
        ;;
    healthcheck)
        case "$(cat "$ROLE_FILE" 2>/dev/null || true)" in
            web) check_web ;;
            worker) check_worker ;;
            *) exit 0 ;;  # beat, one-off commands: the process being alive is all there is
        esac
        ;;
    *)
        exec "$@"
        ;;
esac
