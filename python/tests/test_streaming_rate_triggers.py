"""The rate source's ramp-up and the continuous trigger (issue 21), compared with real Spark's
output: spark_reference/rate_ramp_up.py (.out) and spark_reference/streaming_continuous.py
(.out)."""

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException, StreamingQueryException
from pyspark.sql import functions as F

REFERENCE = Path(__file__).parent.parent / "spark_reference"


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_the_rate_source_ramps_up_as_spark_s(spark):
    description, batches, rows = (json.loads(line) for line in (REFERENCE / "rate_ramp_up.out").read_text().splitlines())
    # Spark's rows up to each second, from its batches' offsets (second 0 starts at value 0)
    value_at = {0: 0}
    for start, end, n in batches["batches"]:
        value_at[end] = value_at[start] + n
    # Spark's times (ms after the start) of the rows of each one-second batch
    spark_ms = dict(zip(rows["values"], rows["ms"]))
    one_second = {start: (value_at[start], value_at[end]) for start, end, _ in batches["batches"] if end == start + 1}

    name = unique("ramp")
    df = spark.readStream.format("rate").option("rowsPerSecond", 10).option("rampUpTime", "4s").option("numPartitions", 1).load()
    q = df.writeStream.format("memory").queryName(name).trigger(processingTime="300 milliseconds").start()
    time.sleep(9)
    q.stop()
    progress = [json.loads(p.json) for p in q.recentProgress]
    assert progress[-1]["sources"][0]["description"] == description["description"]
    checked = 0
    for p in progress:
        s = p["sources"][0]
        start, end = int(s["startOffset"] or 0), int(s["endOffset"])
        if start in value_at and end in value_at and p["numInputRows"]:
            assert p["numInputRows"] == value_at[end] - value_at[start], (start, end)
            checked += 1
    assert checked >= 4
    got = sorted(spark.table(name).collect(), key=lambda r: r.value)
    assert [r.value for r in got] == list(range(len(got)))
    first = got[0].timestamp
    ms = {r.value: round((r.timestamp - first).total_seconds() * 1000) for r in got}
    # a one-second batch on both engines spreads its rows over the second alike
    same = [s for s in one_second if all(v in ms for v in range(*one_second[s]))]
    ours = {int(p["sources"][0]["startOffset"] or 0) for p in progress if p["numInputRows"] and int(p["sources"][0]["endOffset"]) == int(p["sources"][0]["startOffset"] or 0) + 1}
    compared = [s for s in same if s in ours]
    assert compared, "no second ran as a one-second batch on both engines"
    for s in compared:
        lo, hi = one_second[s]
        assert [ms[v] for v in range(lo, hi)] == [spark_ms[v] for v in range(lo, hi)]


def test_a_negative_ramp_up_is_refused_with_spark_s_message(spark):
    with pytest.raises(Exception, match="Invalid value '-1'. The option 'rampUpTime' must not be negative"):
        q = spark.readStream.format("rate").option("rampUpTime", "-1").load().writeStream.format("noop").start()
        q.awaitTermination(20)


SPARK_CONTINUOUS = {d["case"]: d for d in map(json.loads, (REFERENCE / "streaming_continuous.out").read_text().splitlines())}


def test_the_continuous_trigger_runs_what_spark_runs_continuously(spark):
    assert SPARK_CONTINUOUS["rate_map_memory"]["contiguous"] and SPARK_CONTINUOUS["rate_map_memory"]["active"]
    name = unique("cont")
    rate = spark.readStream.format("rate").option("rowsPerSecond", 5).load()
    q = (
        rate.where(F.col("value") % 2 == 0)
        .select((F.col("value") * 10).alias("v"))
        .writeStream.format("memory")
        .queryName(name)
        .trigger(continuous="1 second")
        .start()
    )
    time.sleep(3)
    assert q.isActive
    q.stop()
    values = sorted(r.v for r in spark.table(name).collect())
    # every even value from 0 on, times 10, none missing (as Spark's run gave)
    assert values and values == [v * 20 for v in range(len(values))]


@pytest.mark.parametrize("case", ["file_source", "aggregation"])
def test_the_continuous_trigger_refuses_what_spark_refuses(spark, tmp_path, case):
    expected = SPARK_CONTINUOUS[case]
    (tmp_path / "a.json").write_text('{"a": 1}\n')
    rate = spark.readStream.format("rate").load()
    df = {
        "file_source": lambda: spark.readStream.schema("a long").json(str(tmp_path)).writeStream.format("memory").queryName(unique("j")),
        "aggregation": lambda: rate.groupBy("value").count().writeStream.format("memory").queryName(unique("agg")).outputMode("complete"),
    }[case]()
    with pytest.raises(AnalysisException) as e:
        df.trigger(continuous="1 second").start()
    assert e.value.getCondition() == expected["condition"]
    assert expected["message"] in str(e.value)


def test_a_file_sink_fails_a_continuous_query_as_in_spark(spark, tmp_path):
    q = (
        spark.readStream.format("rate").load()
        .writeStream.format("parquet")
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .trigger(continuous="1 second")
        .start(str(tmp_path / "out"))
    )
    with pytest.raises(StreamingQueryException, match=re.escape(SPARK_CONTINUOUS["file_sink"]["exception"])):
        q.awaitTermination(20)
    assert not q.isActive


SPARK_REAL_TIME = {d["case"]: d for d in map(json.loads, (REFERENCE / "streaming_real_time.out").read_text().splitlines())}


@pytest.mark.parametrize("case", list(SPARK_REAL_TIME))
def test_the_real_time_trigger_gets_spark_s_errors(spark, tmp_path, case):
    """Spark 4.2's real-time mode reads only Kafka streams, into allowlisted sinks in update
    mode; none of these cases reads Kafka, so each ends in Spark's error."""
    expected = SPARK_REAL_TIME[case]
    (tmp_path / "a.json").write_text('{"a": 1}\n')
    rate = spark.readStream.format("rate").load()
    writer = {
        "rate_memory": lambda: rate.writeStream.format("memory").queryName(unique("rt")),
        "rate_noop": lambda: rate.writeStream.format("noop"),
        "rate_parquet": lambda: rate.writeStream.format("parquet")
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .option("path", str(tmp_path / "out")),
        "rate_console_append": lambda: rate.writeStream.format("console"),
        "rate_console_update": lambda: rate.writeStream.format("console").outputMode("update"),
        "json_console_update": lambda: spark.readStream.schema("a long").json(str(tmp_path)).writeStream.format("console").outputMode("update"),
    }[case]().trigger(realTime="5 seconds")
    if "failure" in expected:
        q = writer.start()
        with pytest.raises(StreamingQueryException) as e:
            q.awaitTermination(30)
        assert expected["failure"] in str(e.value)
        return
    with pytest.raises(Exception) as e:
        writer.start()
    assert type(e.value).__name__ == expected["type"]
    assert e.value.getCondition() == expected["condition"]
    assert expected["message"] in str(e.value)
