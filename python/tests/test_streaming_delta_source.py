"""The Delta streaming source (issue 21): readStream.format("delta") reads the table as of the
query's start, then the rows later commits append; a restart goes on from the checkpoint;
startingVersion (or startingTimestamp) starts from a version's changes; a commit that deletes or updates rows fails
the query with delta-spark's error unless skipChangeCommits (or, for deletes only,
ignoreDeletes) says to skip it; maxFilesPerTrigger/maxBytesPerTrigger bound the files a batch
takes. Also the Delta sink's schema evolution with mergeSchema."""

import datetime as dt
import json
import time

import pytest
from pyspark.errors import StreamingQueryException


def append(spark, path, ids):
    spark.createDataFrame([(i, f"n{i}") for i in ids], "id long, name string").write.format("delta").mode("append").save(path)


def run(spark, path, ckpt, name, **options):
    reader = spark.readStream.format("delta")
    for k, v in options.items():
        reader = reader.option(k, v)
    q = (
        reader.load(path)
        .writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", ckpt)
        .trigger(availableNow=True)
        .start()
    )
    try:
        q.awaitTermination(120)
    except StreamingQueryException:
        pass  # the callers look at q.exception()
    return q


def ids(spark, name):
    return sorted(r.id for r in spark.table(name).collect())


def test_the_table_then_its_appends_exactly_once_across_restarts(spark, tmp_dir):
    path, ckpt = str(tmp_dir / "t"), str(tmp_dir / "ckpt")
    append(spark, path, [1, 2])
    append(spark, path, [3])
    df = spark.readStream.format("delta").load(path)
    assert df.isStreaming
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [("id", "bigint"), ("name", "string")]
    q = run(spark, path, ckpt, "delta_src_1")
    assert q.exception() is None
    assert ids(spark, "delta_src_1") == [1, 2, 3]
    append(spark, path, [4, 5])
    append(spark, path, [6])
    q = run(spark, path, ckpt, "delta_src_2")
    assert q.exception() is None
    assert ids(spark, "delta_src_2") == [4, 5, 6]
    assert [p.numInputRows for p in q.recentProgress] == [3]
    assert q.recentProgress[0].sources[0].description.startswith("DeltaSource[")


def test_starting_version_reads_the_changes_from_that_version(spark, tmp_dir):
    path = str(tmp_dir / "t")
    for batch in ([1], [2, 3], [4]):
        append(spark, path, batch)
    q = run(spark, path, str(tmp_dir / "ckpt"), "delta_src_sv", startingVersion="1")
    assert q.exception() is None
    assert ids(spark, "delta_src_sv") == [2, 3, 4]


def test_a_delete_fails_the_stream_unless_it_is_skipped(spark, tmp_dir):
    path, ckpt = str(tmp_dir / "t"), str(tmp_dir / "ckpt")
    append(spark, path, [1, 2, 3])
    assert run(spark, path, ckpt, "delta_src_d1").exception() is None
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 2")
    append(spark, path, [7])
    q = run(spark, path, ckpt, "delta_src_d2")
    # DELETE rewrote the file that held id 2: delta-spark calls that a data update
    e = q.exception()
    assert e is not None and "DELTA_SOURCE_TABLE_IGNORE_CHANGES" in str(e) and "version 1" in str(e)
    # the same checkpoint, told to skip commits that change data: the later append comes through
    q = run(spark, path, ckpt, "delta_src_d3", skipChangeCommits="true")
    assert q.exception() is None
    assert ids(spark, "delta_src_d3") == [7]


