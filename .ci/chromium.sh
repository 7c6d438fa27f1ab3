#!/usr/bin/env bash
# Headless Chromium for the collector's page tests (tests/pages.rs), which
# fail under CI without it: installs Debian's `chromium` with apt-get when
# /usr/bin/chromium is missing (as root, or through sudo), and does nothing
# otherwise.
#
#   bash .ci/chromium.sh   # what .ci/run does before `cargo xtask ci`
set -euo pipefail

say() { printf 'chromium.sh: %s\n' "$*" >&2; }

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

as_admin() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif ! command -v sudo >/dev/null; then
        say "not root and no sudo: cannot run $*"
        exit 1
    elif [[ -t 0 ]]; then
        sudo "$@"
    else
        sudo -n "$@"
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
say "installing Debian's chromium with apt-get"
if ! { as_admin apt-get update -q \
    && as_admin env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    say "apt-get install chromium failed (the end of its output is above)"
    exit 1
fi
if [[ ! -x /usr/bin/chromium ]]; then
    say "installed chromium, but there is no /usr/bin/chromium"
    exit 1
fi
say "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
