"""Delta Lake tables through the real client: `df.write.format("delta")` with its modes and
delta-spark's write options, `spark.read.format("delta")` with time travel, and both directions
of interoperability with the `deltalake` Python package (delta-rs, its own Arrow and Parquet
code), which also reads each table's log for the checks on commits. Expected values are built
in the tests; Delta's documented behaviour gives the rules (a `replaceWhere` overwrite replaces
only matching rows, a repeated txnAppId/txnVersion is skipped, ...)."""

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

import pyarrow as pa


def rows(df, *cols):
    return sorted(tuple(r[c] for c in cols) for r in df.collect())


@pytest.fixture
def people(spark):
    return spark.createDataFrame([(1, "ann", 3.5), (2, "bob", None), (3, "cy", 7.0)], "id long, name string, score double")


def test_write_then_read_round_trips_values_and_types(spark, people, tmp_dir):
    path = str(tmp_dir / "t")
    people.write.format("delta").save(path)
    back = spark.read.format("delta").load(path)
    assert [(f.name, f.dataType.simpleString()) for f in back.schema.fields] == [
        ("id", "bigint"), ("name", "string"), ("score", "double")]
    assert rows(back, "id", "name", "score") == [(1, "ann", 3.5), (2, "bob", None), (3, "cy", 7.0)]
    # one commit, version 0, a WRITE
    history = DeltaTable(path).history()
    assert [h["version"] for h in history] == [0]


def test_append_overwrite_error_and_ignore_modes(spark, people, tmp_dir):
    path = str(tmp_dir / "t")
    people.write.format("delta").save(path)
    people.where("id = 1").write.format("delta").mode("append").save(path)
    assert spark.read.format("delta").load(path).count() == 4
    with pytest.raises(AnalysisException) as info:
        people.write.format("delta").save(path)
    assert "DELTA_PATH_EXISTS" in str(info.value) and path in str(info.value)
    people.write.format("delta").mode("ignore").save(path)
    assert spark.read.format("delta").load(path).count() == 4
    people.where("id > 1").write.format("delta").mode("overwrite").save(path)
    assert rows(spark.read.format("delta").load(path), "id") == [(2,), (3,)]
    assert DeltaTable(path).version() == 2


