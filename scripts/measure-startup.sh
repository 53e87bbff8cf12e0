#!/usr/bin/env bash
# Measures time from exec to a 200 from /readyz, and idle RSS, of the release binary.
# Usage: scripts/measure-startup.sh [path/to/wedock] [runs]
set -euo pipefail
bin=$(realpath "${1:-target/release/wedock}")
runs="${2:-10}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
best=999999; total=0
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  (cd "$dir" && WEDOCK_SERVER__LISTEN="127.0.0.1:$port" exec "$bin" serve 2>/dev/null) &
  pid=$!
  tries=0
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 5000 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "wedock did not become ready" >&2; exit 1
    fi
    sleep 0.002
  done
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  total=$((total + ms)); [ "$ms" -lt "$best" ] && best=$ms
  if [ "$i" -eq "$runs" ]; then
    sleep 2
    rss=$(ps -o rss= -p "$pid")
    echo "idle RSS: $((rss / 1024)) MiB ($rss KiB)"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
done
echo "ready after: best ${best} ms, mean $((total / runs)) ms over $runs runs"
echo "binary: $(stat -c %s "$bin") bytes"
