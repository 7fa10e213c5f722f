#!/usr/bin/env bash
# Footprint of ccsplc: release binary size (as built, and stripped) and peak resident memory
# (VmHWM, from /usr/bin/time -v) during whole sessions. BENCHMARKS.md has the figures.
#
#   - `ccsplc sim`: car and charger, modems, powerline and physics in one process;
#   - `ccsplc evse` and `ccsplc ev`, one process each, in two network namespaces joined by a
#     veth pair (`--no-slac`), a real DIN session from SDP to SessionStop (needs root); plain,
#     with a long charge, and with the dashboard and a capture on both sides.
#
# Usage: scripts/footprint.sh [--no-veth]
set -euo pipefail
cd "$(dirname "$0")/.."

veth=1
for a in "$@"; do
    case "$a" in
        --no-veth) veth=0 ;;
        *) echo "unknown option $a" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p ccsplc
bin="$target/release/ccsplc"
stripped="$(mktemp)"
work="$(mktemp -d)"
ev_ns="ccsf_ev_$$"
evse_ns="ccsf_evse_$$"
cleanup() {
    rm -rf "$stripped" "$work"
    ip netns del "$ev_ns" 2>/dev/null || true
    ip netns del "$evse_ns" 2>/dev/null || true
}
trap cleanup EXIT
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

[ "$veth" = 1 ] || exit 0
if [ "$(id -u)" != 0 ]; then
    echo "== skipping ccsplc ev / evse over a veth pair: needs root (network namespaces)"
    exit 0
fi

ip netns add "$ev_ns"
ip netns add "$evse_ns"
ip -n "$ev_ns" link set lo up
ip -n "$evse_ns" link set lo up
ip link add ev0 netns "$ev_ns" type veth peer name evse0 netns "$evse_ns"
ip -n "$ev_ns" link set ev0 up
ip -n "$evse_ns" link set evse0 up

# kB of "Maximum resident set size" and the exit status in a GNU time report.
report() {
    printf '%s kB, exit %s' \
        "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$1")" \
        "$(awk -F': ' '/Exit status/ {print $2}' "$1")"
}

# One session: `ccsplc evse --once` and `ccsplc ev`, each under GNU time in its namespace.
session() {
    local label="$1" charge="$2" extra_evse="$3" extra_ev="$4"
    ip netns exec "$evse_ns" /usr/bin/time -v -o "$work/evse.time" \
        "$bin" evse --interface evse0 --no-slac --once $extra_evse >"$work/evse.log" 2>&1 &
    local evse_pid=$!
    ip netns exec "$ev_ns" /usr/bin/time -v -o "$work/ev.time" \
        "$bin" ev --interface ev0 --no-slac --charge-seconds "$charge" $extra_ev \
        >"$work/ev.log" 2>&1 || true
    wait "$evse_pid" || true
    local demands
    demands=$(grep -o '[0-9]* CurrentDemand' "$work/ev.log" | tail -1)
    printf '  %-44s evse %-22s ev %-22s (%s)\n' "$label" "$(report "$work/evse.time")" \
        "$(report "$work/ev.time")" "${demands:-no CurrentDemand}"
}

echo "== peak resident memory (VmHWM) of ccsplc evse and ccsplc ev, one DIN session over a veth pair"
session "--no-slac --charge-seconds 10" 10 "" ""
session "--no-slac --charge-seconds 120" 120 "" ""
session "... 10 s, --web and --pcap on both" 10 \
    "--web 127.0.0.1:0 --pcap $work/evse.pcapng" "--web 127.0.0.1:0 --pcap $work/ev.pcapng"
