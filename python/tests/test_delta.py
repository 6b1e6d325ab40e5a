"""Delta Lake tables through the real client: `df.write.format("delta")` with its modes and
delta-spark's write options, `spark.read.format("delta")` with time travel, and both directions
of interoperability with the `deltalake` Python package (delta-rs, its own Arrow and Parquet
code), which also reads each table's log for the checks on commits. Expected values are built
in the tests; Delta's documented behaviour gives the rules (a `replaceWhere` overwrite replaces
only matching rows, a repeated txnAppId/txnVersion is skipped, ...)."""

import time
from datetime import datetime, timezone

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
    assert "7" in str(info.value)


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
    with pytest.raises(Exception):
        wider.write.format("delta").mode("append").save(path)
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


def test_sql_reads_a_table_by_its_path(spark, people, tmp_dir):
    path = str(tmp_dir / "Mixed-Case")
    people.write.format("delta").save(path)
    got = spark.sql(f"SELECT name FROM delta.`{path}` WHERE score > 3 ORDER BY id").collect()
    assert [r["name"] for r in got] == ["ann", "cy"]
