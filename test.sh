#!/usr/bin/env bash
# The one test command: Rust unit tests, then the PySpark suite against a real `spate serve`
# (which runs every example in examples/ through `spate run`, test_examples.py) and a real
# Kafka-compatible broker (tansu, installed into ~/.cache/spate-tools by .ci/tansu.sh when
# missing: about 10 minutes the first time), and the web UI's browser tests (Debian's chromium,
# which .ci/apt.sh installs, driven by Playwright). Needs ./setup.sh's venv and packages.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spate-target}"
cargo build --bin spate
cargo nextest run --workspace --no-fail-fast
SPATE_TANSU="$(.ci/tansu.sh)"
export SPATE_TANSU
.venv/bin/python -m pytest python/tests -q
