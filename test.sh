#!/usr/bin/env bash
# The one test command: Rust unit tests, then the PySpark suite against a real `spate serve`,
# then the batch example through `spate run`.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spate-target}"
cargo build --bin spate
cargo nextest run --workspace --no-fail-fast
.venv/bin/python -m pytest python/tests -q
out=$(mktemp -d)
SPATE_PYTHON=.venv/bin/python "$CARGO_TARGET_DIR/debug/spate" run examples/crypto_indicators.py "$out/daily" | tail -3
rm -rf "$out"
