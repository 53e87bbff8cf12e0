#!/usr/bin/env bash
# Load test of POST /wecom/app: wedock (release build) and a minimal Flask + wechatpy server
# under gunicorn with 2 workers, replaying the same kind of load in the same run.
#
#   scripts/load-wecom.sh [requests] [concurrency]
#
# Needs: python3 with wechatpy, flask, gunicorn (pip install -r tests/interop/requirements.txt
# flask gunicorn). Prints one line per target; docs/channels.md records the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-20000}
CONCURRENCY=${2:-32}
TOKEN=QDG6eK
KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
CORP=ww5823bf96d3bd56c7
WEDOCK_PORT=${WEDOCK_PORT:-18080}
FLASK_PORT=${FLASK_PORT:-18081}
TARGET=${CARGO_TARGET_DIR:-target}
# BIN_DIR=…/debug with SKIP_BUILD=1 measures an already built (e.g. opt-level-overridden) tree.
BIN_DIR=${BIN_DIR:-$TARGET/release}

[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release -p wedock --bin wedock --example wecom_load
work=$(mktemp -d)
cleanup() {
  [[ -n "${wedock_pid:-}" ]] && kill "$wedock_pid" 2>/dev/null || true
  [[ -n "${flask_pid:-}" ]] && kill "$flask_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/wedock.toml" <<TOML
[server]
listen = "127.0.0.1:$WEDOCK_PORT"
[store]
data_dir = "$work/data"
[docker]
enabled = false
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
  gunicorn -w 2 -b 127.0.0.1:$FLASK_PORT --log-level warning flask_wecom:app) &
flask_pid=$!
for port in $WEDOCK_PORT $FLASK_PORT; do
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
done

run() {
  "$BIN_DIR/examples/wecom_load" --url "http://127.0.0.1:$1/wecom/app" \
    --token "$TOKEN" --key "$KEY" --corp "$CORP" \
    --requests "${3:-$REQUESTS}" --concurrency "$CONCURRENCY" --label "$2"
}
# A short warm-up for each, then the measured runs.
run $WEDOCK_PORT "wedock (warm-up)" 1000 >/dev/null
run $FLASK_PORT "flask (warm-up)" 1000 >/dev/null 2>&1 || true
run $WEDOCK_PORT "wedock"
run $FLASK_PORT "flask+wechatpy, gunicorn -w 2"
