"""Delta table properties honoured, through the real client: the change data feed
(`delta.enableChangeDataFeed`, read with `table_changes()` and `readChangeFeed`), optimized
writes (what every write does) and auto compaction (`delta.autoOptimize.*`), `delta.deletedFileRetentionDuration` (what
VACUUM may delete) and `delta.logRetentionDuration` (which log entries are cleaned up). The
expected change rows are computed in each test from the statements it ran, following Delta's
documented change data feed (an UPDATE gives a pre- and a post-image, a DELETE the deleted row);
the file counts and log files are read from the table with the `deltalake` package and the file
system, not through Spate."""

import time
from datetime import datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable
from conftest import delta_location as location
from pyspark.errors import AnalysisException


def changes(rows):
    return sorted((r["id"], r["v"], r["_change_type"], r["_commit_version"]) for r in rows)


def test_change_data_feed_records_inserts_updates_deletes_and_merges(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT, v STRING) USING DELTA "
              "TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    data = {1: "a", 2: "b", 3: "c"}
    spark.sql(f"INSERT INTO {table} VALUES " + ", ".join(f"({k}, '{v}')" for k, v in data.items()))
    spark.sql(f"UPDATE {table} SET v = 'B' WHERE id = 2")
    spark.sql(f"DELETE FROM {table} WHERE id = 3")
    source = {1: "A", 4: "d"}
    spark.createDataFrame(list(source.items()), "id int, v string").createOrReplaceTempView("cdf_src")
    spark.sql(f"MERGE INTO {table} t USING cdf_src s ON t.id = s.id "
              "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT *")
    expected = (
        [(k, v, "insert", 1) for k, v in data.items()]
        + [(2, "b", "update_preimage", 2), (2, "B", "update_postimage", 2)]
        + [(3, "c", "delete", 3)]
        + [(1, "a", "update_preimage", 4), (1, "A", "update_postimage", 4), (4, "d", "insert", 4)]
    )
    got = spark.sql(f"SELECT * FROM table_changes('{table}', 1)")
    assert [(f.name, f.dataType.simpleString()) for f in got.schema.fields] == [
        ("id", "int"), ("v", "string"), ("_change_type", "string"),
        ("_commit_version", "bigint"), ("_commit_timestamp", "timestamp")]
    rows = got.collect()
    assert changes(rows) == sorted(expected)
    # each change carries its commit's time, as the log records it (read here by delta-rs)
    path = location(spark, table)
    commit_ms = {h["version"]: h["timestamp"] for h in DeltaTable(path).history()}
    for r in rows:
        assert int(r["_commit_timestamp"].timestamp() * 1000) == commit_ms[r["_commit_version"]]
    # a bounded range, by the DataFrame reader and by path
    middle = sorted(e for e in expected if e[3] in (2, 3))
    reader = (spark.read.format("delta").option("readChangeFeed", "true")
              .option("startingVersion", 2).option("endingVersion", 3).load(path))
    assert changes(reader.collect()) == middle
    assert changes(spark.sql(f"SELECT * FROM table_changes_by_path('{path}', 2, 3)").collect()) == middle
    # the changes can be filtered and aggregated like any rows
    counted = spark.sql(f"SELECT _change_type, count(*) AS n FROM table_changes('{table}', 1) "
                        "GROUP BY _change_type").collect()
    assert {r["_change_type"]: r["n"] for r in counted} == {
        "insert": 4, "update_preimage": 2, "update_postimage": 2, "delete": 1}


def test_change_data_feed_by_timestamp(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT, v STRING) USING DELTA "
              "TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    spark.sql(f"INSERT INTO {table} VALUES (1, 'a')")
    time.sleep(1.1)
    between = datetime.now().astimezone().isoformat()
    time.sleep(1.1)
    spark.sql(f"INSERT INTO {table} VALUES (2, 'b')")
    got = spark.sql(f"SELECT * FROM table_changes('{table}', '{between}')").collect()
    assert changes(got) == [(2, "b", "insert", 2)]
    reader = (spark.read.format("delta").option("readChangeFeed", "true")
              .option("startingTimestamp", between).load(location(spark, table)))
    assert changes(reader.collect()) == [(2, "b", "insert", 2)]