def test_time_travel_by_version_and_timestamp_after_overwrite(spark, people, tmp_dir):
    path = str(tmp_dir / "t")
    people.write.format("delta").save(path)
    time.sleep(1.1)
    between = datetime.now().astimezone()
    time.sleep(1.1)
    people.where("id = 2").write.format("delta").mode("overwrite").save(path)
    assert rows(spark.read.format("delta").load(path), "id") == [(2,)]
    v0 = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assert rows(v0, "id") == [(1,), (2,), (3,)]
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    stamp = datetime.fromtimestamp(between.timestamp(), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    old = spark.read.format("delta").option("timestampAsOf", stamp).load(path)
    assert rows(old, "id") == [(1,), (2,), (3,)]
    with pytest.raises(Exception) as info:
        spark.read.format("delta").option("versionAsOf", 7).load(path).collect()
    assert "version 7" in str(info.value) and path in str(info.value)


def test_partition_by_writes_hive_directories_and_reads_back(spark, tmp_dir):
    path = tmp_dir / "t"
    df = spark.createDataFrame([("a", 1), ("b", 2), ("a", 3)], "k string, v int")
    df.write.format("delta").partitionBy("k").save(str(path))
    assert sorted(p.name for p in path.iterdir() if p.is_dir() and p.name != "_delta_log") == ["k=a", "k=b"]
    assert DeltaTable(str(path)).metadata().partition_columns == ["k"]
    back = spark.read.format("delta").load(str(path))
    assert rows(back, "k", "v") == [("a", 1), ("a", 3), ("b", 2)]
    assert rows(back.where("k = 'a'"), "v") == [(1,), (3,)]


def test_replace_where_overwrites_only_matching_rows(spark, tmp_dir):
    path = str(tmp_dir / "t")
    spark.createDataFrame([("2024-01-01", 1), ("2024-01-02", 2)], "day string, v int").write.format("delta").partitionBy("day").save(path)
    fresh = spark.createDataFrame([("2024-01-02", 20), ("2024-01-02", 21)], "day string, v int")
    fresh.write.format("delta").mode("overwrite").option("replaceWhere", "day = '2024-01-02'").save(path)
    assert rows(spark.read.format("delta").load(path), "day", "v") == [("2024-01-01", 1), ("2024-01-02", 20), ("2024-01-02", 21)]


def test_merge_schema_adds_columns_and_overwrite_schema_replaces_them(spark, tmp_dir):
    path = str(tmp_dir / "t")
    spark.createDataFrame([(1,)], "id long").write.format("delta").save(path)
    wider = spark.createDataFrame([(2, "x")], "id long, tag string")
    with pytest.raises(AnalysisException) as info:
        wider.write.format("delta").mode("append").save(path)
    assert "schema mismatch" in str(info.value) and "mergeSchema" in str(info.value)
    wider.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
    assert rows(spark.read.format("delta").load(path), "id", "tag") == [(1, None), (2, "x")]
    other = spark.createDataFrame([("z",)], "label string")
    other.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
    back = spark.read.format("delta").load(path)
    assert back.columns == ["label"] and rows(back, "label") == [("z",)]


def test_user_metadata_is_kept_in_the_commit(spark, people, tmp_dir):
    path = str(tmp_dir / "t")
    people.write.format("delta").option("userMetadata", "nightly run 42").save(path)
    assert DeltaTable(path).history(1)[0].get("userMetadata") == "nightly run 42"


def test_repeated_txn_version_is_skipped(spark, people, tmp_dir):
    path = str(tmp_dir / "t")
    people.write.format("delta").save(path)
    for version in (1, 1, 2, 1):
        people.where("id = 1").write.format("delta").mode("append").option("txnAppId", "job-a").option(
            "txnVersion", version).save(path)
    # versions 1 and 2 of job-a are applied once each; the repeats are not
    assert spark.read.format("delta").load(path).count() == 3 + 2
    assert DeltaTable(path).version() == 2


def test_the_deltalake_package_reads_what_spate_writes(spark, tmp_dir):
    path = str(tmp_dir / "t")
    df = spark.range(1000).select(F.col("id"), (F.col("id") % 7).alias("m"), F.concat(F.lit("n"), F.col("id").cast("string")).alias("s"))
    df.write.format("delta").partitionBy("m").save(path)
    table = DeltaTable(path).to_pyarrow_table()
    assert table.num_rows == 1000
    got = sorted(zip(table.column("id").to_pylist(), table.column("m").to_pylist(), table.column("s").to_pylist()))
    assert got == [(i, i % 7, f"n{i}") for i in range(1000)]


def test_spate_reads_what_the_deltalake_package_writes(spark, tmp_dir):
    path = str(tmp_dir / "t")
    first = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", None]})
    write_deltalake(path, first)
    write_deltalake(path, pa.table({"id": pa.array([3], pa.int64()), "name": ["c"]}), mode="append")
    back = spark.read.format("delta").load(path)
    assert rows(back, "id", "name") == [(1, "a"), (2, None), (3, "c")]
    assert rows(spark.read.format("delta").option("versionAsOf", 0).load(path), "id") == [(1,), (2,)]


def test_a_path_without_a_table_is_named_in_the_error(spark, tmp_dir):
    missing = tmp_dir / "nothing-here"
    with pytest.raises(AnalysisException) as info:
        spark.read.format("delta").load(str(missing)).collect()
    assert "DELTA_MISSING_DELTA_TABLE" in str(info.value) and str(missing) in str(info.value)


def test_an_unreadable_log_is_named_in_the_error(spark, people, tmp_dir):
    """A commit file that is not JSON: reads and writes fail with the table's path in the
    message, and the server goes on serving."""
    path = tmp_dir / "t"
    people.write.format("delta").save(str(path))
    people.write.format("delta").mode("append").save(str(path))
    (path / "_delta_log" / "00000000000000000001.json").write_text("this is not a commit\n")
    for action in (lambda: spark.read.format("delta").load(str(path)).collect(),
                   lambda: people.write.format("delta").mode("append").save(str(path)),
                   lambda: spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 1").collect()):
        with pytest.raises(AnalysisException) as info:
            action()
        # the table and what is wrong with it, without delta-rs's backtrace
        assert str(path) in str(info.value) and "Json error" in str(info.value)
        assert "with_backtrace" not in str(info.value)
    # the earlier version is intact, and the server still answers
    assert rows(spark.read.format("delta").option("versionAsOf", 0).load(str(path)), "id") == [(1,), (2,), (3,)]
    assert spark.range(3).count() == 3


def test_sql_reads_a_table_by_its_path(spark, people, tmp_dir):
    path = str(tmp_dir / "Mixed-Case")
    people.write.format("delta").save(path)
    got = spark.sql(f"SELECT name FROM delta.`{path}` WHERE score > 3 ORDER BY id").collect()
    assert [r["name"] for r in got] == ["ann", "cy"]


def test_delta_sparks_delta_table_reads_and_shows_history(spark, people, tmp_dir):
    """delta-spark's own Python DeltaTable over the remote session (its Spark Connect client)."""
    from delta.tables import DeltaTable as SparkDeltaTable

    path = str(tmp_dir / "t")
    people.write.format("delta").save(path)
    people.where("id = 1").write.format("delta").mode("append").option("userMetadata", "second").save(path)
    table = SparkDeltaTable.forPath(spark, path)
    assert rows(table.toDF(), "id") == [(1,), (1,), (2,), (3,)]
    history = table.history()
    assert [r["version"] for r in history.collect()] == [1, 0]
    latest = table.history(1).collect()
    assert len(latest) == 1 and latest[0]["version"] == 1 and latest[0]["userMetadata"] == "second"
    assert latest[0]["operation"] == "WRITE" and latest[0]["operationParameters"]["mode"] == "Append"
    # seed 002: the version for lineage tracking
    assert table.history(1).select("version").collect()[0][0] == 1
    assert SparkDeltaTable.forName(spark, f"delta.`{path}`").toDF().count() == 4


def test_seed_002_delta_functions_run_as_written(spark, tmp_dir):
    """Seed 002's write_features_to_delta and create_training_dataset_with_lineage, unchanged but
    for paths: a day's features replaced in place, time travel to the training end, a
    point-in-time join, and the Delta version of the result."""
    from delta.tables import DeltaTable
    from pyspark.sql import Window

    # seed 002 (as written)
    def write_features_to_delta(df, delta_path: str, feature_date: str):
        df.withColumn("feature_date", F.lit(feature_date)) \
            .write \
            .format("delta") \
            .mode("overwrite") \
            .option("replaceWhere", f"feature_date = '{feature_date}'") \
            .save(delta_path)

    def create_training_dataset_with_lineage(events_path, features_path, training_start, training_end, output_path):
        events = spark.read.format("delta").load(events_path) \
            .filter(f"event_date BETWEEN '{training_start}' AND '{training_end}'")
        features = spark.read.format("delta") \
            .option("timestampAsOf", training_end) \
            .load(features_path)
        window = Window.partitionBy("user_id").orderBy(F.desc("feature_date"))
        pit_features = features \
            .join(events.select("user_id", "event_timestamp").distinct(), on="user_id") \
            .filter(F.col("feature_date") <= F.col("event_timestamp").cast("date")) \
            .withColumn("rank", F.row_number().over(window)) \
            .filter("rank = 1") \
            .drop("rank")
        training_data = events.join(pit_features, on="user_id", how="left")
        training_data.write \
            .format("delta") \
            .mode("overwrite") \
            .save(output_path)
        delta_table = DeltaTable.forPath(spark, output_path)
        version = delta_table.history(1).select("version").collect()[0][0]
        return f"delta_version_{version}"
    # end seed

    features_path, events_path, output_path = (str(tmp_dir / n) for n in ("features", "events", "training"))
    write_features_to_delta(spark.createDataFrame([(1, 0.5), (2, 0.7)], "user_id long, score double"), features_path, "2024-01-01")
    write_features_to_delta(spark.createDataFrame([(1, 0.9)], "user_id long, score double"), features_path, "2024-01-02")
    # the second day again: replaced, not added
    write_features_to_delta(spark.createDataFrame([(1, 0.8)], "user_id long, score double"), features_path, "2024-01-02")
    assert rows(spark.read.format("delta").load(features_path), "user_id", "feature_date", "score") == [
        (1, "2024-01-01", 0.5), (1, "2024-01-02", 0.8), (2, "2024-01-01", 0.7)]
    events = spark.createDataFrame(
        [(1, "2024-01-01", datetime(2024, 1, 1, 12)), (1, "2024-01-02", datetime(2024, 1, 2, 9)), (2, "2024-01-02", datetime(2024, 1, 2, 10))],
        "user_id long, event_date string, event_timestamp timestamp")
    events.write.format("delta").save(events_path)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # the training end is after every commit (it is cut to the second: a second later than the
    # last one), so all features are visible
    time.sleep(1.1)
    training_end = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    # As written, the final join keeps `event_timestamp` from both sides, and Delta refuses data
    # with duplicate columns (Spark with delta-spark fails the same way): the error names it.
    with pytest.raises(AnalysisException) as info:
        create_training_dataset_with_lineage(events_path, features_path, "2024-01-01", training_end, output_path)
    assert "DELTA_DUPLICATE_COLUMNS_FOUND" in str(info.value) and "event_timestamp" in str(info.value)
    assert not (tmp_dir / "training" / "_delta_log").exists()


def test_warehouse_tables_in_delta_keep_versions(spark, people):
    spark.sql("DROP TABLE IF EXISTS delta_people")
    people.write.format("delta").saveAsTable("delta_people")
    people.where("id = 1").write.insertInto("delta_people")
    assert spark.table("delta_people").count() == 4
    people.where("id = 3").write.format("delta").mode("overwrite").saveAsTable("delta_people")
    assert rows(spark.table("delta_people"), "id") == [(3,)]
    assert rows(spark.sql("SELECT id FROM delta_people"), "id") == [(3,)]
    from delta.tables import DeltaTable as SparkDeltaTable

    # the overwrite is version 2 of the same table: its history is kept
    assert [r["version"] for r in SparkDeltaTable.forName(spark, "delta_people").history().collect()] == [2, 1, 0]
    spark.sql("DROP TABLE delta_people")


def test_concurrent_appends_all_commit(server, tmp_dir):
    """Two sessions appending to one table at once: Delta lets blind appends commit one after
    the other (a conflicting version number is retried), so no write is lost and the versions
    follow each other."""
    import threading

    from pyspark.sql import SparkSession

    path = str(tmp_dir / "t")
    first = SparkSession.builder.remote(server["url"]).create()
    first.range(1).write.format("delta").save(path)
    errors = []

    def writer(k):
        session = SparkSession.builder.remote(server["url"]).create()
        try:
            for i in range(6):
                session.range(k * 100 + i * 10, k * 100 + i * 10 + 10).write.format("delta").mode("append").save(path)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            session.stop()

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.stop()
    assert errors == []
    table = DeltaTable(path)
    assert table.version() == 12
    ids = sorted(table.to_pyarrow_table().column("id").to_pylist())
    assert ids == [0] + [k * 100 + j for k in (1, 2) for j in range(60)]


def test_concurrent_updates_conflict_or_serialize(server, tmp_dir):
    """Two sessions updating every row of one table at once: each UPDATE reads the whole table
    and rewrites it, so Delta's conflict rules let only one of two overlapping commits through;
    the other fails with one of delta-spark's concurrent-modification errors (the winner added
    files the loser should have read: ConcurrentAppendException, DELTA_CONCURRENT_APPEND; or
    removed one it read: ConcurrentDeleteReadException), which delta-spark's Python client raises
    as its own classes. Whatever the interleaving, the table must equal the successful updates
    applied one after another: each added 1 to every row, and the log has one version each."""
    import threading

    import delta.connect  # noqa: F401 - registers delta-spark's exception classes with the client
    import delta.exceptions
    from pyspark.sql import SparkSession

    path = str(tmp_dir / "t")
    first = SparkSession.builder.remote(server["url"]).create()
    first.range(20).selectExpr("id", "0 AS n").write.format("delta").save(path)
    done, conflicts, other = [], [], []

    def updater():
        session = SparkSession.builder.remote(server["url"]).create()
        for _ in range(8):
            try:
                session.sql(f"UPDATE delta.`{path}` SET n = n + 1").collect()
                done.append(1)
            except (delta.exceptions.ConcurrentAppendException,
                    delta.exceptions.ConcurrentDeleteReadException) as e:
                conflicts.append(e)
            except Exception as e:  # noqa: BLE001 - reported below
                other.append(e)
        session.stop()

    threads = [threading.Thread(target=updater) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other == []
    # a commit fails only because the other session's committed: at least half succeed
    assert len(done) + len(conflicts) == 16 and len(done) >= 8
    classes = {"ConcurrentAppendException": "DELTA_CONCURRENT_APPEND",
               "ConcurrentDeleteReadException": "DELTA_CONCURRENT_DELETE_READ"}
    for e in conflicts:
        assert classes[type(e).__name__] in str(e) and path in str(e)
    table = DeltaTable(path)
    assert table.version() == len(done)
    rows = table.to_pyarrow_table().to_pylist()
    assert sorted((r["id"], r["n"]) for r in rows) == [(i, len(done)) for i in range(20)]
    back = first.read.format("delta").load(path).collect()
    first.stop()
    assert sorted((r["id"], r["n"]) for r in back) == [(i, len(done)) for i in range(20)]


def test_a_write_killed_halfway_leaves_the_previous_version(tmp_dir):
    """kill -9 of the server during a large overwrite: the table still reads, at its previous
    version, in Spate and in delta-rs."""
    import signal
    import socket
    import subprocess
    import threading

    from conftest import free_port, spate_binary
    from pyspark.sql import SparkSession

    path = str(tmp_dir / "t")

    def start():
        port = free_port()
        proc = subprocess.Popen([spate_binary(), "serve", "--port", str(port), "--warehouse", str(tmp_dir / "wh")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        return proc, SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()

    proc, spark = start()
    # small data files (a table property set at creation), so the overwrite writes many
    spark.range(100).write.format("delta").option("delta.targetFileSize", 1 << 20).save(path)
    assert DeltaTable(path).metadata().configuration == {"delta.targetFileSize": str(1 << 20)}
    big = spark.range(200_000_000)
    def overwrite():
        try:
            big.write.format("delta").mode("overwrite").save(path)
        except Exception:  # noqa: BLE001 - the server dies under it
            pass

    # the client may keep retrying against the dead server: nothing waits for it
    writer = threading.Thread(target=overwrite, daemon=True)
    def data_files():
        return {p for p in Path(path).rglob("*") if "_delta_log" not in p.parts}

    before = data_files()
    writer.start()
    # wait until the overwrite's first data file (or its staging file) is on disk: the write
    # is under way
    deadline = time.time() + 120
    while not data_files() - before and time.time() < deadline:
        time.sleep(0.05)
    assert data_files() - before, "the write never started"
    assert DeltaTable(path).version() == 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the dead server's client gives up now (its writer thread with it), not at exit, where
    # PySpark's clean-up would retry against the dead server for minutes
    spark.client.close()
    assert DeltaTable(path).version() == 0 and DeltaTable(path).to_pyarrow_table().num_rows == 100
    proc, spark = start()
    try:
        assert spark.read.format("delta").load(path).count() == 100
    finally:
        spark.stop()
        proc.kill()
        proc.wait()
