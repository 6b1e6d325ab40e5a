"""Sliding and running window aggregates (seed 002's 30-day features, seed 001's moving
averages and RSI, RANGE and ROWS frames over null keys, descending orders, peers, one
partition, SQL text) and row numbers filtered to the first rows per key (seed 002's latest
snapshot, a top three) give Apache Spark 4.0.1's answers: python/spark_reference/window_frames.py
and its committed output. Counts and approx_count_distinct estimates are equal; sums and
averages of doubles equal to 1e-9 relative (Spark re-adds a frame's values when its start
moves, Spate adds and subtracts them). Each case also runs with spark.spate.window.sliding
off and spark.sql.optimizer.windowGroupLimitThreshold at -1 (DataFusion's window operators,
every row sorted), which must give the same answers."""

import json
import math
from pathlib import Path

import pytest
from pyspark.errors import IllegalArgumentException
from window_frame_cases import BARS_SCHEMA, CASES, EVENTS_SCHEMA, bars, events

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "window_frames.out"
EXPECTED = {c["case"]: c for c in map(json.loads, REFERENCE.read_text().splitlines())}


@pytest.fixture(scope="module")
def frames(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    ev = spark.createDataFrame(events(), EVENTS_SCHEMA)
    bs = spark.createDataFrame(bars(), BARS_SCHEMA)
    yield ev, bs
    for key in ["spark.sql.ansi.enabled", "spark.spate.window.sliding",
                "spark.sql.optimizer.windowGroupLimitThreshold"]:
        spark.conf.unset(key)


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("sliding", ["true", "false"])
@pytest.mark.parametrize("name", list(CASES))
def test_window_case_gives_sparks_answer(spark, frames, name, sliding):
    spark.conf.set("spark.spate.window.sliding", sliding)
    spark.conf.set("spark.sql.optimizer.windowGroupLimitThreshold", "1000" if sliding == "true" else "-1")
    expected = EXPECTED[name]
    df = CASES[name](*frames).orderBy("id")
    assert df.columns == expected["columns"]
    assert [f.dataType.simpleString() for f in df.schema] == expected["types"]
    rows = [list(r) for r in df.collect()]
    assert len(rows) == len(expected["rows"])
    bad = [(got, want) for got, want in zip(rows, expected["rows"])
           if not all(same(a, b) for a, b in zip(got, want))]
    assert not bad, f"{len(bad)} rows differ, first: {bad[:3]}"


def test_window_group_limit_threshold_is_checked_as_in_spark(spark):
    spark.conf.unset("spark.sql.optimizer.windowGroupLimitThreshold")
    assert spark.conf.get("spark.sql.optimizer.windowGroupLimitThreshold") == "1000"
    with pytest.raises(IllegalArgumentException, match="windowGroupLimitThreshold"):
        spark.conf.set("spark.sql.optimizer.windowGroupLimitThreshold", "-2")
