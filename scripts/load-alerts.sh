#!/usr/bin/env bash
# Alert ingestion with two replicas on PostgreSQL: two release `wedock serve` processes share
# one database, and `alert_load` posts distinct webhook alerts to both. Every alert is routed
# to one group robot with the default budget (20 a minute), so the run also exercises digest
# folding; the robot URL is a local port nobody listens on, so delivery only retries.
#
#   WEDOCK_PG_URL=postgres://USER:PASS@127.0.0.1:5432/DB scripts/load-alerts.sh [alerts] [concurrency]
#
# The database should be a scratch one: its wedock tables are emptied first. Prints one line;
# README records the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${WEDOCK_PG_URL:?set WEDOCK_PG_URL to a scratch PostgreSQL database}"
ALERTS=${1:-20000}
CONCURRENCY=${2:-32}
PORTS=(${WEDOCK_PORTS:-18090 18091})
TARGET=${CARGO_TARGET_DIR:-target}
BIN_DIR=${BIN_DIR:-$TARGET/release}

[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release -p wedock --bin wedock --example alert_load
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

psql -q "$WEDOCK_PG_URL" -c "DROP TABLE IF EXISTS dedup, outbox, audit, kv, quiz, lease, send_log, alert_record, schema_part, wedock_schema" 2>/dev/null || true
cat > "$work/wedock.toml" <<TOML
[store]
backend = "postgres"
postgres_url = { env = "WEDOCK_PG_URL" }
[docker]
enabled = false
[api]
robot_base = "http://127.0.0.1:9"
[[wecom.robots]]
name = "ops"
key = "load"
[alerts.hooks.load]
token = "load-token"
targets = ["ops"]
TOML
urls=()
for port in "${PORTS[@]}"; do
  WEDOCK_LOG=warn WEDOCK_SERVER__LISTEN="127.0.0.1:$port" WEDOCK_STORE__DATA_DIR="\"$work/data-$port\"" \
    "$BIN_DIR/wedock" --config "$work/wedock.toml" serve &
  pids+=($!)
  urls+=(--url "http://127.0.0.1:$port/hooks/load")
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    sleep 0.1
  done
done
"$BIN_DIR/examples/alert_load" "${urls[@]}" --token load-token \
  --requests "$ALERTS" --concurrency "$CONCURRENCY"
