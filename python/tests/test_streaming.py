"""Structured Streaming, first slice (issue 21): the rate source through stateless
transformations into the memory and noop sinks, with every trigger, the query's commands and
`spark.streams`. Expected values follow Spark's documented rate source: `rowsPerSecond` rows
per second, values 0, 1, 2, ... and timestamps spread evenly within each second."""

import datetime as dt
import time
import uuid

import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import functions as F
from pyspark.errors import StreamingQueryException


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def rate(spark):
    return spark.readStream.format("rate").option("rowsPerSecond", 10).load()


def test_a_rate_stream_is_streaming_with_spark_s_schema(rate):
    assert rate.isStreaming
    assert [(f.name, f.dataType.simpleString()) for f in rate.schema.fields] == [
        ("timestamp", "timestamp"),
        ("value", "bigint"),
    ]


def test_a_batch_action_on_a_stream_is_spark_s_analysis_error(rate):
    with pytest.raises(AnalysisException, match="must be executed with writeStream.start"):
        rate.collect()


def test_filtered_rows_reach_the_memory_sink_exactly_once_with_progress(spark, rate):
    name = unique("evens")
    q = (
        rate.where(F.col("value") % 2 == 0)
        .select((F.col("value") * 10).alias("v"), "timestamp")
        .writeStream.format("memory")
        .queryName(name)
        .trigger(processingTime="200 milliseconds")
        .start()
    )
    try:
        assert q.isActive and q.name == name
        deadline = time.time() + 30
        while time.time() < deadline and sum(p.numInputRows for p in q.recentProgress) < 20:
            time.sleep(0.2)
        q.processAllAvailable()
        progress = q.recentProgress
        assert progress, "no batch ran"
        # batches are numbered from 0 without gaps; each starts where the last ended
        assert [p.batchId for p in progress] == list(range(len(progress)))
        for before, after in zip(progress, progress[1:]):
            assert after.sources[0].startOffset == before.sources[0].endOffset
        last = progress[-1]
        assert str(last.id) == q.id and str(last.runId) == q.runId and last.name == name
        assert last.sink.description == "MemorySink"
        seconds = int(last.sources[0].endOffset)
        total = sum(p.numInputRows for p in progress)
        assert total == 10 * seconds
        # the sink holds every even value below the total once, times ten
        got = [r.v for r in spark.sql(f"SELECT v FROM {name} ORDER BY v").collect()]
        assert got == [10 * v for v in range(0, total, 2)]
        assert sum(p.sink.numOutputRows for p in progress) == len(got)
        # ten rows per second: consecutive values are 100 ms apart
        ts = [r.timestamp for r in spark.sql(f"SELECT timestamp FROM {name} ORDER BY v").collect()]
        assert all(b - a == dt.timedelta(milliseconds=200) for a, b in zip(ts, ts[1:]))
        assert q.status["isTriggerActive"] in (True, False)
        assert q.exception() is None
        assert q.awaitTermination(0.1) is False
        assert q.id in [a.id for a in spark.streams.active]
        assert spark.streams.get(q.id).id == q.id
    finally:
        q.stop()
    assert not q.isActive
    assert q.status["message"] == "Stopped"
    assert q.awaitTermination(1) is True
    assert q.id not in [a.id for a in spark.streams.active]
    # a stopped query stays reachable until resetTerminated
    assert spark.streams.get(q.id) is not None
    spark.streams.resetTerminated()
    assert spark.streams.get(q.id) is None


def test_available_now_terminates_on_its_own(spark, rate):
    # the rate source starts with the query, so nothing exists yet: availableNow ends at once
    q = rate.writeStream.format("noop").trigger(availableNow=True).start()
    q.awaitTermination(20)
    assert not q.isActive
    assert q.exception() is None


def test_a_once_trigger_terminates_on_its_own(spark, rate):
    name = unique("once")
    q = rate.writeStream.format("memory").queryName(name).trigger(once=True).start()
    assert q.awaitTermination(20) is True
    assert not q.isActive


def test_a_failing_batch_fails_the_query_with_streaming_query_exception(spark, rate):
    # ANSI casts (Spark 4's default) fail on the first value that is not a number
    q = (
        rate.select(F.expr("CAST(IF(value < 3, '1', 'bad') AS INT)").alias("n"))
        .writeStream.format("noop")
        .start()
    )
    with pytest.raises(StreamingQueryException, match="CAST_INVALID_INPUT"):
        q.awaitTermination(30)
    assert not q.isActive
    e = q.exception()
    assert isinstance(e, StreamingQueryException)
    assert "CAST_INVALID_INPUT" in str(e) and q.id in str(e)


def test_bad_streaming_writes_get_spark_s_errors(spark, rate):
    with pytest.raises(AnalysisException, match="queryName must be specified for memory sink"):
        rate.writeStream.format("memory").start()
    with pytest.raises(AnalysisException, match="Complete output mode not supported"):
        rate.writeStream.format("memory").queryName(unique("c")).outputMode("complete").start()
    name = unique("dup")
    q = rate.writeStream.format("memory").queryName(name).start()
    try:
        with pytest.raises(PySparkException, match="already active"):
            rate.writeStream.format("memory").queryName(name).start()
    finally:
        q.stop()
    with pytest.raises(PySparkException, match="UNSUPPORTED_FEATURE"):
        rate.groupBy("value").count().writeStream.format("memory").queryName(unique("a")).outputMode(
            "update"
        ).start()
