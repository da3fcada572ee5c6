#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 and lets `postgres` connect there
# without a password, as the PostgreSQL tests expect (crates/test-postgres): starts it if it
# is installed and stopped, installs Debian's `postgresql` if it is missing (apt-get; sudo
# when not root), and fails if none answers after that. .ci/run calls it before the tests; a
# developer can run it too:
#
#   bash .ci/postgres.sh && ZEROPASS_REQUIRE_POSTGRES=1 cargo test --workspace
#
# Only a cluster this script installs has its loopback authentication set to `trust`; an
# existing server's configuration is never changed (point ZEROPASS_TEST_POSTGRES_URL at it).
set -euo pipefail

HOST=127.0.0.1
PORT=5432
log() { printf '[postgres.sh] %s\n' "$*" >&2; }
as_root() { if ((EUID)); then sudo "$@"; else "$@"; fi; }

answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT" -t 3
    else
        (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
    fi
}
# wait_until_it_answers SECONDS
wait_until_it_answers() {
    local deadline=$((SECONDS + $1))
    until answers; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# Every Debian cluster that is not online is started; else the service; else nothing.
start_installed() {
    if command -v pg_lsclusters >/dev/null 2>&1 && [[ -n "$(pg_lsclusters -h 2>/dev/null)" ]]; then
        local version cluster port status
        while read -r version cluster port status _; do
            if [[ $status != online* ]]; then
                log "starting cluster $version/$cluster (port $port)"
                as_root pg_ctlcluster "$version" "$cluster" start || log "pg_ctlcluster $version $cluster start failed"
            fi
        done < <(pg_lsclusters -h)
    elif command -v service >/dev/null 2>&1; then
        log "starting the postgresql service"
        as_root service postgresql start || log "service postgresql start failed"
    fi
}

installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 \
        || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Loopback connections without a password, on the clusters just installed.
trust_loopback() {
    local hba
    for hba in /etc/postgresql/*/*/pg_hba.conf; do
        [[ -f $hba ]] || continue
        log "trusting loopback connections in $hba (a test server installed by this script)"
        as_root sed -i -E 's/^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1\/32|::1\/128)[[:space:]]+)[a-z0-9-]+/\1trust/' "$hba"
    done
    local version cluster _rest
    while read -r version cluster _rest; do
        as_root pg_ctlcluster "$version" "$cluster" reload || true
    done < <(pg_lsclusters -h)
}

if answers; then
    log "a server answers on $HOST:$PORT"
else
    if installed; then
        start_installed
    else
        log "PostgreSQL is not installed: installing Debian's postgresql"
        as_root apt-get update -qq
        # The package's own start may fail where no init system runs: started below instead.
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
        start_installed
        wait_until_it_answers 30 && trust_loopback
    fi
    wait_until_it_answers 30 || { log "no PostgreSQL server answers on $HOST:$PORT"; exit 1; }
    log "a server answers on $HOST:$PORT"
fi

# Answering is not enough: the tests connect as postgres without a password.
if command -v psql >/dev/null 2>&1; then
    if ! psql "postgres://postgres@$HOST:$PORT/postgres" -XAtqc 'SELECT 1' >/dev/null 2>&1 </dev/null; then
        log "the server on $HOST:$PORT refuses postgres without a password: allow it (trust on loopback) or set ZEROPASS_TEST_POSTGRES_URL"
        exit 1
    fi
fi
