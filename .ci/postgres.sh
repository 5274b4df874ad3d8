# Sourced by .ci/run before `cargo test`: a throwaway PostgreSQL cluster for
# tests/it/ship.rs and the bench report's ship scenario. It installs Debian's postgresql if it is
# missing, runs initdb in a temporary directory as the `postgres` user (initdb
# refuses root), listens only on a private Unix socket directory and a private
# localhost port, and is stopped and removed when the sourcing shell exits.
#
# Exports:
#   CONVLOG_TEST_PG_URL   postgres://postgres@localhost:PORT/postgres (trust auth
#                         for the socket and localhost, a password for the
#                         `convlog_pw` role the bad-credentials test uses)
#   CONVLOG_TEST_PG_BIN   the directory holding initdb, pg_ctl and postgres
#   CONVLOG_TEST_PG_RUNAS the user to run them as (empty when not root)
# The restart test starts its own cluster from these, so restarting it
# disturbs no other test.

convlog_pg_setup() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    local runas=""
    if [ "$(id -u)" = 0 ]; then
        runas=postgres
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    fi
    local dir
    dir=$(mktemp -d /tmp/convlog-pg.XXXXXX)
    chmod 0755 "$dir"
    [ -n "$runas" ] && chown "$runas" "$dir"
    local port=$(( 20000 + RANDOM % 20000 ))
    local as=()
    [ -n "$runas" ] && as=(runuser -u "$runas" --)
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-k $dir -p $port -c listen_addresses=localhost -c fsync=off -c max_connections=200" start >/dev/null
    # The bad-credentials test needs password authentication for one role.
    "${as[@]}" "$bin/psql" -h "$dir" -p "$port" -U postgres -q -c "CREATE ROLE convlog_pw LOGIN PASSWORD 'right-password'" >/dev/null
    sed -i '1i host all convlog_pw 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" reload >/dev/null
    export CONVLOG_TEST_PG_URL="postgres://postgres@localhost:$port/postgres"
    export CONVLOG_TEST_PG_BIN="$bin"
    export CONVLOG_TEST_PG_RUNAS="$runas"
    export CONVLOG_PG_DIR="$dir"
    export PATH="$bin:$PATH"
    # shellcheck disable=SC2064
    trap "${as[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port ($dir)"
}
convlog_pg_setup
