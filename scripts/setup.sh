#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain. Idempotent: does nothing when
# everything is present. Needs root for system packages (the CI machine runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# (filled in as capabilities need them: mosquitto for the MQTT tests, iproute2 for namespaces, ...)
# MQTT adapter tests (ccs-io) start their own mosquitto broker on a free loopback port.
command -v mosquitto >/dev/null 2>&1 || need_apt+=(mosquitto)
# The dashboard's browser test (crates/ccsplc/tests/dashboard_browser.rs) drives headless
# Chromium through chromedriver (WebDriver).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
