#!/usr/bin/env bash
# `npm start` with nothing configured (embedded footprint, fresh .data/), wait for readiness,
# SIGTERM, and check the exit code and that no PostgreSQL of this checkout survives.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
log=$(mktemp)
env -u DATABASE_URL -u REDIS_URL PORT="$port" setsid npm start >"$log" 2>&1 &
pid=$!
started=$(date +%s%N)
ready=""
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ready=yes; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "smoke: the service never became ready"; cat "$log"; kill -TERM -- -"$pid" 2>/dev/null || true; exit 1
fi
echo "smoke: ready after $(( ($(date +%s%N) - started) / 1000000 )) ms (includes nest build)"
curl -fsS "http://127.0.0.1:$port/health/ready"; echo
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
echo "smoke: npm start exited with $code"
sleep 1
if pgrep -f "postgres -D $PWD/.data/postgres" >/dev/null; then
  echo "smoke: an embedded postgres of this checkout is still running"; pgrep -af "postgres -D $PWD/.data"; exit 1
fi
grep -q '"shutting down"\|"msg":"shutting down"' "$log" || { echo "smoke: no graceful shutdown in the log"; cat "$log"; exit 1; }
[ "$code" -eq 0 ] || { echo "smoke: non-zero exit"; cat "$log"; exit 1; }
echo "smoke: clean stop, no orphaned postgres"
