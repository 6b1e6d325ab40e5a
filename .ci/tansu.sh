#!/usr/bin/env bash
# The Kafka-compatible broker the Kafka tests run against: tansu 0.6.0 (crates.io; a broker
# written in Rust, no JVM), installed into the tools cache when missing (about 10 minutes of
# 2 cores), like the Rust build kept outside the clone. Prints the binary's path.
# Its memory engine answers a wrong high watermark after batched produces: python/tests/
# test_kafka_broker.py checks the broker itself and names the defect.
set -euo pipefail
TOOLS="${SPATE_TOOLS:-$HOME/.cache/spate-tools}"
BIN="$TOOLS/tansu/bin/tansu"
if [ ! -x "$BIN" ]; then
  env -u CARGO_TARGET_DIR cargo install --locked tansu --version 0.6.0 --features dynostore \
    --root "$TOOLS/tansu" >&2
fi
echo "$BIN"
