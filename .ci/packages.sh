#!/usr/bin/env bash
# Debian packages the tests use and fail under CI without, installed with
# apt-get (as root, or through sudo) when missing:
#
# - `chromium` (/usr/bin/chromium): the collector's page tests (tests/pages.rs)
#   load the pages in headless Chromium;
# - `bubblewrap` (/usr/bin/bwrap): the QA runner's tests (tests/runner.rs) run
#   the sandbox in its bwrap mode as well as its namespaces mode.
#
#   bash .ci/packages.sh   # what .ci/run does before `cargo xtask ci`
set -euo pipefail

say() { printf 'packages.sh: %s\n' "$*" >&2; }

declare -A wanted=([chromium]=/usr/bin/chromium [bubblewrap]=/usr/bin/bwrap)
missing=()
for package in "${!wanted[@]}"; do
    [[ -x ${wanted[$package]} ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
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
say "installing Debian's ${missing[*]} with apt-get"
if ! { as_admin apt-get update -q \
    && as_admin env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    say "apt-get install ${missing[*]} failed (the end of its output is above)"
    exit 1
fi
for package in "${missing[@]}"; do
    if [[ ! -x ${wanted[$package]} ]]; then
        say "installed $package, but there is no ${wanted[$package]}"
        exit 1
    fi
done
say "installed ${missing[*]}"