def test_change_data_feed_errors_name_the_problem(spark, table, tmp_dir):
    spark.sql(f"CREATE TABLE {table} (id INT, v STRING) USING DELTA")
    spark.sql(f"INSERT INTO {table} VALUES (1, 'a')")
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"SELECT * FROM table_changes('{table}', 0)").collect()
    assert "DELTA_MISSING_CHANGE_DATA" in str(info.value)
    path = location(spark, table)
    with pytest.raises(AnalysisException) as info:
        spark.read.format("delta").option("readChangeFeed", "true").load(path).collect()
    assert "DELTA_NO_START_FOR_CDC_READ" in str(info.value)
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    spark.sql(f"INSERT INTO {table} VALUES (2, 'b')")
    # recorded from the version that turned it on
    assert changes(spark.sql(f"SELECT * FROM table_changes('{table}', 3)").collect()) == [(2, "b", "insert", 3)]
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"SELECT * FROM table_changes('{table}', 3, 2)").collect()
    assert "DELTA_INVALID_CDC_RANGE" in str(info.value)


def file_count(path):
    return len(DeltaTable(path).file_uris())


def test_writes_are_optimized_writes(spark, tmp_dir):
    # delta.autoOptimize.optimizeWrite asks for one file per table partition instead of one per
    # task; Spate's writes always do that, with or without the property
    rows = spark.range(600).selectExpr("id", "CAST(id % 3 AS STRING) AS p").repartition(6)
    for name, props in [("plain", {}), ("asked", {"delta.autoOptimize.optimizeWrite": "true"})]:
        path, partitioned = str(tmp_dir / name), str(tmp_dir / f"{name}_p")
        rows.write.format("delta").options(**props).save(path)
        rows.write.format("delta").options(**props).partitionBy("p").save(partitioned)
        assert file_count(path) == 1
        assert file_count(partitioned) == 3
        assert DeltaTable(path).metadata().configuration == props
        back = spark.read.format("delta").load(partitioned).collect()
        assert sorted((r["id"], r["p"]) for r in back) == sorted((i, str(i % 3)) for i in range(600))


def test_auto_compact_rewrites_small_files_once_enough_gather(spark, table):
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "4")
    try:
        spark.sql(f"CREATE TABLE {table} (id BIGINT) USING DELTA "
                  "TBLPROPERTIES ('delta.autoOptimize.autoCompact' = 'true')")
        path = location(spark, table)
        for i in range(3):
            spark.sql(f"INSERT INTO {table} VALUES ({i})")
        assert file_count(path) == 3
        spark.sql(f"INSERT INTO {table} VALUES (3)")
        # the fourth small file set compaction off: one file, in a commit of its own
        assert file_count(path) == 1
        ops = [h["operation"] for h in DeltaTable(path).history()]
        assert ops[:2] == ["OPTIMIZE", "WRITE"]
        assert sorted(r[0] for r in spark.table(table).collect()) == [0, 1, 2, 3]
        # the session setting turns it off for a table that asks for it
        spark.conf.set("spark.databricks.delta.autoCompact.enabled", "false")
        for i in range(4):
            spark.sql(f"INSERT INTO {table} VALUES ({10 + i})")
        assert file_count(path) == 5
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")
        spark.conf.unset("spark.databricks.delta.autoCompact.enabled")


def test_auto_compact_is_off_without_the_property(spark, table):
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "2")
    try:
        spark.sql(f"CREATE TABLE {table} (id BIGINT) USING DELTA")
        for i in range(3):
            spark.sql(f"INSERT INTO {table} VALUES ({i})")
        assert file_count(location(spark, table)) == 3
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")


def test_auto_compact_counts_small_files_per_partition(spark, table):
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "3")
    try:
        spark.sql(f"CREATE TABLE {table} (id BIGINT, p STRING) USING DELTA PARTITIONED BY (p) "
                  "TBLPROPERTIES ('delta.autoOptimize.autoCompact' = 'true')")
        path = location(spark, table)
        for i in range(2):
            spark.sql(f"INSERT INTO {table} VALUES ({i}, 'x'), ({i + 100}, 'y')")
        spark.sql(f"INSERT INTO {table} VALUES (7, 'x')")
        # 'x' reached three small files and was compacted; 'y' has two and was left alone
        files = DeltaTable(path).file_uris()
        assert sum("p=x" in f for f in files) == 1
        assert sum("p=y" in f for f in files) == 2
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")


