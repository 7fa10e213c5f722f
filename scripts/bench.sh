#!/usr/bin/env bash
# Runs every benchmark of ccsplc (BENCHMARKS.md says what each figure means):
#   - criterion: EXI codec (ccs-msg, if its benches are present), HomePlug MMEs, V2GTP framing,
#     the charger's in-process CurrentDemand turn (ccs-proto), one whole simulated session
#     (ccs-sim);
#   - the charger's CurrentDemand response time over TCP: loopback, and over a veth pair between
#     two network namespaces when run as root (ccs-linux example `cd_latency`).
# Short warm-up and measurement times keep the whole run under about 10 minutes on 2 cores.
# Benchmarks never run in scripts/test.sh; `cargo clippy --all-targets` keeps them compiling.
#
# Usage: scripts/bench.sh [--quick] [--no-veth]
#   --quick    1 s of measurement per benchmark instead of 3 s, 2,000 requests instead of 10,000
#   --no-veth  skip the namespace measurement
set -euo pipefail
cd "$(dirname "$0")/.."

measure=3
requests=10000
veth=1
for a in "$@"; do
    case "$a" in
        --quick) measure=1; requests=2000 ;;
        --no-veth) veth=0 ;;
        *) echo "unknown option $a" >&2; exit 2 ;;
    esac
done
criterion=(--warm-up-time 1 --measurement-time "$measure" --noplot)

echo "== machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -f crates/ccs-msg/benches/codec.rs ]; then
    echo "== EXI codec (ccs-msg)"
    cargo bench -p ccs-msg --bench codec -- "${criterion[@]}"
else
    echo "== skipping the EXI codec: crates/ccs-msg/benches/codec.rs is not in this tree"
fi

echo "== HomePlug MMEs, V2GTP, the charger's CurrentDemand turn (ccs-proto)"
cargo bench -p ccs-proto --bench wire --bench secc -- "${criterion[@]}"

echo "== one whole simulated session (ccs-sim)"
cargo bench -p ccs-sim --bench session -- "${criterion[@]}"

echo "== CurrentDemand over TCP (ccs-linux example cd_latency)"
cargo build --release -p ccs-linux --example cd_latency
target="${CARGO_TARGET_DIR:-target}"
latency="$target/release/examples/cd_latency"
"$latency" --requests "$requests"

if [ "$veth" = 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "== skipping the veth measurement: needs root (network namespaces)"
        exit 0
    fi
    ev="ccsb_ev_$$"
    evse="ccsb_evse_$$"
    cleanup() {
        ip netns del "$ev" 2>/dev/null || true
        ip netns del "$evse" 2>/dev/null || true
    }
    trap cleanup EXIT
    ip netns add "$ev"
    ip netns add "$evse"
    ip link add ev0 netns "$ev" type veth peer name evse0 netns "$evse"
    ip -n "$ev" link set ev0 up
    ip -n "$evse" link set evse0 up
    # Wait for the link-local addresses to finish duplicate address detection.
    evse_ip=""
    for _ in $(seq 50); do
        evse_ip=$(ip -n "$evse" -6 addr show dev evse0 scope link | awk '/inet6/ && !/tentative/ {print $2}' | cut -d/ -f1)
        ev_ok=$(ip -n "$ev" -6 addr show dev ev0 scope link | awk '/inet6/ && !/tentative/ {print $2}')
        [ -n "$evse_ip" ] && [ -n "$ev_ok" ] && break
        sleep 0.1
    done
    [ -n "$evse_ip" ] || { echo "veth: no link-local address" >&2; exit 1; }
    ip netns exec "$evse" "$latency" --serve evse0 &
    server=$!
    sleep 1
    ip netns exec "$ev" "$latency" --client "$evse_ip%ev0" --requests "$requests"
    wait "$server"
fi
