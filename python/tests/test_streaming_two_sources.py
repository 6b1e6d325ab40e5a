"""Streaming queries over two streams (issue 21): a union of two streams with a watermark on
each (under both of `spark.sql.streaming.multipleWatermarkPolicy`'s policies) and
stream-stream joins (inner, outer and left semi with watermarks and a time-range condition,
inner on a key without any watermark). Every case of two_source_cases.py runs on Spate exactly as Apache
Spark ran it (spark_reference/streaming_two_sources.py, output committed beside it): the
sink's rows and, per micro-batch, the input and output rows, the watermark and the state's
row counts must be Spark's. Spark's refusals (outer and semi joins that could never forget
their rows, joins outside append mode, left anti joins) must be Spark's errors."""

import json
import os
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException, StreamingQueryException

import stateful_cases
import two_source_cases as cases

REFERENCE = Path(__file__).parent.parent / "spark_reference" / "streaming_two_sources.out"
SPARK = {d["case"]: d for d in map(json.loads, REFERENCE.read_text().splitlines())}


def write_files(directory, side, indices):
    stateful_cases.write_batches(directory, lambda i: cases.rows_of(side, i), indices)


def key(r):
    return json.dumps(r, sort_keys=True)


@pytest.fixture(autouse=True)
def utc(spark):
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield
    spark.conf.set("spark.sql.session.timeZone", before)
    spark.conf.unset("spark.sql.shuffle.partitions")
    spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")


def inputs(tmp_dir):
    left, right = tmp_dir / "left", tmp_dir / "right"
    write_files(left, "left", range(len(cases.RIGHT_FILES)))
    write_files(right, "right", range(len(cases.RIGHT_FILES)))
    return str(left), str(right)


@pytest.mark.parametrize("case", list(cases.CASES))
def test_a_two_stream_query_gives_spark_s_rows_and_progress(spark, tmp_dir, case):
    query, mode, conf = cases.CASES[case]
    for k, v in conf.items():
        spark.conf.set(k, v)
    rows, batches = stateful_cases.run_to_memory(spark, query(spark, *inputs(tmp_dir)), f"{case}_{os.getpid()}", mode)
    assert rows == SPARK[case]["rows"]
    assert batches == SPARK[case]["batches"]


@pytest.mark.parametrize("case", list(cases.REFUSED))
def test_what_spark_refuses_of_a_join_of_streams_is_refused_with_its_error(spark, tmp_dir, case):
    query, mode = cases.REFUSED[case]
    expected = SPARK[case]
    df = query(spark, *inputs(tmp_dir)).writeStream.format("memory").queryName(f"{case}_{os.getpid()}")
    with pytest.raises(AnalysisException) as e:
        df.outputMode(mode).start()
    assert e.value.getCondition() == expected["condition"]
    message = expected["message"].split("] ", 1)[-1].split(" SQLSTATE")[0]
    assert message in str(e.value)


def test_each_source_has_its_progress_and_its_offsets_in_the_checkpoint(spark, tmp_dir):
    left, right = inputs(tmp_dir)
    ckpt = tmp_dir / "ckpt"
    q = (
        cases.union_count(spark, left, right)
        .writeStream.format("noop")
        .option("checkpointLocation", str(ckpt))
        .outputMode("append")
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    first = json.loads(q.recentProgress[0].json)
    # one file of each stream per batch: 3 rows from the left, 2 from the right
    assert [s["numInputRows"] for s in first["sources"]] == [3, 2]
    assert [s["description"] for s in first["sources"]] == [f"FileStreamSource[file://{left}]", f"FileStreamSource[file://{right}]"]
    assert [s["endOffset"] for s in first["sources"]] == [{"logOffset": 0}, {"logOffset": 0}]
    offsets = (ckpt / "offsets" / "3").read_text().splitlines()
    assert [json.loads(line) for line in offsets[2:]] == [{"logOffset": 3}, {"logOffset": 3}]
    # each stream's file log in its own sources/<i>
    for i, d in enumerate((left, right)):
        log = (ckpt / "sources" / str(i) / "0").read_text()
        assert f"{d}/0.json" in log


def test_a_join_restarted_from_its_checkpoint_keeps_both_sides_rows(spark, tmp_dir):
    left, right, sink, ckpt = (tmp_dir / n for n in ("left", "right", "out", "ckpt"))
    for files in ([0, 1], [2, 3]):
        write_files(left, "left", files)
        write_files(right, "right", files)
        q = (
            cases.range_join("inner")(spark, str(left), str(right))
            .writeStream.format("parquet")
            .option("checkpointLocation", str(ckpt))
            .trigger(availableNow=True)
            .start(str(sink))
        )
        assert q.awaitTermination(60)
        assert q.exception() is None
    # pairs whose rows came in different runs (right 12:00:02 with left 12:00:12 of file 2)
    # need the first run's rows from the checkpoint: the result is the one run's
    rows = sorted((stateful_cases.plain(r) for r in spark.read.parquet(str(sink)).collect()), key=key)
    assert rows == SPARK["inner_range_join"]["rows"]
    for side in ("left", "right"):
        assert list((ckpt / "state" / "0" / side).glob("*/*.delta"))


def test_a_restart_reading_more_streams_than_its_checkpoint_fails_as_in_spark(spark, tmp_dir):
    expected = json.loads((REFERENCE.parent / "streaming_query_change.out").read_text())
    left, right = inputs(tmp_dir)
    ckpt = str(tmp_dir / "ckpt")

    def start(df):
        return df.writeStream.format("noop").option("checkpointLocation", ckpt).trigger(availableNow=True).start()

    assert start(cases.left(spark, left)).awaitTermination(60)
    q = start(cases.left(spark, left).union(cases.right(spark, right)))
    with pytest.raises(StreamingQueryException) as e:
        q.awaitTermination(60)
    assert expected["exception"] in str(e.value)


CHAINS = {d["case"]: d for d in map(json.loads, (REFERENCE.parent / "streaming_chains.out").read_text().splitlines())}


@pytest.mark.parametrize("case", list(cases.CHAIN_CASES))
def test_chained_stateful_operators_give_spark_s_rows_and_progress(spark, tmp_dir, case):
    query, mode = cases.CHAIN_CASES[case]
    rows, batches = stateful_cases.run_to_memory(spark, query(spark, *inputs(tmp_dir)), f"{case}_{os.getpid()}", mode)
    assert rows == CHAINS[case]["rows"]
    assert batches == CHAINS[case]["batches"]