def test_deleted_file_retention_duration_sets_what_vacuum_keeps(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA "
              "TBLPROPERTIES ('delta.deletedFileRetentionDuration' = 'interval 1 seconds') "
              "AS SELECT id FROM range(5)")
    path = Path(location(spark, table))
    old = {p.name for p in path.glob("*.parquet")}
    spark.sql(f"INSERT OVERWRITE {table} SELECT id FROM range(2)")
    time.sleep(1.5)
    # no RETAIN: the table's own retention (1 second) applies, and passes the safety check
    spark.sql(f"VACUUM {table}")
    assert not ({p.name for p in path.glob("*.parquet")} & old)
    assert sorted(r[0] for r in spark.table(table).collect()) == [0, 1]


def test_default_retention_keeps_removed_files(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA AS SELECT id FROM range(5)")
    path = Path(location(spark, table))
    old = {p.name for p in path.glob("*.parquet")}
    spark.sql(f"INSERT OVERWRITE {table} SELECT id FROM range(2)")
    time.sleep(1.5)
    spark.sql(f"VACUUM {table}")
    assert {p.name for p in path.glob("*.parquet")} >= old


def log_versions(path):
    return sorted(int(p.name.split(".")[0]) for p in (Path(path) / "_delta_log").glob("*.json"))


def test_log_retention_duration_cleans_up_old_log_entries(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA TBLPROPERTIES ("
              "'delta.checkpointInterval' = '2', 'delta.logRetentionDuration' = 'interval 1 seconds')")
    path = location(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES (1)")
    time.sleep(1.5)
    for i in range(2, 5):
        spark.sql(f"INSERT INTO {table} VALUES ({i})")
    # entries older than a second, before the newest checkpoint, are gone; the table reads whole
    kept = log_versions(path)
    assert 0 not in kept and kept[-1] == 4
    assert sorted(r[0] for r in spark.table(table).collect()) == [1, 2, 3, 4]
    assert sorted(DeltaTable(path).to_pyarrow_table().column("id").to_pylist()) == [1, 2, 3, 4]
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"SELECT * FROM {table} VERSION AS OF 0").collect()
    assert "0" in str(info.value)


def test_default_log_retention_keeps_every_entry(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    path = location(spark, table)
    for i in range(4):
        spark.sql(f"INSERT INTO {table} VALUES ({i})")
    assert log_versions(path) == [0, 1, 2, 3, 4]
    assert [r[0] for r in spark.sql(f"SELECT * FROM {table} VERSION AS OF 1").collect()] == [0]


def test_seed_000_table_properties_are_set_and_kept(spark, table):
    # seed 000's statement, on a table of ours
    spark.sql(f"CREATE TABLE {table} (event_type STRING, n BIGINT) USING DELTA")
    spark.sql(f"""
        ALTER TABLE {table} SET TBLPROPERTIES (
            'delta.logRetentionDuration' = 'interval 30 days',
            'delta.deletedFileRetentionDuration' = 'interval 7 days',
            'delta.autoOptimize.optimizeWrite' = 'true',
            'delta.autoOptimize.autoCompact' = 'true'
        )
    """)
    props = DeltaTable(location(spark, table)).metadata().configuration
    assert props == {
        "delta.logRetentionDuration": "interval 30 days",
        "delta.deletedFileRetentionDuration": "interval 7 days",
        "delta.autoOptimize.optimizeWrite": "true",
        "delta.autoOptimize.autoCompact": "true",
    }
    spark.createDataFrame([("click", 1), ("view", 2)], "event_type string, n long").repartition(2) \
        .write.format("delta").mode("append").saveAsTable(table)
    # the optimized write gathered both tasks' rows into one file
    assert file_count(location(spark, table)) == 1
    assert sorted(tuple(r) for r in spark.table(table).collect()) == [("click", 1), ("view", 2)]
