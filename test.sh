#!/usr/bin/env bash
# The one test command: Rust unit tests, then the PySpark suite against a real `spate serve`
# (which runs every example in examples/ through `spate run`, test_examples.py).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spate-target}"
cargo build --bin spate
cargo nextest run --workspace --no-fail-fast
.venv/bin/python -m pytest python/tests -q
