#!/usr/bin/env bash
# Restore a backup of deploy/backup.sh into a fresh stack:
#
#   deploy/compose.sh down --volumes       # or a new server: images built, nothing running
#   deploy/restore.sh /var/backups/course/2027-01-10.tar
#   deploy/compose.sh up --wait
#
# It starts PostgreSQL alone (a plain `up` would first migrate the empty gradebook), loads
# both databases into the empty ones its first start creates, unpacks the course folder into
# an empty $COURSE_DIR and the home volumes that do not exist yet (an existing one may hold
# newer work: it is kept, and said so; `docker volume rm` it first to take the backup's). The
# env file is written where deploy/compose.sh reads it if there is none; one that differs from
# the backup's is refused (the jupyterhub database's encrypted state needs the backup's key).
# Any failed step stops it with a non-zero exit status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
in=${1:?usage: deploy/restore.sh IN.tar}
: "${COURSE_DIR:?set COURSE_DIR (the course folder), as for deploy/compose.sh}"
: "${COURSE_TAG:?set COURSE_TAG, as for deploy/compose.sh}"
say() { echo "[restore] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
compose() { "$here/compose.sh" "$@"; }
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/course-restore.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$in"
for part in MANIFEST gradebook.dump jupyterhub.dump course.tar; do
    [ -s "$work/$part" ] || fail "$in has no $part: not a backup of deploy/backup.sh"
done
say "backup: $(tr '\n' ' ' < "$work/MANIFEST")"

IFS=, read -r -a env_files <<< "${COMPOSE_ENV_FILES:-$here/course.env}"
for file in "${env_files[@]}"; do
    saved="$work/env/$(basename "$file")"
    [ -f "$saved" ] || fail "the backup has no $(basename "$file")"
    if [ ! -e "$file" ]; then
        install -m 0600 "$saved" "$file"
        say "wrote $file from the backup"
    elif ! cmp -s "$file" "$saved"; then
        fail "$file differs from the backup's: move it away to restore the backup's secrets"
    fi
done
export COMPOSE_ENV_FILES
COMPOSE_ENV_FILES=$(IFS=,; echo "${env_files[*]}")

running=$(compose ps --status running --services)
[ -z "$(grep -vx postgres <<< "$running" || true)" ] \
    || fail "services are running ($(echo $running)): deploy/compose.sh down --volumes first"
mkdir -p "$COURSE_DIR"
[ -z "$(ls -A "$COURSE_DIR")" ] || fail "$COURSE_DIR is not empty: restore into an empty folder"

compose up --detach --wait --no-deps postgres
for db in gradebook jupyterhub; do
    tables=$(compose exec -T postgres psql --host=/tmp --username=course --dbname="$db" \
        --tuples-only --no-align -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    [ "$tables" = 0 ] || fail "database $db is not empty ($tables tables): down --volumes first"
    compose exec -T postgres pg_restore --host=/tmp --username=course --dbname="$db" \
        --no-owner --exit-on-error --single-transaction < "$work/$db.dump" \
        || fail "pg_restore $db"
    say "$db restored"
done

tar --numeric-owner -C "$COURSE_DIR" -xpf "$work/course.tar"
say "course folder $COURSE_DIR restored"

if [ -s "$work/homes.tar" ]; then
    existing=" $(docker volume ls -q | tr '\n' ' ') "
    mounts=() members=()
    for volume in $(tar -tf "$work/homes.tar" | awk -F/ 'NF > 2 { print $2 }' | sort -u); do
        if [[ $existing == *" $volume "* ]]; then
            say "kept $volume: it exists (docker volume rm it to take the backup's)"
            continue
        fi
        mounts+=(-v "$volume:/homes/$volume")
        members+=("./$volume")
    done
    if [ "${#members[@]}" -gt 0 ]; then
        docker run --rm -i --network none "${mounts[@]}" --entrypoint tar \
            "course-hub:$COURSE_TAG" --numeric-owner -C /homes -xpf - "${members[@]}" \
            < "$work/homes.tar"
    fi
    say "home volumes restored: ${#members[@]}"
fi
say "done: now deploy/compose.sh up --wait"
