"""Delta Lake's SQL through the real client: CREATE TABLE .. USING DELTA with its clauses,
INSERT (REPLACE WHERE), DELETE, UPDATE, MERGE INTO, DESCRIBE HISTORY / DETAIL, ALTER TABLE,
OPTIMIZE [ZORDER BY], VACUUM, RESTORE, VERSION / TIMESTAMP AS OF and CONVERT TO DELTA. The
expected rows are computed in each test from the data it wrote (Python dictionaries for merges),
the statements' result columns are delta-spark's, and the `deltalake` Python package (delta-rs's
own reader) checks what reached the table's log and files."""

import time
from datetime import datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable
from conftest import delta_location as location
from pyspark.errors import AnalysisException, IllegalArgumentException


def rows(spark, query):
    return sorted(tuple(r) for r in spark.sql(query).collect())


def test_create_table_with_partitions_location_and_properties(spark, table, tmp_dir):
    path = str(tmp_dir / "t")
    spark.sql(
        f"CREATE TABLE {table} (id INT, day STRING) USING DELTA PARTITIONED BY (day) "
        f"LOCATION '{path}' TBLPROPERTIES ('delta.appendOnly' = 'true', 'delta.logRetentionDuration' = 'interval 2 days')"
    )
    spark.sql(f"INSERT INTO {table} VALUES (1, 'mon'), (2, 'tue')")
    log = DeltaTable(path)
    assert log.metadata().partition_columns == ["day"]
    assert log.metadata().configuration == {
        "delta.appendOnly": "true", "delta.logRetentionDuration": "interval 2 days"}
    assert sorted(log.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "day": "mon"}, {"id": 2, "day": "tue"}]
    detail = spark.sql(f"DESCRIBE DETAIL {table}").collect()[0]
    assert detail["format"] == "delta"
    assert detail["location"] == f"file:{path}"
    assert detail["partitionColumns"] == ["day"]
    assert detail["properties"]["delta.appendOnly"] == "true"
    assert detail["name"] == f"spark_catalog.default.{table}"
    # numFiles counts the files of the current version: one per partition
    assert detail["numFiles"] == len(log.file_uris()) == 2
    assert detail["sizeInBytes"] == sum(Path(u.removeprefix("file://")).stat().st_size for u in log.file_uris())


