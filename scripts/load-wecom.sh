#!/usr/bin/env bash
# Load test of POST /wecom/app: wedock (release build) against a minimal Flask + wechatpy
# server under gunicorn with 2 workers, both in the same run, on distinct messages (each its
# own MsgId, none sent twice, so no reply comes from dedup).
#
#   scripts/load-wecom.sh [--store sqlite|postgres] [--runs N] [--driver wrk|generator]
#                         [--distinct-text] [requests] [concurrency ...]
#
# Defaults: concurrency 32 then 8, 3 runs, the SQLite store. For every run and concurrency it
# prints each server's req/s and latency percentiles, the ratio, how many replies were
# signature-checked, decrypted and checked to be a text reply to a sender of the load, wedock's
# RSS, and the load average (other work on the machine skews both servers).
#
# --driver wrk (the default when wrk is installed): wrk -t2 -cN for $DURATION seconds (default
# 5) replays messages prepared by examples/wecom_load.rs (scripts/wrk-replay.lua); `requests`
# is how many are prepared per server (default 200000 for wedock, a tenth of it for the
# reference), enough that none repeats (a repeat is reported). --driver generator: the Rust
# generator itself sends `requests` messages (default 20000) over keep-alive connections.
# --distinct-text: every message its own text as well, so no answer comes from wedock's cache.
#
# --store postgres: wedock uses a throwaway database created on $WEDOCK_LOAD_PG_URL's server
# (default postgres://wedock:wedock@127.0.0.1:5432/wedock_test; the role needs CREATEDB) and
# dropped at the end. The server itself is never restarted.
#
# Needs: python3 with wechatpy, flask, gunicorn (pip install -r tests/interop/requirements.txt
# flask gunicorn); psql for --store postgres. SKIP_BUILD=1 BIN_DIR=… measures binaries
# already built (BIN_DIR holds wedock and examples/wecom_load). README records the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=sqlite
RUNS=3
DRIVER=generator
command -v wrk >/dev/null && DRIVER=wrk
DISTINCT=false
DURATION=${DURATION:-5}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --store) STORE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --driver) DRIVER=$2; shift 2 ;;
    --distinct-text) DISTINCT=true; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
