#!/bin/sh
# COMMAND... for every course of the stack (deploy/compose/courses.yml): each name in $COURSES
# (comma-separated) is a folder /srv/course/<name> (COURSE_DIR/<name> on the host) holding the
# course file of the course of that id. Runs COMMAND with `--course /srv/course/<name>/course.yml`
# appended once per course, and $COURSE_EXCHANGE_STAFF_SERVICES naming each course's formgrader
# for its own course only (the exchange reads it; the hub names its formgraders formgrader-<id>).
set -eu
: "${COURSES:?set COURSES to the course folders in COURSE_DIR, comma-separated (deploy/README.md)}"
staff=""
for name in $(printf '%s' "$COURSES" | tr ',' ' '); do
    case "$name" in
        [A-Za-z0-9]*) ;;
        *) echo "COURSES: '$name' is not a course id" >&2; exit 2 ;;
    esac
    case "$name" in
        *[!A-Za-z0-9_-]*) echo "COURSES: '$name' is not a course id" >&2; exit 2 ;;
    esac
    set -- "$@" --course "/srv/course/$name/course.yml"
    staff="${staff:+$staff,}formgrader-$name=$name"
done
if [ -z "$staff" ]; then
    echo "COURSES names no course" >&2
    exit 2
fi
export COURSE_EXCHANGE_STAFF_SERVICES="$staff"
exec "$@"
