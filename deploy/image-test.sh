#!/usr/bin/env bash
# Builds the container image from a locally compiled static binary, with the runtime stage of
# deploy/Dockerfile taken verbatim, then checks that a container starts, turns healthy and
# answers `wedock ask` inside it. Used by CI, which has a Docker engine but no registry.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
triple=x86_64-unknown-linux-gnu
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --locked --bin wedock --target "$triple"
bin="$target_dir/$triple/release/wedock"
case "$(ldd "$bin" 2>&1 || true)" in
  *"statically linked"*|*"not a dynamic executable"*) ;;
  *) echo "image-test: $bin is not static" >&2; exit 1 ;;
esac

ctx=$(mktemp -d)
cleanup() {
  docker rm -f wedock-image-test >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT
mkdir -p "$ctx/out/etc/ssl/certs" "$ctx/out/data"
cp "$bin" "$ctx/out/wedock"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/out/etc/ssl/certs/"
{
  echo "FROM scratch AS build"
  echo "COPY out/ /out/"
  sed -n '/^# ---- runtime ----$/,$p' deploy/Dockerfile
} > "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t wedock:ci "$ctx" >/dev/null

size=$(docker image inspect wedock:ci --format '{{.Size}}')
echo "image-test: binary $(stat -c %s "$bin") bytes, image $size bytes"

docker rm -f wedock-image-test >/dev/null 2>&1 || true
docker run -d --name wedock-image-test -e WEDOCK_DOCKER__ENABLED=false wedock:ci >/dev/null
status=starting
for _ in $(seq 1 60); do
  status=$(docker inspect -f '{{.State.Health.Status}}' wedock-image-test)
  [ "$status" = healthy ] && break
  sleep 1
done
if [ "$status" != healthy ]; then
  echo "image-test: container never became healthy ($status)" >&2
  docker logs wedock-image-test >&2 || true
  exit 1
fi
reply=$(docker exec wedock-image-test /wedock ask --json /ping)
echo "image-test: ask inside the container: $reply"
case "$reply" in
  *'"kind":"command"'*pong*|*pong*'"kind":"command"'*) ;;
  *) echo "image-test: unexpected reply" >&2; exit 1 ;;
esac
user=$(docker inspect -f '{{.Config.User}}' wedock-image-test)
[ "$user" = "65532:65532" ] || { echo "image-test: runs as '$user', not non-root" >&2; exit 1; }
echo "image-test: 1 passed, 0 failed"
