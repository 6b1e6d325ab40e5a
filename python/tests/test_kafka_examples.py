"""The seeds' Kafka code as written (examples/ecommerce_kafka.py: seed 000's Layers 1-4 and its
complete production pipeline; examples/crypto_kafka.py: seed 001's Kafka stream) run with
`spate run` against the test broker, with only the broker address and paths changed.

The seeds start at the latest offsets, as production pipelines do, so the test runs each
example twice around a produce, as a deployment would: the first half of the generated data is
in the topics before the first run, which records where the topics end and reads none of it;
the second half is produced after it, and the second run (from the checkpoints) must give
exactly what an independent computation over that second half gives."""

import json
import os
import subprocess
import sys

from conftest import ROOT, spate_binary
from test_examples import check_crypto_bars, check_ecommerce_stream, data, read  # noqa: F401 - `data` is a fixture

EXAMPLES = ROOT / "examples"


def produce(kafka, data, part):
    subprocess.run([sys.executable, str(EXAMPLES / "produce_to_kafka.py"), kafka, str(data), part], check=True)


def run(name, warehouse, *args):
    proc = subprocess.run(
        [spate_binary(), "run", "--warehouse", str(warehouse), str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SPATE_PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_the_seeds_kafka_pipelines(kafka, data, tmp_path, spark):
    warehouse, out = tmp_path / "warehouse", tmp_path / "out"
    produce(kafka, data, "old")
    first = run("ecommerce_kafka.py", warehouse, kafka, data, out / "ecommerce")
    assert "analytics.events_aggregated: 0 rows" in first
    assert "analytics.hourly_revenue: 0 rows" in first
    assert "micro-batches: 0" in run("crypto_kafka.py", warehouse, kafka, out / "crypto")
    produce(kafka, data, "new")
    run("ecommerce_kafka.py", warehouse, kafka, data, out / "ecommerce")
    lines = (data / "ecommerce" / "events" / "events.jsonl").read_text().splitlines()
    new = []
    for line in lines[len(lines) // 2 :]:
        try:
            new.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    check_ecommerce_stream(spark, warehouse, new)
    stdout = run("crypto_kafka.py", warehouse, kafka, out / "crypto")
    # the new prices in one batch, then one without data that applies the last watermark
    assert "micro-batches: 2" in stdout
    prices = read(data / "crypto" / "bars").sort_values(["timestamp", "symbol"])
    check_crypto_bars(spark, out / "crypto" / "bars_5m", prices.iloc[len(prices) // 2 :])
