#!/usr/bin/env bash
# One command for the benchmark report: sets up what the engines need, builds Spate in release,
# then runs bench/run.py with the given arguments (e.g. --sf 1 --engines spate,spark,sail).
#   bench/.venv        pyspark-client, pysail, tpchgen-cli, psutil, matplotlib (pinned)
#   $SPARK_VENV        full pyspark 4.0.1 for the Spark server (default bench/.venv-spark)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spate-target}"
VENV=bench/.venv
SPARK_VENV="${SPARK_VENV:-bench/.venv-spark}"
if [ ! -x "$VENV/bin/sail" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r bench/requirements.txt
fi
if [ ! -x "$SPARK_VENV/bin/python" ] || ! "$SPARK_VENV/bin/python" -c "import pyspark" 2>/dev/null; then
  python3 -m venv "$SPARK_VENV"
  "$SPARK_VENV/bin/pip" install -q "pyspark[connect]==4.0.1"
fi
cargo build --release -q -p spate-cli
exec "$VENV/bin/python" bench/run.py --spark-python "$SPARK_VENV/bin/python" "$@"
