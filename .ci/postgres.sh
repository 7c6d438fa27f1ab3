#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, and TELEMETRY_TEST_DATABASE_URL
# pointing at its `telemetry_test` database.
#
#   source .ci/postgres.sh && cargo xtask ci   # what .ci/run does
#   bash .ci/postgres.sh                       # start it and leave it running;
#                                              # prints the `export` line to use
#
# With TELEMETRY_TEST_DATABASE_URL already set it does nothing. Otherwise it
# takes the newest /usr/lib/postgresql/*/bin (installing Debian's `postgresql`
# with apt-get when there is none), runs a cluster of its own as a non-root
# user (the system user `telemetry-ci`, created when running as root; the
# current user otherwise) in target/ci-postgres (or under $TMPDIR when that
# user cannot reach the clone), with trust authentication on loopback only,
# listening on 127.0.0.1 at the first free port from 55432 and on a unix
# socket in that directory. A second run reuses the running cluster, or
# starts the stopped one again. When sourced, the cluster it started is
# stopped when the sourcing shell exits (an EXIT trap).
#
# The work runs in a child `bash` under `set -euo pipefail` (this file, with
# --for-source), so the sourcing shell's own options are left as they were.

_telemetry_pg_setup() {
    shopt -s nullglob

    say() { printf 'postgres.sh: %s\n' "$*" >&2; }
    die() { say "$*"; exit 1; }

    local root user as_root=0
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [[ $(id -u) -eq 0 ]]; then
        as_root=1
        user=telemetry-ci
    else
        user=$(id -un)
    fi

    as_user() {
        if [[ $as_root -eq 1 ]]; then
            runuser -u "$user" -- "$@"
        else
            "$@"
        fi
    }

    as_admin() {
        if [[ $as_root -eq 1 ]]; then
            "$@"
        elif ! command -v sudo >/dev/null; then
            die "not root and no sudo: cannot run $*"
        elif [[ -t 0 ]]; then
            sudo "$@"
        else
            sudo -n "$@"
        fi
    }

    newest_bin() {
        local found=(/usr/lib/postgresql/*/bin/initdb)
        (( ${#found[@]} > 0 )) || return 1
        dirname "$(printf '%s\n' "${found[@]}" | sort -V | tail -n 1)"
    }

    local did=() bin
    if ! bin=$(newest_bin); then
        local log
        log=$(mktemp)
        local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql)
        if ! as_admin "${apt[@]}" >"$log" 2>&1; then
            if ! { as_admin apt-get update -q && as_admin "${apt[@]}"; } >>"$log" 2>&1; then
                tail -n 30 "$log" >&2
                die "apt-get install postgresql failed (the end of its output is above)"
            fi
        fi
        rm -f "$log"
        bin=$(newest_bin) || die "installed postgresql, but found no /usr/lib/postgresql/*/bin/initdb"
        did+=("installed Debian's postgresql with apt-get")
    fi
    local version
    version=$(basename "$(dirname "$bin")")

    if [[ $as_root -eq 1 ]] && ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" \
            || die "could not create the system user $user"
        did+=("created system user $user")
    fi

    # Under the clone's target/ when the user can reach it and the socket's
    # path stays well within the 107 bytes allowed, else under $TMPDIR.
    local base="$root/target/ci-postgres"
    mkdir -p "$root/target"
    if (( ${#base} > 90 )) || ! as_user test -x "$root/target"; then
        local tag
        tag=$(printf '%s' "$root" | cksum | cut -d ' ' -f 1)
        base="${TMPDIR:-/tmp}/telemetry-ci-postgres-$(id -u "$user")-$tag"
    fi
    local data="$base/data" logfile="$base/postgres.log"
    mkdir -p "$base"
    touch "$logfile"
    if [[ $as_root -eq 1 && $(stat -c %U "$base") != "$user" ]]; then
        chown -R "$user:" "$base"
    fi
    chown "$user:" "$logfile"
    chmod 0700 "$base"
    [[ $(stat -c %U "$base") == "$user" ]] || die "$base is not owned by $user"

    if [[ -f $data/PG_VERSION && $(cat "$data/PG_VERSION") != "$version" ]]; then
        local old
        old=$(cat "$data/PG_VERSION")
        as_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$data"
        did+=("removed the PostgreSQL $old cluster")
    fi
    if [[ ! -f $data/PG_VERSION ]]; then
        rm -rf "$data"
        as_user "$bin/initdb" -D "$data" -U "$user" --no-locale --encoding=UTF8 --auth=trust \
            >>"$logfile" 2>&1 || { tail -n 20 "$logfile" >&2; die "initdb failed (log: $logfile)"; }
        cat >"$data/pg_hba.conf" <<HBA
# Trust, on loopback only; the socket is in a directory that only $user can enter.
local all all trust
host all all 127.0.0.1/32 trust
HBA
        cat >>"$data/postgresql.conf" <<CONF

# .ci/postgres.sh: loopback and a private socket; the port is given at each start.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
CONF
        did+=("initialised a cluster in $data")
    fi

    local port started=0
    stop_on_failure() {
        local status=$?
        if [[ $status -ne 0 && $started -eq 1 ]]; then
            as_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        return "$status"
    }
    trap stop_on_failure EXIT

    if as_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        port=$(sed -n 4p "$data/postmaster.pid")
        did+=("reused the cluster already running in $data")
    else
        for port in $(seq 55432 55531); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                continue
            fi
            local seen
            seen=$(stat -c %s "$logfile")
            if as_user "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
                started=1
                break
            fi
            if ! tail -c "+$((seen + 1))" "$logfile" | grep -q -i 'could not bind\|address already in use'; then
                tail -n 20 "$logfile" >&2
                die "pg_ctl start failed (log: $logfile)"
            fi
        done
        [[ $started -eq 1 ]] || die "no free port in 55432-55531 (log: $logfile)"
        did+=("started it on 127.0.0.1:$port")
    fi

    local tries=0
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        (( ++tries < 60 )) || die "PostgreSQL on port $port is not ready after 30 s (log: $logfile)"
        sleep 0.5
    done

    local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$user" -d postgres)
    if [[ -z $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'telemetry_test'") ]]; then
        "${psql[@]}" -c 'CREATE DATABASE telemetry_test' || die "could not create database telemetry_test"
        did+=("created database telemetry_test")
    fi

    local url="postgres://$user@127.0.0.1:$port/telemetry_test" summary=${did[0]} step
    for step in "${did[@]:1}"; do
        summary+="; $step"
    done
    say "PostgreSQL $version as $user: $summary; TELEMETRY_TEST_DATABASE_URL=$url"
    if [[ ${1:-} == --for-source ]]; then
        # The URL, then what stops the cluster when this run started it.
        printf '%s\n' "$url"
        if [[ $started -eq 1 ]]; then
            printf '%s\n%s\n' "$bin/pg_ctl" "$data"
        fi
    else
        if [[ $started -eq 1 ]]; then
            local stop="$bin/pg_ctl -D $data -m fast stop"
            [[ $as_root -eq 0 ]] || stop="runuser -u $user -- $stop"
            say "it keeps running; stop it with: $stop"
        fi
        printf 'export TELEMETRY_TEST_DATABASE_URL=%s\n' "$url"
    fi
    trap - EXIT
}

# Stops the cluster that this shell's _telemetry_pg_setup started, if it did.
_telemetry_pg_stop() {
    local pg_ctl=${_TELEMETRY_PG_CTL:-} data=${_TELEMETRY_PG_DATA:-}
    [[ -n $pg_ctl && -d $data ]] || return 0
    unset _TELEMETRY_PG_CTL _TELEMETRY_PG_DATA
    local stop=("$pg_ctl" -D "$data" -m fast -w stop)
    if [[ $(id -u) -eq 0 ]]; then
        stop=(runuser -u "$(stat -c %U "$data")" -- "${stop[@]}")
    fi
    if "${stop[@]}" >/dev/null 2>&1; then
        printf 'postgres.sh: stopped the cluster in %s\n' "$data" >&2
    else
        printf 'postgres.sh: could not stop the cluster in %s\n' "$data" >&2
    fi
}

if [[ -n ${TELEMETRY_TEST_DATABASE_URL:-} ]]; then
    printf 'postgres.sh: TELEMETRY_TEST_DATABASE_URL is already set; started nothing\n' >&2
elif [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    _telemetry_pg_setup "$@"
elif _telemetry_pg_out=$(bash "${BASH_SOURCE[0]}" --for-source); then
    {
        read -r TELEMETRY_TEST_DATABASE_URL
        read -r _TELEMETRY_PG_CTL || true
        read -r _TELEMETRY_PG_DATA || true
    } <<<"$_telemetry_pg_out"
    unset _telemetry_pg_out
    export TELEMETRY_TEST_DATABASE_URL
    trap _telemetry_pg_stop EXIT
else
    unset _telemetry_pg_out
    return 1
fi