if [[ $DRIVER == wrk ]]; then REQUESTS=${1:-200000}; else REQUESTS=${1:-20000}; fi
shift || true
CONCURRENCIES=("$@")
[[ ${#CONCURRENCIES[@]} -gt 0 ]] || CONCURRENCIES=(32 8)
[[ $STORE == sqlite || $STORE == postgres ]] || { echo "--store is sqlite or postgres" >&2; exit 2; }
TOKEN=QDG6eK
KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
CORP=ww5823bf96d3bd56c7
WEDOCK_PORT=${WEDOCK_PORT:-18080}
FLASK_PORT=${FLASK_PORT:-18081}
TARGET=${CARGO_TARGET_DIR:-target}
BIN_DIR=${BIN_DIR:-$TARGET/release}
PG_ADMIN_URL=${WEDOCK_LOAD_PG_URL:-postgres://wedock:wedock@127.0.0.1:5432/wedock_test}

[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release -p wedock --bin wedock --example wecom_load
work=$(mktemp -d)
pg_db=""
cleanup() {
  [[ -n "${wedock_pid:-}" ]] && kill "$wedock_pid" 2>/dev/null || true
  [[ -n "${flask_pid:-}" ]] && kill "$flask_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ -n "$pg_db" ]]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

store_toml="data_dir = \"$work/data\""
if [[ $STORE == postgres ]]; then
  pg_db="wedock_load_$$"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
  store_toml+=$'\n'"backend = \"postgres\""$'\n'"postgres_url = \"${PG_ADMIN_URL%/*}/$pg_db\""
fi
cat > "$work/wedock.toml" <<TOML
[server]
listen = "127.0.0.1:$WEDOCK_PORT"
[store]
$store_toml
[docker]
enabled = false
# The load sends hundreds of messages per sender: per-user limits would refuse most of them
# (the reference has none).
[limits]
answers_per_hour = 0
commands_per_minute = 0
[wecom.app]
corp_id = "$CORP"
agent_id = 1000002
secret = "unused-in-this-test"
token = "$TOKEN"
encoding_aes_key = "$KEY"
TOML
WEDOCK_LOG=warn "$BIN_DIR/wedock" --config "$work/wedock.toml" serve &
wedock_pid=$!
(cd tests/interop && WECOM_TOKEN=$TOKEN WECOM_KEY=$KEY WECOM_CORP=$CORP \
  exec gunicorn -w 2 -b 127.0.0.1:$FLASK_PORT --log-level warning flask_wecom:app) &
flask_pid=$!
for port in $WEDOCK_PORT $FLASK_PORT; do
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
done

load_gen() {
  "$BIN_DIR/examples/wecom_load" --token "$TOKEN" --key "$KEY" --corp "$CORP" \
    --distinct-text "$DISTINCT" "$@"
}
# One measurement (port, label, requests, concurrency): one line of key=value fields.
measure() {
  if [[ $DRIVER == generator ]]; then
    load_gen --url "http://127.0.0.1:$1/wecom/app" --requests "$3" --concurrency "$4" --label "$2"
    return
  fi
  local reqs="$work/requests" samples="$work/replies"
  load_gen --url "http://127.0.0.1:$1/wecom/app" --requests "$3" --emit "$reqs"
  local out
  out=$(wrk -t2 -c"$4" -d"${DURATION}s" --timeout 10s -s scripts/wrk-replay.lua \
    "http://127.0.0.1:$1" -- "$reqs" 2 "$samples" | sed -n 's/^wrk: //p')
  cat "$samples".* > "$samples.all"
  echo "$2: concurrency=$4 $out $(load_gen --verify-file "$samples.all")"
  rm -f "$reqs" "$samples".*
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
show() {
  printf '  %-30s %6s req/s  p50 %5s ms  p90 %5s ms  p99 %6s ms  max %7s ms  requests %s  errors %s  replies verified %s of %s%s\n' \
    "$1" "$(field rps "$2")" "$(field p50_ms "$2")" "$(field p90_ms "$2")" \
    "$(field p99_ms "$2")" "$(field max_ms "$2")" "$(field requests "$2")" "$(field errors "$2")" \
    "$(field verified "$2")" "$(field checked "$2")" \
    "$([[ "$(field list_repeated "$2")" =~ ^(|0)$ ]] || echo "  (MESSAGES REPEATED: prepare more)")"
}
rss_kib() { awk "/^$1:/ {print \$2}" "/proc/$wedock_pid/status"; }

# A short warm-up for each (also loads wedock's knowledge base and fills its caches).
DRIVER=generator measure $WEDOCK_PORT warm-up 2000 32 >/dev/null
DRIVER=generator measure $FLASK_PORT warm-up 1000 32 >/dev/null 2>&1 || true

REF_REQUESTS=$REQUESTS
[[ $DRIVER == wrk ]] && REF_REQUESTS=$((REQUESTS / 10))
echo "wedock ($STORE store) vs Flask + wechatpy (gunicorn -w 2), driver $DRIVER$([[ $DRIVER == wrk ]] && echo " (-t2, ${DURATION}s)"), distinct messages$([[ $DISTINCT == true ]] && echo " and texts"), $RUNS runs"
declare -A ratios
for run in $(seq 1 "$RUNS"); do
  for c in "${CONCURRENCIES[@]}"; do
    echo "run $run, concurrency $c, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    w=$(measure $WEDOCK_PORT wedock "$REQUESTS" "$c")
    rss_now=$(rss_kib VmRSS)
    f=$(measure $FLASK_PORT flask "$REF_REQUESTS" "$c")
    show "wedock ($STORE)" "$w"
    show "flask+wechatpy, gunicorn -w 2" "$f"
    ratio=$(awk -v a="$(field rps "$w")" -v b="$(field rps "$f")" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
    ratios[$c]+="${ratio}x "
    echo "  ratio ${ratio}x; wedock RSS $((rss_now / 1024)) MiB now, peak $(($(rss_kib VmHWM) / 1024)) MiB"
  done
done
for c in "${CONCURRENCIES[@]}"; do
  echo "concurrency $c: wedock/reference ratios over $RUNS runs: ${ratios[$c]}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