def test_append_only_table_refuses_deletes_and_updates(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA TBLPROPERTIES ('delta.appendOnly' = 'true')")
    spark.sql(f"INSERT INTO {table} VALUES (1), (2)")
    for stmt in (f"DELETE FROM {table} WHERE id = 1", f"UPDATE {table} SET id = 3"):
        with pytest.raises(Exception) as info:
            spark.sql(stmt).collect()
        assert "DELTA_CANNOT_MODIFY_APPEND_ONLY" in str(info.value)
    assert rows(spark, f"SELECT id FROM {table}") == [(1,), (2,)]


def test_create_as_select_and_create_or_replace_keep_history(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA AS SELECT id, id * 2 AS twice FROM range(4)")
    assert rows(spark, f"SELECT * FROM {table}") == [(i, i * 2) for i in range(4)]
    spark.sql(f"CREATE OR REPLACE TABLE {table} USING DELTA AS SELECT id, id * 3 AS twice FROM range(2)")
    assert rows(spark, f"SELECT * FROM {table}") == [(0, 0), (1, 3)]
    history = spark.sql(f"DESCRIBE HISTORY {table}").collect()
    assert [h["version"] for h in history] == [1, 0]
    # the replaced rows are still there at version 0
    assert rows(spark, f"SELECT * FROM {table} VERSION AS OF 0") == [(i, i * 2) for i in range(4)]


def test_insert_into_overwrite_and_replace_where(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT, day STRING) USING DELTA")
    spark.sql(f"INSERT INTO {table} VALUES (1, 'mon'), (2, 'tue'), (3, 'tue')")
    spark.sql(f"INSERT INTO {table} REPLACE WHERE day = 'tue' SELECT 9, 'tue'")
    assert rows(spark, f"SELECT * FROM {table}") == [(1, "mon"), (9, "tue")]
    spark.sql(f"INSERT OVERWRITE {table} VALUES (5, 'wed')")
    assert rows(spark, f"SELECT * FROM {table}") == [(5, "wed")]
    ops = [h["operation"] for h in spark.sql(f"DESCRIBE HISTORY {table}").collect()]
    assert len(ops) == 4


def test_delete_counts_and_removes_matching_rows(spark, table):
    data = [(i, f"n{i}", i * 1.5) for i in range(20)]
    spark.createDataFrame(data, "id long, name string, score double").write.format("delta").saveAsTable(table)
    gone = [r for r in data if r[0] % 3 == 0 or r[1] == "n7"]
    out = spark.sql(f"DELETE FROM {table} WHERE id % 3 = 0 OR name = 'n7'").collect()
    assert [tuple(r) for r in out] == [(len(gone),)]
    assert spark.sql(f"DELETE FROM {table} WHERE id = 0").columns == ["num_affected_rows"]
    kept = sorted(r for r in data if r not in gone)
    assert rows(spark, f"SELECT * FROM {table}") == kept
    # delta-rs reads the same rows from the log
    back = DeltaTable(location(spark, table)).to_pyarrow_table().to_pylist()
    assert sorted((r["id"], r["name"], r["score"]) for r in back) == kept


def test_delete_without_where_and_on_a_path(spark, tmp_dir):
    path = str(tmp_dir / "t")
    spark.range(5).write.format("delta").save(path)
    assert spark.sql(f"DELETE FROM delta.`{path}` WHERE id < 2").collect()[0][0] == 2
    assert spark.sql(f"DELETE FROM delta.`{path}`").collect()[0][0] == 3
    assert spark.read.format("delta").load(path).count() == 0


def test_update_with_expressions_and_condition(spark, table):
    data = [(i, f"n{i}") for i in range(10)]
    spark.createDataFrame(data, "id int, name string").write.format("delta").saveAsTable(table)
    out = spark.sql(f"UPDATE {table} SET name = upper(name), id = id * 10 WHERE id % 2 = 0").collect()
    assert out[0]["num_affected_rows"] == 5
    expected = sorted((i * 10, f"N{i}") if i % 2 == 0 else (i, f"n{i}") for i in range(10))
    assert rows(spark, f"SELECT * FROM {table}") == expected
    assert spark.table(table).schema.simpleString() == "struct<id:int,name:string>"


def test_update_unknown_column_names_it(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA")
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"UPDATE {table} SET nope = 1")
    assert "UNRESOLVED_COLUMN" in str(info.value) and "nope" in str(info.value)


def test_merge_upsert_with_star_actions(spark, table):
    target = {1: "a", 2: "b", 3: "c"}
    source = {2: "B", 4: "D"}
    spark.createDataFrame(list(target.items()), "id int, v string").write.format("delta").saveAsTable(table)
    spark.createDataFrame(list(source.items()), "id int, v string").createOrReplaceTempView("merge_src")
    out = spark.sql(
        f"MERGE INTO {table} t USING merge_src s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    ).collect()[0]
    expected = {**target, **source}
    updated = len(target.keys() & source.keys())
    inserted = len(source.keys() - target.keys())
    assert out.asDict() == {"num_affected_rows": updated + inserted, "num_updated_rows": updated,
                            "num_deleted_rows": 0, "num_inserted_rows": inserted}
    assert rows(spark, f"SELECT * FROM {table}") == sorted(expected.items())


def test_merge_conditional_clauses_and_not_matched_by_source(spark, table):
    target = {i: i * 10 for i in range(1, 7)}
    source = {2: -1, 3: 33, 4: 44, 8: 88, 9: -9}
    spark.createDataFrame(list(target.items()), "id int, v int").write.format("delta").saveAsTable(table)
    src = spark.createDataFrame(list(source.items()), "id int, v int")
    src.createOrReplaceTempView("merge_src2")
    spark.sql(
        f"MERGE INTO {table} AS t USING (SELECT id, v FROM merge_src2) AS s ON t.id = s.id "
        "WHEN MATCHED AND s.v < 0 THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET v = t.v + s.v "
        "WHEN NOT MATCHED AND s.v > 0 THEN INSERT (id, v) VALUES (s.id, s.v * 2) "
        "WHEN NOT MATCHED BY SOURCE AND t.id > 5 THEN DELETE "
        "WHEN NOT MATCHED BY SOURCE THEN UPDATE SET v = 0"
    )
    expected = {}
    for k, v in target.items():
        if k in source:
            if source[k] < 0:
                continue
            expected[k] = v + source[k]
        elif k > 5:
            continue
        else:
            expected[k] = 0
    for k, v in source.items():
        if k not in target and v > 0:
            expected[k] = v * 2
    assert rows(spark, f"SELECT * FROM {table}") == sorted(expected.items())


def test_time_travel_after_merge_and_restore(spark, table):
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").saveAsTable(table)
    spark.createDataFrame([(2, "B"), (3, "C")], "id int, v string").createOrReplaceTempView("merge_src3")
    spark.sql(f"MERGE INTO {table} t USING merge_src3 s ON t.id = s.id "
              "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT *")
    merged = [(1, "a"), (2, "B"), (3, "C")]
    assert rows(spark, f"SELECT * FROM {table}") == merged
    assert rows(spark, f"SELECT * FROM {table} VERSION AS OF 0") == [(1, "a"), (2, "b")]
    # Delta's `path@v<version>` names a version too
    assert rows(spark, f"SELECT * FROM delta.`{location(spark, table)}@v0`") == [(1, "a"), (2, "b")]
    out = spark.sql(f"RESTORE TABLE {table} TO VERSION AS OF 0").collect()[0]
    assert out.asDict().keys() == {"table_size_after_restore", "num_of_files_after_restore", "num_removed_files",
                                   "num_restored_files", "removed_files_size", "restored_files_size"}
    log = DeltaTable(location(spark, table))
    assert out["num_of_files_after_restore"] == len(log.file_uris())
    assert rows(spark, f"SELECT * FROM {table}") == [(1, "a"), (2, "b")]
    # the merge's version is still there to travel to, after the restore
    assert rows(spark, f"SELECT * FROM {table} VERSION AS OF 1") == merged
    history = spark.sql(f"DESCRIBE HISTORY {table}").collect()
    assert [h["operation"] for h in history] == ["RESTORE", "MERGE", "WRITE"]
    assert [h["operation"] for h in spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").collect()] == ["RESTORE"]


def test_restore_to_timestamp_in_sql(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA AS SELECT 1 AS id")
    time.sleep(1.1)
    between = datetime.now().astimezone().isoformat()
    time.sleep(1.1)
    spark.sql(f"INSERT INTO {table} VALUES (2)")
    spark.sql(f"DELETE FROM {table} WHERE id = 1")
    assert rows(spark, f"SELECT * FROM {table}") == [(2,)]
    spark.sql(f"RESTORE TABLE {table} TO TIMESTAMP AS OF '{between}'")
    assert rows(spark, f"SELECT * FROM {table}") == [(1,)]
    assert [h["operation"] for h in spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").collect()] == ["RESTORE"]


def test_timestamp_as_of_in_sql(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA AS SELECT 1 AS id")
    time.sleep(1.1)
    between = datetime.now().astimezone().isoformat()
    time.sleep(1.1)
    spark.sql(f"INSERT INTO {table} VALUES (2)")
    assert rows(spark, f"SELECT * FROM {table} TIMESTAMP AS OF '{between}'") == [(1,)]
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"SELECT * FROM {table} TIMESTAMP AS OF '2001-01-01'").collect()
    assert "DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION" in str(info.value)


def test_alter_table_properties_and_columns(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA")
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('delta.checkpointInterval' = '5', "
              "delta.logRetentionDuration = 'interval 3 days')")
    path = location(spark, table)
    assert DeltaTable(path).metadata().configuration == {
        "delta.checkpointInterval": "5", "delta.logRetentionDuration": "interval 3 days"}
    spark.sql(f"ALTER TABLE {table} UNSET TBLPROPERTIES ('delta.logRetentionDuration')")
    assert DeltaTable(path).metadata().configuration == {"delta.checkpointInterval": "5"}
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"ALTER TABLE {table} UNSET TBLPROPERTIES ('delta.logRetentionDuration')")
    assert "UNSET_NONEXISTENT_PROPERTIES" in str(info.value)
    spark.sql(f"ALTER TABLE {table} UNSET TBLPROPERTIES IF EXISTS ('delta.logRetentionDuration')")
    spark.sql(f"ALTER TABLE {table} ADD COLUMNS (name STRING, score DOUBLE)")
    spark.sql(f"INSERT INTO {table} VALUES (1, 'a', 2.5)")
    assert spark.table(table).schema.simpleString() == "struct<id:int,name:string,score:double>"
    assert rows(spark, f"SELECT * FROM {table}") == [(1, "a", 2.5)]


def test_checkpoint_interval_is_honoured(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT) USING DELTA TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    for i in range(4):
        spark.sql(f"INSERT INTO {table} VALUES ({i})")
    log = Path(location(spark, table)) / "_delta_log"
    # versions 0..4: a checkpoint every second commit (delta-rs counts from 1 where delta-spark
    # counts from 0, so they sit at versions 1 and 3), none without the property (below)
    versions = sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet"))
    assert len(versions) == 2 and versions[1] - versions[0] == 2
    assert rows(spark, f"SELECT * FROM {table}") == [(i,) for i in range(4)]
    assert sorted(DeltaTable(str(log.parent)).to_pyarrow_table().column("id").to_pylist()) == list(range(4))
    spark.sql(f"CREATE TABLE {table}_plain (id INT) USING DELTA")
    try:
        for i in range(4):
            spark.sql(f"INSERT INTO {table}_plain VALUES ({i})")
        plain = Path(location(spark, f"{table}_plain")) / "_delta_log"
        assert list(plain.glob("*.checkpoint.parquet")) == []
    finally:
        spark.sql(f"DROP TABLE {table}_plain")


def test_optimize_compacts_small_files_and_zorders(spark, table):
    spark.sql(f"CREATE TABLE {table} (id BIGINT, g STRING) USING DELTA")
    for i in range(5):
        spark.sql(f"INSERT INTO {table} SELECT id + {i * 10}, 'g' || (id % 2) FROM range(10)")
    before = spark.sql(f"DESCRIBE DETAIL {table}").collect()[0]["numFiles"]
    assert before == 5
    out = spark.sql(f"OPTIMIZE {table}").collect()[0]
    assert out["metrics"]["numFilesRemoved"] == 5 and out["metrics"]["numFilesAdded"] == 1
    assert spark.sql(f"DESCRIBE DETAIL {table}").collect()[0]["numFiles"] == 1
    assert rows(spark, f"SELECT id FROM {table}") == [(i,) for i in range(50)]
    spark.sql(f"INSERT INTO {table} VALUES (100, 'g9')")
    out = spark.sql(f"OPTIMIZE {table} ZORDER BY (g, id)").collect()[0]
    assert out["metrics"]["numFilesRemoved"] == 2
    assert spark.sql(f"SELECT count(*) FROM {table}").collect()[0][0] == 51
    assert spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").collect()[0]["operation"] == "OPTIMIZE"


def test_optimize_where_takes_partition_columns_only(spark, table):
    spark.sql(f"CREATE TABLE {table} (id INT, day STRING) USING DELTA PARTITIONED BY (day)")
    for d in ["mon", "mon", "tue", "tue"]:
        spark.sql(f"INSERT INTO {table} VALUES (1, '{d}')")
    out = spark.sql(f"OPTIMIZE {table} WHERE day = 'mon'").collect()[0]
    assert out["metrics"]["numFilesRemoved"] == 2 and out["metrics"]["numFilesAdded"] == 1
    assert spark.sql(f"DESCRIBE DETAIL {table}").collect()[0]["numFiles"] == 3
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"OPTIMIZE {table} WHERE id = 1")
    assert "id" in str(info.value) and "partition" in str(info.value)


def test_vacuum_checks_retention_lists_and_deletes_old_files(spark, table):
    spark.sql(f"CREATE TABLE {table} USING DELTA AS SELECT id FROM range(10)")
    path = Path(location(spark, table))
    old_files = {p.name for p in path.glob("*.parquet")}
    spark.sql(f"INSERT OVERWRITE {table} SELECT id FROM range(3)")
    with pytest.raises(IllegalArgumentException) as info:
        spark.sql(f"VACUUM {table} RETAIN 0 HOURS")
    assert "retentionDurationCheck" in str(info.value)
    # inside the default retention (7 days) nothing is old enough to go
    assert spark.sql(f"VACUUM {table} DRY RUN").collect() == []
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        listed = spark.sql(f"VACUUM {table} RETAIN 0 HOURS DRY RUN").collect()
        assert {Path(r["path"].removeprefix("file:")).name for r in listed} == old_files
        assert {p.name for p in path.glob("*.parquet")} >= old_files
        done = spark.sql(f"VACUUM {table} RETAIN 0 HOURS").collect()
        assert [r["path"] for r in done] == [f"file:{path}"]
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    assert not ({p.name for p in path.glob("*.parquet")} & old_files)
    assert rows(spark, f"SELECT * FROM {table}") == [(0,), (1,), (2,)]


def test_convert_parquet_directory_to_delta(spark, tmp_dir):
    path = str(tmp_dir / "p")
    spark.range(6).selectExpr("id", "CAST(id % 2 AS STRING) AS part").write.partitionBy("part").parquet(path)
    spark.sql(f"CONVERT TO DELTA parquet.`{path}` PARTITIONED BY (part STRING)")
    assert DeltaTable(path).metadata().partition_columns == ["part"]
    assert rows(spark, f"SELECT id, part FROM delta.`{path}`") == [(i, str(i % 2)) for i in range(6)]
    # one commit (delta-rs names it CREATE TABLE where delta-spark says CONVERT)
    assert [h["version"] for h in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()] == [0]


def test_statements_name_a_missing_or_non_delta_table(spark, table, tmp_dir):
    with pytest.raises(AnalysisException) as info:
        spark.sql("DELETE FROM no_such_table WHERE 1 = 1")
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(info.value) and "no_such_table" in str(info.value)
    spark.sql(f"CREATE TABLE {table} (id INT) USING PARQUET")
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"OPTIMIZE {table}")
    assert table in str(info.value)
    missing = str(tmp_dir / "none")
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"DESCRIBE HISTORY delta.`{missing}`")
    assert "DELTA_MISSING_DELTA_TABLE" in str(info.value) and missing in str(info.value)


def test_merge_refuses_two_source_rows_for_one_target_row(spark, table):
    # Delta's documented rule: a target row updated or deleted by a MERGE may match one source
    # row only; the statement fails and the table keeps its rows
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").saveAsTable(table)
    spark.createDataFrame([(1, "x"), (1, "y")], "id int, v string").createOrReplaceTempView("merge_twice")
    with pytest.raises(Exception) as info:
        spark.sql(f"MERGE INTO {table} t USING merge_twice s ON t.id = s.id "
                  "WHEN MATCHED THEN UPDATE SET v = s.v").collect()
    assert "DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE" in str(info.value)
    assert rows(spark, f"SELECT * FROM {table}") == [(1, "a"), (2, "b")]
