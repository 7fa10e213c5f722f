#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain. Idempotent: does nothing when
# everything is present. Needs root for system packages (the CI machine runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# (filled in as capabilities need them: mosquitto for the MQTT tests, ...)

# Adds Debian package $1 to the install list unless dpkg says it is installed.
need_package() {
    if ! dpkg -s "$1" >/dev/null 2>&1; then
        need_apt+=("$1")
    fi
}

# ccs-linux: the openssl crate links the system OpenSSL (found through pkg-config); we do not
# use its `vendored` feature, which would compile OpenSSL from C on every clean build.
need_package libssl-dev
need_package pkg-config
# ccs-linux namespace tests: `ip netns`, veth pairs (iproute2); TAP devices need /dev/net/tun,
# which the kernel provides.
need_package iproute2
# ccs-linux Josev interop test: Josev's EXI codec runs on a JVM; its venv needs ensurepip.
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# MQTT adapter tests (ccs-io) start their own mosquitto broker on a free loopback port.
command -v mosquitto >/dev/null 2>&1 || need_apt+=(mosquitto)
# The dashboard's browser test (crates/ccsplc/tests/dashboard_browser.rs) drives headless
# Chromium through chromedriver (WebDriver).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# Session recordings (crates/ccsplc/tests/recording.rs): tshark must decrypt a TLS session's
# pcapng with the keys inside the file; tcpdump writes the Linux cooked captures the decoder
# must read.
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# Josev (pip package iso15118 0.31.2) in .venv/josev for the interop tests (idempotent).
scripts/setup-josev.sh
