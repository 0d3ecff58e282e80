#!/usr/bin/env bash
# Check-in load against `osiris server` on PostgreSQL and on SQLite, the
# same load generator and data sizes, one after the other (BENCHMARKS.md).
#
#   crates/testing/osiris-loadgen/bench.sh [loadgen arguments...]
#
# Builds both binaries in release, starts each server on a fresh data
# directory with a fresh PostgreSQL database (127.0.0.1:5432, trust auth:
# LOADGEN_PG overrides the server URL), a load admin created offline
# and the appliance quota raised, runs the load generator with the given
# arguments (default: 64 appliances, 10 check-ins of 10 bundles per round,
# 2 rounds) and prints both reports.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/osiris-target}"
# LOADGEN_BIN: a directory holding already-built binaries instead. (Not
# OSIRIS_*: the server reads every OSIRIS_* variable as a setting.)
if [[ -z "${LOADGEN_BIN:-}" ]]; then
    cargo build --release --quiet -p osiris -p osiris-loadgen
fi
bin="${LOADGEN_BIN:-$CARGO_TARGET_DIR/release}"
pg="${LOADGEN_PG:-postgres://postgres@127.0.0.1:5432}"
export OSIRIS_LIMITS__APPLIANCE_REQUESTS=1000000
export LOADGEN_PASSWORD="load-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

run() {
    local backend="$1"
    shift
    local dir port server
    dir="$(mktemp -d)"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if [[ "$backend" == postgres ]]; then
        local db="osiris_load_$$"
        psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
        export OSIRIS_DATABASE__URL="$pg/$db"
    else
        unset OSIRIS_DATABASE__URL
    fi
    "$bin/osiris" admin create-user --data-dir "$dir" --username load --role admin \
        --password-env LOADGEN_PASSWORD >/dev/null
    "$bin/osiris" server --data-dir "$dir" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        [[ -f "$dir/tls/ca.pem" ]] && curl -sf --cacert "$dir/tls/ca.pem" "https://127.0.0.1:$port/health" >/dev/null && break
        if ! kill -0 "$server" 2>/dev/null; then
            cat "$dir/server.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "## $backend"
    "$bin/osiris-loadgen" --url "https://127.0.0.1:$port" --ca-file "$dir/tls/ca.pem" \
        --username load "$@" || status=$?
    kill "$server"
    wait "$server" || true
    rm -rf "$dir"
    return "${status:-0}"
}

run postgres "$@"
run sqlite "$@"