def test_read_stream_table_reads_a_delta_table(spark, table, tmp_dir):
    spark.createDataFrame([(1, "a"), (2, "b")], "id long, name string").write.format("delta").saveAsTable(table)
    q = (
        spark.readStream.table(table)
        .writeStream.format("memory")
        .queryName("delta_src_table")
        .option("checkpointLocation", str(tmp_dir / "ckpt"))
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    assert q.exception() is None
    assert sorted((r.id, r.name) for r in spark.table("delta_src_table").collect()) == [(1, "a"), (2, "b")]


def test_ignore_deletes_skips_commits_that_only_delete(spark, tmp_dir):
    path, ckpt = str(tmp_dir / "t"), str(tmp_dir / "ckpt")
    append(spark, path, [1, 2, 3])
    append(spark, path, [4])
    assert run(spark, path, ckpt, "delta_src_i1").exception() is None
    # every row of the file that held 4 goes: the commit removes that file and adds none
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 4")
    append(spark, path, [5])
    q = run(spark, path, ckpt, "delta_src_i2")
    e = q.exception()
    assert e is not None and "DELTA_SOURCE_IGNORE_DELETE" in str(e) and "version 2" in str(e)
    q = run(spark, path, ckpt, "delta_src_i3", ignoreDeletes="true")
    assert q.exception() is None
    assert ids(spark, "delta_src_i3") == [5]
    # a delete that rewrites a file (1 and 3 stay) changes data: ignoreDeletes does not skip it
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 2")
    q = run(spark, path, ckpt, "delta_src_i4", ignoreDeletes="true")
    e = q.exception()
    assert e is not None and "DELTA_SOURCE_TABLE_IGNORE_CHANGES" in str(e) and "version 4" in str(e)


def test_starting_timestamp_reads_the_changes_committed_from_then_on(spark, tmp_dir):
    path = str(tmp_dir / "t")
    append(spark, path, [1])
    time.sleep(0.05)
    since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    time.sleep(0.05)
    append(spark, path, [2, 3])
    append(spark, path, [4])
    q = run(spark, path, str(tmp_dir / "ckpt"), "delta_src_ts", startingTimestamp=since)
    assert q.exception() is None
    assert ids(spark, "delta_src_ts") == [2, 3, 4]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    with pytest.raises(Exception, match="DELTA_TIMESTAMP_GREATER_THAN_COMMIT"):
        q = run(spark, path, str(tmp_dir / "ckpt2"), "delta_src_ts2", startingTimestamp=later)
        assert q.exception() is not None
        raise q.exception()


def test_max_files_per_trigger_splits_the_snapshot_and_the_commits_into_batches(spark, tmp_dir):
    path, ckpt = str(tmp_dir / "t"), str(tmp_dir / "ckpt")

    def commit(values):
        # one file per commit
        df = spark.createDataFrame([(i, f"n{i}") for i in values], "id long, name string")
        df.write.format("delta").mode("append").save(path)

    for values in ([1, 2], [3], [4, 5]):
        commit(values)
        time.sleep(0.01)  # the snapshot's files go oldest first
    q = run(spark, path, ckpt, "delta_src_mf1", maxFilesPerTrigger="1")
    assert q.exception() is None
    batches = [json.loads(p.json) for p in q.recentProgress]
    # the snapshot of version 2, one file per batch, in the order the files were written
    assert [b["numInputRows"] for b in batches] == [2, 1, 2]
    last = batches[-1]["sources"][0]["endOffset"]
    assert (last["reservoirVersion"], last["index"], last["isStartingVersion"]) == (3, -1, False)
    assert ids(spark, "delta_src_mf1") == [1, 2, 3, 4, 5]
    commit([6])
    commit([7])
    commit([8, 9])
    q = run(spark, path, ckpt, "delta_src_mf2", maxFilesPerTrigger="2")
    assert q.exception() is None
    # the files of commits 3 and 4 (one each), then commit 5's
    assert [p.numInputRows for p in q.recentProgress] == [1 + 1, 2]
    assert ids(spark, "delta_src_mf2") == [6, 7, 8, 9]
    commit([10])
    commit([11])
    q = run(spark, path, ckpt, "delta_src_mb", maxBytesPerTrigger="1")
    assert q.exception() is None
    # at least one file per batch however small the limit
    assert [p.numInputRows for p in q.recentProgress] == [1, 1]
    assert ids(spark, "delta_src_mb") == [10, 11]


def test_the_delta_sink_evolves_the_table_schema_only_with_merge_schema(spark, tmp_dir):
    a, b, table = tmp_dir / "a", tmp_dir / "b", str(tmp_dir / "t")
    a.mkdir()
    b.mkdir()
    (a / "1.json").write_text('{"id": 1}\n{"id": 2}\n')
    (b / "1.json").write_text('{"id": 3, "extra": "x"}\n')

    def write(src, schema, ckpt, **options):
        w = spark.readStream.schema(schema).json(str(src)).writeStream.format("delta")
        for k, v in options.items():
            w = w.option(k, v)
        return w.option("checkpointLocation", str(tmp_dir / ckpt)).trigger(availableNow=True).start(table)

    assert write(a, "id long", "c1").awaitTermination(60)
    # a new column without mergeSchema: delta-spark's schema mismatch fails the query
    with pytest.raises(StreamingQueryException, match="_LEGACY_ERROR_TEMP_DELTA_0007"):
        write(b, "id long, extra string", "c2").awaitTermination(60)
    q = write(b, "id long, extra string", "c3", mergeSchema="true")
    assert q.awaitTermination(60)
    assert q.exception() is None
    rows = spark.read.format("delta").load(table)
    assert rows.columns == ["id", "extra"]
    assert sorted((r.id, r.extra) for r in rows.collect()) == [(1, None), (2, None), (3, "x")]
