#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the main job: installs the system packages Spate
# builds with, a Python venv with the pinned PySpark client, builds `spate`, generates the
# examples' data and runs seed 001's pipeline through `spate run`.
set -euo pipefail
cd "$(dirname "$0")"
.ci/apt.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r python/requirements.txt
.venv/bin/pip install -q --no-deps -r python/requirements-no-deps.txt
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spate-target}"
cargo build --bin spate
.venv/bin/python examples/generate_data.py examples/data
SPATE_PYTHON=.venv/bin/python "$CARGO_TARGET_DIR/debug/spate" run examples/crypto_indicators.py examples/data examples/out/crypto
