#!/usr/bin/env bash
# Build the course's images from Debian packages (no Docker Hub): `make images [TF=gpu]`.
#
#   deploy/build-images.sh [cpu|gpu|none]
#
# course-base:<debian-hash>    Debian bookworm minbase from the apt source of this machine
# course-deps:<lock>-<tf>      + the locked Python environment (built once, shared below)
# course-singleuser:<lock>-<tf>, course-hub:<lock>-<tf>, course-worker:<lock>-<tf>
# course-postgres:<debian-hash>, course-rabbitmq:<debian-hash> (Debian's own packages)
#
# <lock> is the first 12 hex digits of sha256(pyproject.toml + uv.lock): an image tag names
# exactly the environment inside it. TF=none leaves TensorFlow out (the tests' stack).
# Prints the images it built, one per line, as NAME=NAME:TAG, then COURSE_TAG= and BASE_TAG=
# (what deploy/compose/compose.yml reads). Needs docker, uv, deploy/node's `npm ci` and, once,
# mmdebstrap.
set -euo pipefail
TF=${1:-${TF:-cpu}}
case "$TF" in cpu|gpu|none) ;; *) echo "TF must be cpu, gpu or none, not '$TF'" >&2; exit 2;; esac
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES="python3,ca-certificates,bubblewrap,tini,procps"
LOCK=$(cat pyproject.toml uv.lock | sha256sum | cut -c1-12)
DEBIAN=$(printf 'bookworm %s %s\n' "$MIRROR" "$BASE_PACKAGES" | sha256sum | cut -c1-12)
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed
log() { echo "[build-images] $*" >&2; }

base="course-base:$DEBIAN"
if ! docker image inspect "$base" >/dev/null 2>&1; then
    log "bootstrapping $base from $MIRROR (mmdebstrap, about 90 s)"
    mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" bookworm - "$MIRROR" \
        | docker import --change 'ENV LANG=C.UTF-8' - "$base" >/dev/null
fi

# the build context: src/ holds the tracked and not-ignored files (no .venv, caches); beside
# it the build's own tools, which the images' COPY src/ leaves out
CHP_MODULES=deploy/node/node_modules
if [ ! -x "$CHP_MODULES/.bin/configurable-http-proxy" ]; then
    echo "$CHP_MODULES is missing: npm ci --prefix deploy/node (make images does it)" >&2
    exit 2
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir "$context/src"
# (a tracked file deleted in the working tree is left out, and is no error)
git ls-files --cached --others --exclude-standard -z \
    | xargs -0 -r sh -c 'for f; do if [ -e "$f" ]; then printf "%s\n" "$f"; fi; done' sh \
    | tar -c -T - | tar -x -C "$context/src"
# never a deployment's secrets in an image: `course env` files, wherever they were written
secrets=$(grep -rlE --null '^# written by `course env`' "$context/src" | tr '\0' ' ' || true)
if [ -n "$secrets" ]; then
    echo "refusing to build: secrets of \`course env\` in the build context: ${secrets//$context\/src\//}" >&2
    echo "move them out of the repository (or under deploy/*.env, which git ignores)" >&2
    exit 2
fi
cp -r "$CHP_MODULES" "$context/node_modules"
cp "$(command -v uv || echo "$HOME/.local/bin/uv")" "$context/uv"
# the CA bundle of this machine (a TLS-inspecting proxy's CA, where there is one): downloads
cp "${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$context/build-ca.crt"

build() {  # name tag dockerfile build-args...
    local name=$1 tag=$2 file=$3; shift 3
    log "building $name:$tag"
    docker build --quiet -f "deploy/images/$file" "$@" -t "$name:$tag" "$context" >/dev/null
    echo "$name=$name:$tag"
}
# Debian's services beside the Python environment: apt downloads while uv compiles
services=()
for image in postgres rabbitmq; do
    build "course-$image" "$DEBIAN" "$image.Dockerfile" --build-arg BASE="$base" \
        > "$context/$image.built" &
    services+=($!)
done
deps_tag="$LOCK-$TF"
build course-deps "$deps_tag" deps.Dockerfile --build-arg BASE="$base" --build-arg TF="$TF"
for image in singleuser hub worker; do
    build "course-$image" "$deps_tag" "$image.Dockerfile" --build-arg DEPS="course-deps:$deps_tag"
done
for pid in "${services[@]}"; do
    wait "$pid"
done
cat "$context/postgres.built" "$context/rabbitmq.built"
echo "COURSE_TAG=$deps_tag"
echo "BASE_TAG=$DEBIAN"
