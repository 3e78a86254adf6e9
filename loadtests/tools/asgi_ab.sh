#!/usr/bin/env bash
# Usage (from the repo root): python3 -m uv venv /tmp/asgi/venv && python3 -m uv pip install --python /tmp/asgi/venv/bin/python -e shared -e services/identity granian locust "uvicorn[standard]"
#   then: mkdir -p /tmp/asgi && bash loadtests/tools/asgi_ab.sh
# Interleaved A/B: uvicorn and granian alternate, so machine-load drift hits both alike.
for round in 1 2 3; do
  for server in uvicorn granian; do
    ORDER=$server SECS=12 bash loadtests/tools/asgi_bench.sh | tail -n 1 | awk -v s=$server -v r=$round '{print r, s, "rps=" $5, "p50~avg=" $3, "p95=" $10}'
  done
done
