#!/usr/bin/env bash
# One backup of everything the one-server stack keeps, into one tar file (mode 0600: it holds
# the secrets):   deploy/backup.sh /var/backups/course/$(date +%F).tar
#
#   gradebook.dump, jupyterhub.dump  both databases (pg_dump's custom format), from the running
#                                    stack's PostgreSQL
#   course.tar                       the course folder ($COURSE_DIR): course.yml, assignments,
#                                    the exchange (inbox, receipts), autograded/, feedback/
#   homes.tar                        the students' home volumes (course-home-*): unsubmitted work
#   env/                             the env file(s) of `course env` (COMPOSE_ENV_FILES, else
#                                    deploy/course.env): the jupyterhub database's encrypted
#                                    state needs its JUPYTERHUB_CRYPT_KEY
#
# RabbitMQ's queue is left out: a job still queued is sent again by `course grade`.
# Run it with the environment deploy/compose.sh uses (COURSE_DIR, COURSE_TAG, BASE_TAG, ...).
# Any failed step fails the backup (exit status non-zero, no OUT written); deploy/restore.sh
# reads the file back into a fresh stack.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: deploy/backup.sh OUT.tar}
: "${COURSE_DIR:?set COURSE_DIR (the course folder), as for deploy/compose.sh}"
: "${COURSE_TAG:?set COURSE_TAG, as for deploy/compose.sh}"
say() { echo "[backup] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
compose() { "$here/compose.sh" "$@"; }
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/course-backup.XXXXXX")
trap 'rm -rf "$work" "$out.partial"' EXIT

# env files first: without them the rest cannot be restored
default_env=$(test -f "$here/course.env" && echo "$here/course.env" || true)
IFS=, read -r -a env_files <<< "${COMPOSE_ENV_FILES:-$default_env}"
[ "${#env_files[@]}" -gt 0 ] || fail "no env file: set COMPOSE_ENV_FILES (course env --out ...)"
mkdir "$work/env"
for file in "${env_files[@]}"; do
    [ -s "$file" ] || fail "env file $file is missing or empty"
    cp "$file" "$work/env/$(basename "$file")"
done

for db in gradebook jupyterhub; do
    compose exec -T postgres pg_dump --host=/tmp --username=course --format=custom "$db" \
        > "$work/$db.dump" || fail "pg_dump $db"
    [ "$(head -c 5 "$work/$db.dump")" = PGDMP ] || fail "$db: the dump is empty or not pg_dump's"
    say "$db: $(stat -c %s "$work/$db.dump") bytes"
done

[ -f "$COURSE_DIR/course.yml" ] || fail "$COURSE_DIR/course.yml not found: is COURSE_DIR right?"
tar --numeric-owner -C "$COURSE_DIR" -cf "$work/course.tar" .
say "course folder $COURSE_DIR: $(tar -tf "$work/course.tar" | wc -l) entries"

volumes=$(docker volume ls -q)  # DockerSpawner's, not compose's: course-home-<user>
mounts=()
for volume in $volumes; do
    [[ $volume == course-home-* ]] && mounts+=(-v "$volume:/homes/$volume:ro")
done
if [ "${#mounts[@]}" -gt 0 ]; then
    docker run --rm --network none "${mounts[@]}" --entrypoint tar "course-hub:$COURSE_TAG" \
        --numeric-owner -C /homes -cf - . > "$work/homes.tar"
    [ -s "$work/homes.tar" ] || fail "home volumes: empty archive"
fi
say "home volumes: $(( ${#mounts[@]} / 2 ))"

printf 'written %s\nCOURSE_TAG=%s\nBASE_TAG=%s\n' "$(date -u +%FT%TZ)" "$COURSE_TAG" \
    "${BASE_TAG:-}" > "$work/MANIFEST"
tar -C "$work" -cf "$out.partial" .
mv "$out.partial" "$out"
say "wrote $out ($(stat -c %s "$out") bytes)"
