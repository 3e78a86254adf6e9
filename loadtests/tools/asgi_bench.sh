#!/usr/bin/env bash
# Compare ASGI servers on the same app (identity skeleton), one worker each, same load.
set -u
cd "$(dirname "$0")/../.."
export PARLA_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres PARLA_NATS_URL=nats://127.0.0.1:4222 PARLA_LOG_LEVEL=WARNING
PY=${PY:-/tmp/asgi/venv/bin/python}
for server in ${ORDER:-uvicorn granian}; do
  if [ $server = uvicorn ]; then
    $PY -m uvicorn --factory parla_identity.app:create_app --host 127.0.0.1 --port 8711 --no-access-log --timeout-keep-alive 75 >${OUT:-/tmp/asgi}/$server.log 2>&1 &
  else
    $PY -m granian --interface asgi --factory --host 127.0.0.1 --port 8711 --workers 1 --loop uvloop --no-ws parla_identity.app:create_app >${OUT:-/tmp/asgi}/$server.log 2>&1 &
  fi
  pid=$!
  sleep 4
  $PY -m locust -f loadtests/tools/asgi_health.py --headless -u 50 -r 50 -t ${SECS:-20}s --host http://127.0.0.1:8711 --only-summary --csv ${OUT:-/tmp/asgi}/$server >${OUT:-/tmp/asgi}/$server.locust.log 2>&1
  kill $pid; wait $pid 2>/dev/null
  echo "== $server"; cut -d, -f3,4,6,7,10,11,14-17 /tmp/asgi/${server}_stats.csv | column -s, -t | head -3
done
