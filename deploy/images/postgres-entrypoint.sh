#!/bin/sh
# First start: a cluster whose users sign in with passwords over TCP, and the course's two
# databases. The marker is written last, so an interrupted first start begins again.
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (course env writes it)}"
if [ ! -e "$PGDATA/.course-initialized" ]; then
    rm -rf "$PGDATA"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    # local: the socket in /tmp of this container only; TCP: passwords
    initdb --username=course --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start \
        >/dev/null
    for db in gradebook jupyterhub; do
        psql --host=/tmp --username=course --dbname=postgres -q -c "CREATE DATABASE $db"
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    touch "$PGDATA/.course-initialized"
fi
exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp
