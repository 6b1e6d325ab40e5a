"""Structured Streaming, first slice (issue 21): the rate source through stateless
transformations into the memory and noop sinks, with every trigger, the query's commands and
`spark.streams`. Expected values follow Spark's documented rate source: `rowsPerSecond` rows
per second, values 0, 1, 2, ... and timestamps spread evenly within each second."""

import datetime as dt
import json
import time
import uuid

import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import functions as F
from pyspark.errors import StreamingQueryException


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def run_checkpointed(rate, name, ckpt, batches):
    """Runs the rate stream into the memory sink `name` with checkpoint `ckpt` until it has
    run `batches` batches (or 30 s passed), then stops it."""
    q = (
        rate.writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", ckpt)
        .trigger(processingTime="300 milliseconds")
        .start()
    )
    deadline = time.time() + 30
    while time.time() < deadline and len(q.recentProgress) < batches:
        time.sleep(0.1)
    q.stop()
    return q


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
        # Spark's status messages for an active query between and during triggers
        assert q.status["message"] in ("Waiting for next trigger", "Processing new data")
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
    # Spark 4's error (spark_reference/streaming_stateful.out, sort_complete_without_aggregation)
    with pytest.raises(AnalysisException, match="not supported for no streaming aggregations"):
        rate.writeStream.format("memory").queryName(unique("c")).outputMode("complete").start()
    name = unique("dup")
    q = rate.writeStream.format("memory").queryName(name).start()
    try:
        with pytest.raises(PySparkException, match="already active"):
            rate.writeStream.format("memory").queryName(name).start()
    finally:
        q.stop()


def read_log(path):
    with open(path) as f:
        lines = f.read().split("\n")
    assert lines[0] == "v1", f"{path} does not start with Spark's version line"
    return lines[1:]


def test_a_restart_from_the_checkpoint_keeps_the_id_and_goes_on_after_the_last_batch(
    spark, rate, tmp_path
):
    """Spark's checkpoint contract: the query id persists across restarts, the run id does
    not, and a restart neither repeats nor skips input (the second run's first batch starts
    where the first run's last batch ended)."""
    import json
    import os

    ckpt = str(tmp_path / "checkpoint")
    name = unique("restart")

    def run():
        q = run_checkpointed(rate, name, ckpt, 2)
        return q, q.recentProgress

    first, p1 = run()
    assert len(p1) >= 2
    # Spark's layout: metadata holds the id; offsets/N and commits/N per batch
    with open(os.path.join(ckpt, "metadata")) as f:
        assert json.loads(f.read()) == {"id": first.id}
    batches = sorted(int(n) for n in os.listdir(os.path.join(ckpt, "offsets")) if n.isdigit())
    assert batches == [p.batchId for p in p1]
    for p in p1:
        meta, offset = read_log(os.path.join(ckpt, "offsets", str(p.batchId)))
        assert json.loads(meta)["batchWatermarkMs"] == 0
        assert offset == str(p.sources[0].endOffset)
        assert json.loads(read_log(os.path.join(ckpt, "commits", str(p.batchId)))[0]) == {
            "nextBatchWatermarkMs": 0
        }

    second, p2 = run()
    assert second.id == first.id
    assert second.runId != first.runId
    assert p2[0].batchId == p1[-1].batchId + 1
    assert p2[0].sources[0].startOffset == p1[-1].sources[0].endOffset
    # the memory sink of the second run holds its own batches: values continue, none repeated
    values = [r.value for r in spark.sql(f"SELECT value FROM {name} ORDER BY value").collect()]
    first_value = 10 * int(p1[-1].sources[0].endOffset)
    assert values == list(range(first_value, first_value + len(values)))
    assert len(values) == sum(p.numInputRows for p in p2)


def test_a_batch_planned_but_not_committed_is_run_again(spark, rate, tmp_path):
    """A batch whose offsets were written but whose commit was not (the process died between
    them) is run again with exactly those offsets, under the same batch id."""
    import os

    ckpt = str(tmp_path / "checkpoint")
    name = unique("rerun")
    q = run_checkpointed(rate, name, ckpt, 2)
    last = q.recentProgress[-1]
    os.remove(os.path.join(ckpt, "commits", str(last.batchId)))
    q2 = run_checkpointed(rate, name, ckpt, 1)
    again = q2.recentProgress[0]
    assert again.batchId == last.batchId
    assert again.sources[0].startOffset == last.sources[0].startOffset
    assert again.sources[0].endOffset == last.sources[0].endOffset
    assert again.numInputRows == last.numInputRows


