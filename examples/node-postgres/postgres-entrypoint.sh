#!/bin/sh
# The postgres image's entrypoint (make-images.sh puts it at
# /usr/local/bin/docker-entrypoint.sh): what the official image's does, minimally.
# As root it prepares $PGDATA and the socket directory, then runs itself again as the
# postgres user. An empty $PGDATA is made into a cluster from POSTGRES_USER (default
# postgres), POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
# POSTGRES_DB (default $POSTGRES_USER), POSTGRES_INITDB_ARGS and POSTGRES_HOST_AUTH_METHOD
# (default scram-sha-256), listening on every address. Not done: *_FILE variables and
# /docker-entrypoint-initdb.d scripts.
set -eu

# `docker run postgres -c shared_buffers=256MB` means postgres with those options.
if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    chmod 3777 /run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one)
MSG
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as upstream's
    initdb --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        # Single-user mode (no server, no socket): the database is made before anyone can
        # connect. The name is an identifier: quoted, its quotes doubled.
        quoted=$(printf '%s' "$db" | sed 's/"/""/g')
        echo "CREATE DATABASE \"$quoted\";" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo
    echo "PostgreSQL init process complete; ready for start up."
    echo
fi

exec "$@"
