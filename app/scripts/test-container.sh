#!/usr/bin/env bash
# Builds the image with podman from local stand-in base images and checks it the way ECS will run it:
# read-only root filesystem, secrets from the environment, non-root, health check, SIGTERM drain, exit 0.
set -euo pipefail
APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$APP_DIR"

ROOT=$(git rev-parse --show-toplevel 2>/dev/null || (cd .. && pwd))
LOCAL_NODE_IMAGES=${LOCAL_NODE_IMAGES:-$ROOT/../shared/tools/local-node-images.sh}
[ -f "$LOCAL_NODE_IMAGES" ] || { echo "local-node-images.sh not found at $LOCAL_NODE_IMAGES (set LOCAL_NODE_IMAGES)" >&2; exit 1; }
eval "$(bash "$LOCAL_NODE_IMAGES" 20.20.2)"

IMAGE=${IMAGE:-localhost/payment-service:test}
NAME=payment-service-test-$$
log() { printf '[test:container] %s\n' "$*"; }
cleanup() { podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "building $IMAGE"
podman build -q --pull=never --format docker \
  --build-arg BUILD_IMAGE=localhost/node:20-slim --build-arg RUNTIME_IMAGE=localhost/node:20-distroless \
  -t "$IMAGE" . >/dev/null

# Secrets generated per run and passed by name (-e VAR), so they never appear on a command line or in output.
API_KEY=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))")
TOKENIZATION_KEY=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))")
export API_KEY TOKENIZATION_KEY
HOST_PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();})")

podman run -d --name "$NAME" --read-only --tmpfs /tmp:rw,size=16m -e API_KEY -e TOKENIZATION_KEY -e SHUTDOWN_DEADLINE_MS=20000 \
  -p "127.0.0.1:$HOST_PORT:8080" "$IMAGE" >/dev/null
log "started $NAME on 127.0.0.1:$HOST_PORT"

fail() { log "FAIL: $*"; podman logs "$NAME" 2>&1 | tail -20 >&2 || true; exit 1; }

user=$(podman inspect --format '{{.Config.User}}' "$NAME")
[ "$user" = "65532:65532" ] || fail "image user is '$user', expected 65532:65532"
uid=$(podman exec "$NAME" /nodejs/bin/node -e "process.stdout.write(String(process.getuid()))")
[ "$uid" = "65532" ] || fail "process uid is $uid"
log "ok: runs as uid $uid (image user $user)"
pid1=$(podman exec "$NAME" /nodejs/bin/node -e "process.stdout.write(require('fs').readFileSync('/proc/1/cmdline','utf8').split('\0').join(' ').trim())")
[ "$pid1" = "/nodejs/bin/node dist/server.js" ] || fail "PID 1 is '$pid1'"
log "ok: PID 1 is '$pid1'"
if podman exec "$NAME" /nodejs/bin/node -e "require('fs').writeFileSync('/app/x','x')" 2>/dev/null; then fail "root filesystem is writable"; fi
podman exec "$NAME" /nodejs/bin/node -e "require('fs').writeFileSync('/tmp/x','x')" || fail "/tmp is not writable"
log "ok: read-only root filesystem, writable /tmp"
if podman exec "$NAME" /bin/sh -c true 2>/dev/null; then fail "image has a shell"; fi
log "ok: no shell in the image"

# HTTP checks, the payment round trip, then `podman stop` while a slow request is in flight.
node scripts/container-checks.mjs "$HOST_PORT" "$NAME"

podman healthcheck run "$NAME" >/dev/null 2>&1 && fail "healthcheck passed on a stopped container" || true
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$code" = "0" ] || fail "exit code after SIGTERM was $code"
log "ok: exit code after podman stop (SIGTERM) is $code"
podman logs "$NAME" 2>&1 | grep -E '"msg":"(draining|drained, exiting)"' | sed 's/^/[test:container]   log: /'

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "image size: $(node -e "process.stdout.write((Number(process.argv[1]) / 1e6).toFixed(1))" "$size") MB (goal < 150 MB)"
log "all container checks passed"