def write_json_lines(path, rows):
    import json

    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def test_a_json_file_stream_reads_each_file_once_in_batches_of_max_files(spark, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    files = {
        "a.json": [{"id": 1, "kind": "keep"}, {"id": 2, "kind": "drop"}],
        "b.json": [{"id": 3, "kind": "keep"}],
        "c.json": [{"id": 4, "kind": "keep"}, {"id": 5, "kind": "keep"}, {"id": 6, "kind": "drop"}],
    }
    for i, (name, rows) in enumerate(files.items()):
        write_json_lines(src / name, rows)
        # distinct modification times: the source takes the oldest first
        os_time = 1_700_000_000 + i
        import os

        os.utime(src / name, (os_time, os_time))
    # Spark's files a stream never reads: hidden and underscore-prefixed
    (src / "_SUCCESS").write_text("")
    (src / ".a.json.crc").write_text("x")
    name = unique("files")
    q = (
        spark.readStream.schema("id long, kind string")
        .option("maxFilesPerTrigger", 1)
        .json(str(src))
        .where("kind = 'keep'")
        .writeStream.format("memory")
        .queryName(name)
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    progress = q.recentProgress
    assert [p.batchId for p in progress] == [0, 1, 2]
    assert [p.numInputRows for p in progress] == [len(r) for r in files.values()]
    assert [json.loads(p.sources[0].endOffset) for p in progress] == [
        {"logOffset": 0},
        {"logOffset": 1},
        {"logOffset": 2},
    ]
    # Spark's first batch starts from no offset: null in the JSON, which PySpark shows as 'null'
    assert progress[0].sources[0].startOffset == "null"
    got = sorted(r.id for r in spark.sql(f"SELECT id FROM {name}").collect())
    assert got == [1, 3, 4, 5]


def test_a_file_stream_needs_a_schema_as_in_spark(spark, tmp_path):
    with pytest.raises(AnalysisException, match="Schema must be specified"):
        spark.readStream.json(str(tmp_path)).schema  # resolving the plan raises


def test_a_restarted_file_stream_reads_only_the_new_files(spark, tmp_path):
    src, ckpt = tmp_path / "in", str(tmp_path / "checkpoint")
    src.mkdir()
    write_json_lines(src / "a.json", [{"id": 1}, {"id": 2}])
    name = unique("restart_files")

    def run():
        q = (
            spark.readStream.schema("id long")
            .json(str(src))
            .writeStream.format("memory")
            .queryName(name)
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start()
        )
        assert q.awaitTermination(60)
        return q

    first = run()
    assert [p.numInputRows for p in first.recentProgress] == [2]
    write_json_lines(src / "b.json", [{"id": 3}])
    second = run()
    assert second.id == first.id
    assert [(p.batchId, p.numInputRows) for p in second.recentProgress] == [(1, 1)]
    assert [r.id for r in spark.sql(f"SELECT id FROM {name}").collect()] == [3]
    # nothing new: the next run has no batch at all
    third = run()
    assert third.recentProgress == []


SPARK_INPUT = "/tmp/tmp5ih7q9nh/in"


def test_spate_goes_on_from_a_checkpoint_apache_spark_wrote(spark, tmp_path):
    """python/spark_reference/streaming_checkpoint.py ran real Spark over a.json, b.json and
    c.json in SPARK_INPUT (three batches, checkpoint committed as Spark wrote it). Given the
    same files plus a new one, Spate resumes Spark's query: same id, batch 3, only the new
    file."""
    import os
    import shutil

    reference = os.path.join(
        os.path.dirname(__file__), "..", "spark_reference", "streaming_checkpoint", "checkpoint"
    )
    ckpt = str(tmp_path / "checkpoint")
    shutil.copytree(reference, ckpt)
    created = not os.path.exists(SPARK_INPUT)
    os.makedirs(SPARK_INPUT, exist_ok=True)
    try:
        write_json_lines(f"{SPARK_INPUT}/a.json", [{"id": 1, "kind": "keep"}, {"id": 2, "kind": "drop"}])
        write_json_lines(f"{SPARK_INPUT}/b.json", [{"id": 3, "kind": "keep"}])
        write_json_lines(f"{SPARK_INPUT}/c.json", [{"id": 4, "kind": "keep"}, {"id": 5, "kind": "keep"}])
        write_json_lines(f"{SPARK_INPUT}/d.json", [{"id": 6, "kind": "keep"}, {"id": 7, "kind": "drop"}])
        name = unique("from_spark")
        q = (
            spark.readStream.schema("id long, kind string")
            .option("maxFilesPerTrigger", 1)
            .json(SPARK_INPUT)
            .where("kind = 'keep'")
            .writeStream.format("memory")
            .queryName(name)
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start()
        )
        assert q.awaitTermination(60)
        assert q.id == "7a647680-27db-4670-95a2-bba101e6152a"
        progress = q.recentProgress
        assert [(p.batchId, p.numInputRows) for p in progress] == [(3, 2)]
        assert json.loads(progress[0].sources[0].startOffset) == {"logOffset": 2}
        assert [r.id for r in spark.sql(f"SELECT id FROM {name}").collect()] == [6]
    finally:
        if created:
            shutil.rmtree(os.path.dirname(SPARK_INPUT), ignore_errors=True)


def test_the_parquet_sink_records_its_files_and_a_rerun_batch_writes_nothing_twice(spark, tmp_path):
    """Spark's file sink: each batch's files, then `_spark_metadata/N` listing them; a batch
    run again after a crash before its commit (the commit removed here) finds itself in the
    log and does not add its rows a second time."""
    import os

    src, out, ckpt = tmp_path / "in", str(tmp_path / "out"), str(tmp_path / "checkpoint")
    src.mkdir()
    for i, name in enumerate(["a.json", "b.json"]):
        write_json_lines(src / name, [{"id": 10 * i + k, "kind": "keep" if k % 2 == 0 else "drop"} for k in range(5)])
        os.utime(src / name, (1_700_000_000 + i, 1_700_000_000 + i))

    def run():
        q = (
            spark.readStream.schema("id long, kind string")
            .option("maxFilesPerTrigger", 1)
            .json(str(src))
            .where("kind = 'keep'")
            .select("id")
            .writeStream.format("parquet")
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start(out)
        )
        assert q.awaitTermination(60)
        return q

    q = run()
    assert [p.batchId for p in q.recentProgress] == [0, 1]
    # Spark's file sink does not count its rows: progress shows -1 (spark_reference/
    # streaming_stateful.out, the restart case)
    assert [p.sink.numOutputRows for p in q.recentProgress] == [-1, -1]
    expected = [0, 2, 4, 10, 12, 14]
    assert sorted(r.id for r in spark.read.parquet(out).collect()) == expected
    for batch in (0, 1):
        entries = [json.loads(line) for line in read_log(os.path.join(out, "_spark_metadata", str(batch)))]
        assert entries and all(e["action"] == "add" and not e["isDir"] for e in entries)
        for e in entries:
            path = e["path"].removeprefix("file://")
            assert os.path.getsize(path) == e["size"]
    # the last batch ran but its commit was lost: the restart runs it again, the sink skips it
    os.remove(os.path.join(ckpt, "commits", "1"))
    again = run()
    assert [p.batchId for p in again.recentProgress] == [1]
    assert sorted(r.id for r in spark.read.parquet(out).collect()) == expected


def test_a_file_sink_needs_a_checkpoint_location_as_in_spark(spark, rate, tmp_path):
    with pytest.raises(AnalysisException, match="checkpointLocation must be specified"):
        rate.writeStream.format("parquet").start(str(tmp_path / "out"))


def test_the_batch_reader_reads_only_the_files_a_stream_committed(spark, tmp_path):
    """As Spark's MetadataLogFileIndex: a file in a stream's output directory that the sink's
    `_spark_metadata` does not list (left by a batch that failed half-way) is not read."""
    import os
    import shutil

    src, out, ckpt = tmp_path / "in", str(tmp_path / "out"), str(tmp_path / "checkpoint")
    src.mkdir()
    write_json_lines(src / "a.json", [{"id": 1}, {"id": 2}, {"id": 3}])
    q = (
        spark.readStream.schema("id long")
        .json(str(src))
        .writeStream.format("parquet")
        .option("checkpointLocation", ckpt)
        .trigger(availableNow=True)
        .start(out)
    )
    assert q.awaitTermination(60)
    committed = [f for f in os.listdir(out) if f.endswith(".parquet")]
    assert len(committed) >= 1
    # a stray copy, as an uncommitted batch would leave
    shutil.copy(os.path.join(out, committed[0]), os.path.join(out, "part-99999-stray.c000.snappy.parquet"))
    assert sorted(r.id for r in spark.read.parquet(out).collect()) == [1, 2, 3]
    # without the log the directory is plain Parquet again: every file is read
    shutil.rmtree(os.path.join(out, "_spark_metadata"))
    assert len(spark.read.parquet(out).collect()) > 3


def test_the_batch_reader_reads_a_partitioned_sink_s_committed_files_with_its_partitions(spark, tmp_path):
    """The same for a sink with partitionBy: the files its log lists, in their key=value
    directories, read with the partition column (typed by its values, as discovery types it)."""
    import os
    import shutil

    src, out, ckpt = tmp_path / "in", tmp_path / "out", str(tmp_path / "checkpoint")
    src.mkdir()
    write_json_lines(src / "a.json", [{"id": 1, "k": 7}, {"id": 2, "k": 7}, {"id": 3, "k": 8}])
    q = (
        spark.readStream.schema("id long, k long")
        .json(str(src))
        .writeStream.format("parquet")
        .partitionBy("k")
        .option("checkpointLocation", ckpt)
        .trigger(availableNow=True)
        .start(str(out))
    )
    assert q.awaitTermination(60)
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("_")) == ["k=7", "k=8"]
    # a stray file in a partition directory, and one in a directory no batch committed
    committed = next((out / "k=7").glob("*.parquet"))
    shutil.copy(committed, out / "k=7" / "part-99999-stray.c000.snappy.parquet")
    (out / "k=9").mkdir()
    shutil.copy(committed, out / "k=9" / "part-99998-stray.c000.snappy.parquet")
    df = spark.read.parquet(str(out))
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [("id", "bigint"), ("k", "int")]
    assert sorted((r.id, r.k) for r in df.collect()) == [(1, 7), (2, 7), (3, 8)]
    # without the log every file counts, the strays too
    shutil.rmtree(out / "_spark_metadata")
    assert len(spark.read.parquet(str(out)).collect()) > 3


def test_the_console_sink_prints_each_batch_as_spark_does(spark, server, tmp_path):
    """Spark's console sink: a `Batch: N` banner, then the batch as `show()` prints it, on the
    server's standard output (here, its log)."""
    src = tmp_path / "in"
    src.mkdir()
    write_json_lines(src / "a.json", [{"id": 7001, "word": "alpha"}, {"id": 7002, "word": "beta"}])
    q = (
        spark.readStream.schema("id long, word string")
        .json(str(src))
        .writeStream.format("console")
        .option("numRows", 1)
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    expected = "\n".join(
        [
            "-------------------------------------------",
            "Batch: 0",
            "-------------------------------------------",
            "+----+-----+",
            "|  id| word|",
            "+----+-----+",
            "|7001|alpha|",
            "+----+-----+",
            "only showing top 1 row",
        ]
    )
    deadline = time.time() + 10
    while time.time() < deadline and expected not in server["log"].read_text():
        time.sleep(0.1)
    assert expected in server["log"].read_text()


def test_the_delta_sink_commits_each_batch_once_with_its_transaction(spark, tmp_path):
    """delta-spark's streaming sink: one Delta commit per batch, carrying the transaction
    (appId = the query id, version = the batch id) of the Delta protocol; a batch run again
    after a lost checkpoint commit finds its transaction in the table and adds nothing."""
    import os

    src, out, ckpt = tmp_path / "in", str(tmp_path / "table"), str(tmp_path / "checkpoint")
    src.mkdir()
    for i, name in enumerate(["a.json", "b.json"]):
        write_json_lines(src / name, [{"id": 10 * i + k} for k in range(3)])
        os.utime(src / name, (1_700_000_000 + i, 1_700_000_000 + i))

    def run():
        q = (
            spark.readStream.schema("id long")
            .option("maxFilesPerTrigger", 1)
            .json(str(src))
            .writeStream.format("delta")
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start(out)
        )
        assert q.awaitTermination(60)
        return q

    q = run()
    expected = [0, 1, 2, 10, 11, 12]
    assert sorted(r.id for r in spark.read.format("delta").load(out).collect()) == expected
    log_dir = os.path.join(out, "_delta_log")
    commits = sorted(f for f in os.listdir(log_dir) if f.endswith(".json"))
    txns = []
    for c in commits:
        with open(os.path.join(log_dir, c)) as f:
            for line in f:
                action = json.loads(line)
                if "txn" in action:
                    txns.append((action["txn"]["appId"], action["txn"]["version"]))
    assert txns == [(q.id, 0), (q.id, 1)]
    os.remove(os.path.join(ckpt, "commits", "1"))
    again = run()
    assert [p.batchId for p in again.recentProgress] == [1]
    assert sorted(r.id for r in spark.read.format("delta").load(out).collect()) == expected
    assert sorted(f for f in os.listdir(log_dir) if f.endswith(".json")) == commits


def _file_stream_batches(spark, src, name, **options):
    reader = spark.readStream.schema("id long")
    for k, v in options.items():
        reader = reader.option(k, v)
    q = reader.json(str(src)).writeStream.format("memory").queryName(name).trigger(availableNow=True).start()
    assert q.awaitTermination(60)
    assert q.exception() is None
    return q


def _write_ids(src, name, ids, mtime):
    import os

    path = os.path.join(src, name)
    with open(path, "w") as f:
        for i in ids:
            f.write(json.dumps({"id": i}) + "\n")
    os.utime(path, (mtime, mtime))
    return os.path.getsize(path)


def test_file_source_options_bound_and_order_the_batches(spark, tmp_path):
    """Spark's file source options: maxBytesPerTrigger caps a batch's bytes (at least one
    file), latestFirst takes the newest files first, maxFileAge skips files older than the
    newest by more, and maxFilesPerTrigger with maxBytesPerTrigger is refused."""
    src = tmp_path / "in"
    src.mkdir()
    t = 1_700_000_000
    sizes = [_write_ids(src, f"{i}.json", [10 * i, 10 * i + 1], t + i) for i in range(3)]
    q = _file_stream_batches(spark, src, unique("bytes"), maxBytesPerTrigger=str(sizes[0] + sizes[1] + 1))
    assert [p.numInputRows for p in q.recentProgress] == [4, 2]
    q = _file_stream_batches(spark, src, unique("latest"), latestFirst="true", maxFilesPerTrigger="1")
    name = q.name
    assert [p.numInputRows for p in q.recentProgress] == [2, 2, 2]
    # the first batch read the newest file (ids 20, 21): the memory sink keeps batch order
    assert [r.id for r in spark.table(name).collect()][:2] == [20, 21]
    old = tmp_path / "old"
    old.mkdir()
    _write_ids(old, "old.json", [1], t)
    _write_ids(old, "new.json", [2], t + 7200)
    q = _file_stream_batches(spark, old, unique("age"), maxFileAge="1h")
    assert sorted(r.id for r in spark.table(q.name).collect()) == [2]
    with pytest.raises(Exception, match="can't be both set"):
        _file_stream_batches(spark, src, unique("both"), maxFilesPerTrigger="1", maxBytesPerTrigger="10")


def test_rate_micro_batch_gives_spark_s_batches_offsets_and_errors(spark, tmp_path):
    """Compared with real Spark's output (spark_reference/rate_micro_batch.out)."""
    import os

    ref = open(os.path.join(os.path.dirname(__file__), "..", "spark_reference", "rate_micro_batch.out")).read().splitlines()
    df = (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", 3)
        .option("startTimestamp", 1000)
        .option("advanceMillisPerBatch", 500)
        .option("numPartitions", 2)
        .load()
    )
    assert df.schema.simpleString() == ref[0]
    name = unique("rmb")
    q = df.writeStream.format("memory").queryName(name).trigger(processingTime="200 milliseconds").start()
    deadline = time.time() + 30
    while len(q.recentProgress) < 4 and time.time() < deadline:
        time.sleep(0.1)
    q.stop()
    rows = sorted(spark.table(name).collect(), key=lambda r: r.value)
    assert json.dumps([[r.value, r.timestamp.isoformat()] for r in rows][:12]) == ref[1]
    for p, line in zip(q.recentProgress[:4], ref[2:6]):
        want = json.loads(line)
        got = json.loads(p.json)["sources"][0]
        assert got["description"] == want["description"]
        assert (got["startOffset"], got["endOffset"], got["numInputRows"]) == (want["startOffset"], want["endOffset"], want["numInputRows"])
    with pytest.raises(Exception, match=r"Invalid value '0'. The option 'rowsPerBatch' must be positive"):
        spark.readStream.format("rate-micro-batch").load().writeStream.format("noop").start()
    once = unique("rmb_once")
    q = spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 2).load().writeStream.format("memory").queryName(once).trigger(availableNow=True).start()
    assert q.awaitTermination(30)
    # Spark: availableNow batches 1 rows 2
    assert ref[-1] == "availableNow batches 1 rows 2"
    assert (len(q.recentProgress), spark.table(once).count()) == (1, 2)
