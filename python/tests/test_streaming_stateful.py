"""Stateful Structured Streaming (issue 21): watermarks, streaming aggregations (tumbling and
sliding windows, event-time keys, plain keys) in append, update and complete modes, and
deduplication (plain, with a watermark, within the watermark). Every case of
stateful_cases.py runs on Spate exactly as Apache Spark ran it (spark_reference/
streaming_stateful.py, output committed beside it): the sink's rows and, per micro-batch, the
input and output rows, the watermark and the state operator's row counts must be Spark's.
Restarts from the checkpoint restore the state; countDistinct, which Spark refuses on a
stream, is Spate's extension and is checked against values computed here."""

import json
import os
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException

import stateful_cases as cases

REFERENCE = Path(__file__).parent.parent / "spark_reference" / "streaming_stateful.out"
SPARK = {d["case"]: d for d in map(json.loads, REFERENCE.read_text().splitlines())}


def write_files(directory, indices):
    cases.write_batches(directory, cases.rows_of, indices)


def sorted_rows(spark, name):
    rows = [cases.plain(r) for r in spark.table(name).collect()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


@pytest.fixture(autouse=True)
def utc(spark):
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield
    spark.conf.set("spark.sql.session.timeZone", before)
    spark.conf.unset("spark.sql.shuffle.partitions")


@pytest.mark.parametrize("case", list(cases.CASES))
def test_a_stateful_query_gives_spark_s_rows_and_progress(spark, tmp_dir, case):
    query, mode = cases.CASES[case]
    write_files(tmp_dir, range(len(cases.FILES)))
    rows, batches = cases.run_to_memory(spark, query(spark, str(tmp_dir)), f"{case}_{os.getpid()}", mode)
    assert rows == SPARK[case]["rows"]
    assert batches == SPARK[case]["batches"]


@pytest.mark.parametrize("case", list(cases.REFUSED))
def test_what_spark_refuses_on_a_stream_is_refused_with_its_error(spark, tmp_dir, case):
    query, mode = cases.REFUSED[case]
    expected = SPARK[case]
    df = query(spark, str(tmp_dir)).writeStream.format("memory").queryName(f"{case}_{os.getpid()}").outputMode(mode)
    if expected.get("started"):
        q = df.trigger(availableNow=True).start()
        assert q.awaitTermination(30)
        assert q.exception() is None
        return
    with pytest.raises(AnalysisException) as e:
        df.start()
    assert e.value.getCondition() == expected["condition"]
    message = expected["message"].split("] ", 1)[-1].split(" SQLSTATE")[0]
    assert message in str(e.value)


def test_a_restart_restores_the_aggregation_state_from_the_checkpoint(spark, tmp_dir):
    src, sink, ckpt = tmp_dir / "in", tmp_dir / "out", tmp_dir / "ckpt"
    src.mkdir()
    runs = []
    for files in ([0, 1], [2, 3]):
        write_files(src, files)
        q = (
            cases.windowed_count(spark, str(src))
            .writeStream.format("parquet")
            .option("checkpointLocation", str(ckpt))
            .outputMode("append")
            .trigger(availableNow=True)
            .start(str(sink))
        )
        assert q.awaitTermination(60)
        assert q.exception() is None
        runs.append([cases.progress_summary(json.loads(p.json)) for p in q.recentProgress])
    expected = SPARK["restart_windowed_count_append"]
    # the second run goes on from the first one's state: its windows hold the first run's rows
    assert runs == expected["runs"]
    rows = sorted((cases.plain(r) for r in spark.read.parquet(str(sink)).collect()), key=lambda r: json.dumps(r, sort_keys=True))
    assert rows == expected["rows"]
    deltas = list((ckpt / "state" / "0").glob("*/*.delta"))
    assert deltas and all(d.stem.isdigit() for d in deltas)
    resumed = expected["runs"][1][0]
    offsets = (ckpt / "offsets" / str(resumed["batchId"])).read_text().splitlines()
    last = resumed["watermark"]
    watermark_ms = int(datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp() * 1000)
    assert json.loads(offsets[1])["batchWatermarkMs"] == watermark_ms


def test_count_distinct_in_a_streaming_aggregation_is_spate_s_extension(spark, tmp_dir):
    write_files(tmp_dir, range(len(cases.FILES)))
    name = f"distinct_{os.getpid()}"
    q = (
        cases.count_distinct(spark, str(tmp_dir))
        .writeStream.format("memory")
        .queryName(name)
        .outputMode("complete")
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    # complete mode keeps every window: the distinct keys of each 10 s window over all files
    keys = defaultdict(set)
    for i in range(len(cases.FILES)):
        for t, k, _ in cases.FILES[i]:
            ts = datetime.fromisoformat(f"{cases.DAY}T{t}")
            start = ts - timedelta(seconds=ts.second % 10)
            keys[start.isoformat()].add(k)
    got = {r["window"]["start"]: r["keys"] for r in sorted_rows(spark, name)}
    assert got == {s: len(k) for s, k in keys.items()}


def test_event_time_progress_has_the_batch_s_min_max_and_average(spark, tmp_dir):
    write_files(tmp_dir, [0])
    name = f"event_time_{os.getpid()}"
    q = (
        cases.windowed_count(spark, str(tmp_dir))
        .writeStream.format("memory")
        .queryName(name)
        .outputMode("update")
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    first = q.recentProgress[0].eventTime
    times = [datetime.fromisoformat(f"{cases.DAY}T{t}") for t, _, _ in cases.FILES[0]]
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"  # noqa: E731
    assert first["min"] == iso(min(times))
    assert first["max"] == iso(max(times))
    avg = datetime.fromtimestamp(sum(t.timestamp() for t in times) / len(times))
    assert first["avg"] == iso(avg)
    assert first["watermark"] == "1970-01-01T00:00:00.000Z"
    ops = q.recentProgress[0].stateOperators
    assert [o.operatorName for o in ops] == ["stateStoreSave"]


def test_a_watermark_on_a_string_column_is_spark_s_error(spark, tmp_dir):
    df = spark.readStream.schema("ts string, k string").json(str(tmp_dir))
    with pytest.raises(AnalysisException) as e:
        df.withWatermark("ts", "5 seconds").schema
    assert e.value.getCondition() == "EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE"


def test_complete_mode_into_a_file_sink_is_refused(spark, tmp_dir):
    df = cases.key_totals(spark, str(tmp_dir))
    with pytest.raises(AnalysisException, match="does not support Complete output mode"):
        df.writeStream.format("parquet").outputMode("complete").option("checkpointLocation", str(tmp_dir / "c")).start(str(tmp_dir / "o"))


def test_a_restart_with_an_incompatible_aggregation_gets_spark_s_state_schema_error(spark, tmp_dir):
    from pyspark.errors import StreamingQueryException

    src, ckpt = tmp_dir / "in", tmp_dir / "ckpt"
    src.mkdir()
    write_files(src, [0])

    def run(df, mode):
        q = df.writeStream.format("memory").queryName(f"schema_{os.getpid()}").option("checkpointLocation", str(ckpt)).outputMode(mode).trigger(availableNow=True).start()
        try:
            q.awaitTermination(60)
        except StreamingQueryException:
            pass
        return q

    assert run(cases.windowed_count(spark, str(src)), "update").exception() is None
    write_files(src, [1])
    # the same checkpoint, now grouped by the key alone: the stored state cannot be read
    e = run(cases.source(spark, str(src)).groupBy("k").count(), "update").exception()
    assert e is not None and "STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE" in str(e)


SESSIONS = {
    d["case"]: d
    for d in map(json.loads, (REFERENCE.parent / "streaming_sessions.out").read_text().splitlines())
}


@pytest.mark.parametrize("case", list(cases.SESSION_CASES))
def test_session_windows_on_a_stream_give_spark_s_sessions_and_progress(spark, tmp_dir, case):
    query, mode = cases.SESSION_CASES[case]
    write_files(tmp_dir, range(len(cases.FILES)))
    expected = SESSIONS[case]
    df = query(spark, str(tmp_dir))
    if "condition" in expected:
        with pytest.raises(AnalysisException) as e:
            cases.run_to_memory(spark, df, f"{case}_{os.getpid()}", mode)
        assert e.value.getCondition() == expected["condition"]
        assert expected["message"].split("] ", 1)[-1].split(" SQLSTATE")[0] in str(e.value)
        return
    rows, batches = cases.run_to_memory(spark, df, f"{case}_{os.getpid()}", mode)
    assert rows == expected["rows"]
    assert batches == expected["batches"]


def test_session_windows_restarted_from_the_checkpoint_keep_their_open_sessions(spark, tmp_dir):
    src, sink, ckpt = tmp_dir / "in", tmp_dir / "out", tmp_dir / "ckpt"
    src.mkdir()
    # the first run's last batch (and the batch without data after it, at 12:00:07) closes no
    # session, so the second run sees the sessions the single run sees
    for files in ([0], [1, 2, 3]):
        write_files(src, files)
        q = (
            cases.session_totals(spark, str(src))
            .writeStream.format("parquet")
            .option("checkpointLocation", str(ckpt))
            .outputMode("append")
            .trigger(availableNow=True)
            .start(str(sink))
        )
        assert q.awaitTermination(60)
        assert q.exception() is None
    # the session a:[12:00:01, 12:00:22) has rows from both runs: the result is the single run's
    rows = sorted((cases.plain(r) for r in spark.read.parquet(str(sink)).collect()), key=lambda r: json.dumps(r, sort_keys=True))
    assert rows == SESSIONS["session_append"]["rows"]


@pytest.mark.parametrize("case", list(cases.GROUPING_SET_CASES))
def test_grouping_sets_on_a_stream_give_spark_s_rows_and_progress(spark, tmp_dir, case):
    query, mode = cases.GROUPING_SET_CASES[case]
    write_files(tmp_dir, range(len(cases.FILES)))
    rows, batches = cases.run_to_memory(spark, query(spark, str(tmp_dir)), f"{case}_{os.getpid()}", mode)
    assert rows == SESSIONS[case]["rows"]
    assert batches == SESSIONS[case]["batches"]
