#!/usr/bin/env bash
# Footprint of ccsplc: release binary size (as built, and stripped) and peak resident memory
# (VmHWM, from /usr/bin/time -v) during a whole session. BENCHMARKS.md has the figures.
#
# Until `ccsplc ev` / `ccsplc evse` run on real interfaces, the session measured is
# `ccsplc sim`: car and charger, modems, powerline and physics in one process, so its peak is
# an upper bound for either side alone.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p ccsplc
bin="$target/release/ccsplc"
stripped="$(mktemp)"
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"

echo "== binary"
printf '  %-28s %10d bytes (%.2f MB)\n' "release, as built" "$(stat -c %s "$bin")" \
    "$(echo "$(stat -c %s "$bin") / 1000000" | bc -l)"
printf '  %-28s %10d bytes (%.2f MB)\n' "release, stripped" "$(stat -c %s "$stripped")" \
    "$(echo "$(stat -c %s "$stripped") / 1000000" | bc -l)"
size "$stripped" | sed 's/^/  /'

peak() {
    # Peak RSS in kB of the command, from GNU time's report; the command's output is dropped.
    local report
    report="$(mktemp)"
    /usr/bin/time -v -o "$report" "$@" >/dev/null 2>&1 || true
    awk -F': ' '/Maximum resident set size/ {print $2}' "$report"
    awk -F': ' '/Exit status/ {print "    exit status " $2}' "$report" >&2
    rm -f "$report"
}

echo "== peak resident memory (VmHWM) of a whole session"
for args in "sim --seed 1" "sim --seed 1 --no-slac" "sim --seed 1 --charge-seconds 600"; do
    kb=$(peak "$bin" $args)
    printf '  ccsplc %-36s %6d kB (%.1f MB)\n' "$args" "$kb" "$(echo "$kb / 1024" | bc -l)"
done
