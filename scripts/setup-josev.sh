#!/usr/bin/env bash
# Installs Josev (the Python package `iso15118` 0.31.2, SwitchEV/EcoG) into .venv/josev, the
# interop peer of reference/ecosystem.md §5.1. Idempotent: does nothing when the right version
# is installed. Josev's EXI codec is a Java jar, so a Java runtime (>= 11) must be present;
# scripts/setup.sh installs one.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv/josev
want=0.31.2

if ! command -v java >/dev/null 2>&1; then
    echo "setup-josev: no Java runtime (java -version); install openjdk-17-jre-headless" >&2
    exit 1
fi

if [ -x "$venv/bin/python" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("iso15118"))' 2>/dev/null)" = "$want" ]; then
    exit 0
fi

echo "== installing Josev (iso15118==$want) into $venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "iso15118==$want" aiofile
# The EVCC imports aiofile without declaring it; the SECC needs neither more nor less.
"$venv/bin/python" -c 'import iso15118.secc.main' >/dev/null
