"""delta-spark's Python `DeltaTable` over the remote session (its Spark Connect client, installed
without a JVM): delete, update, merge with every clause kind, optimize (compaction, Z-order,
partition filters), vacuum, restore to a version or a timestamp, detail, isDeltaTable and
convertToDelta. Expected rows are computed in each test with Python dictionaries from the data
it wrote, following Delta's documented semantics; the `deltalake` package (delta-rs's own
reader) checks what reached the table."""

import time
from datetime import datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable as LogTable
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F


def table_rows(spark, path):
    return sorted(tuple(r) for r in spark.read.format("delta").load(path).collect())


def write(spark, data, schema, path, **options):
    spark.createDataFrame(data, schema).write.format("delta").options(**options).save(path)


def test_delete_with_a_sql_condition_and_a_column(spark, tmp_dir):
    path = str(tmp_dir / "t")
    data = [(i, f"n{i}") for i in range(10)]
    write(spark, data, "id long, name string", path)
    table = DeltaTable.forPath(spark, path)
    table.delete("id % 3 = 0")
    table.delete(F.col("name") == "n5")
    expected = sorted(r for r in data if r[0] % 3 != 0 and r[1] != "n5")
    assert table_rows(spark, path) == expected
    assert sorted(tuple(r.values()) for r in LogTable(path).to_pyarrow_table().to_pylist()) == expected
    table.delete()
    assert table_rows(spark, path) == []
    assert [h["operation"] for h in table.history().collect()][:3] == ["DELETE", "DELETE", "DELETE"]


def test_update_with_set_and_condition(spark, tmp_dir):
    path = str(tmp_dir / "t")
    data = [(i, f"n{i}", float(i)) for i in range(8)]
    write(spark, data, "id long, name string, score double", path)
    table = DeltaTable.forPath(spark, path)
    table.update(condition="id > 5", set={"name": "upper(name)", "score": F.col("score") * 10})
    table.update(set={"id": F.expr("id + 100")})
    expected = sorted((i + 100, f"N{i}" if i > 5 else f"n{i}", float(i) * 10 if i > 5 else float(i))
                      for i in range(8))
    assert table_rows(spark, path) == expected
    with pytest.raises(AnalysisException) as info:
        table.update(set={"nope": "1"})
    assert "nope" in str(info.value)


def test_merge_upsert_with_aliases_and_all_clause_kinds(spark, tmp_dir):
    path = str(tmp_dir / "t")
    target = {i: i * 10 for i in range(1, 7)}
    source = {2: -1, 3: 33, 4: 44, 8: 88, 9: -9}
    write(spark, list(target.items()), "id int, v int", path)
    updates = spark.createDataFrame(list(source.items()), "id int, v int")
    table = DeltaTable.forPath(spark, path)
    (table.alias("t")
        .merge(updates.alias("s"), "t.id = s.id")
        .whenMatchedDelete(condition="s.v < 0")
        .whenMatchedUpdate(set={"v": "t.v + s.v"})
        .whenNotMatchedInsert(condition=F.col("s.v") > 0, values={"id": "s.id", "v": F.col("s.v") * 2})
        .whenNotMatchedBySourceDelete(condition="t.id > 5")
        .whenNotMatchedBySourceUpdate(set={"v": F.lit(0)})
        .execute())
    expected = {}
    for k, v in target.items():
        if k in source:
            if source[k] >= 0:
                expected[k] = v + source[k]
        elif k <= 5:
            expected[k] = 0
    expected.update({k: v * 2 for k, v in source.items() if k not in target and v > 0})
    assert table_rows(spark, path) == sorted(expected.items())
    assert table.history(1).collect()[0]["operation"] == "MERGE"


def test_merge_update_all_and_insert_all_report_counts(spark, tmp_dir):
    path = str(tmp_dir / "t")
    target = {1: "a", 2: "b", 3: "c"}
    source = {2: "B", 4: "D"}
    write(spark, list(target.items()), "id int, v string", path)
    updates = spark.createDataFrame(list(source.items()), "id int, v string")
    out = (DeltaTable.forPath(spark, path).alias("target")
           .merge(updates.alias("source"), "target.id = source.id")
           .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
    updated, inserted = len(target.keys() & source.keys()), len(source.keys() - target.keys())
    assert [tuple(r) for r in out.collect()] == [(updated + inserted, updated, 0, inserted)]
    assert out.columns == ["num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows"]
    assert table_rows(spark, path) == sorted({**target, **source}.items())


def test_merge_of_a_name_without_aliases(spark):
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").saveAsTable("api_merge")
    try:
        # distinct column names need no qualifiers
        updates = spark.createDataFrame([(2, "x"), (3, "y")], "k int, w string")
        (DeltaTable.forName(spark, "api_merge")
            .merge(updates, "id = k")
            .whenMatchedUpdate(set={"v": "w"})
            .whenNotMatchedInsert(values={"id": "k", "v": "upper(w)"})
            .execute())
        assert sorted(tuple(r) for r in spark.table("api_merge").collect()) == [(1, "a"), (2, "x"), (3, "Y")]
    finally:
        spark.sql("DROP TABLE api_merge")


def test_optimize_compaction_zorder_and_partition_filter(spark, tmp_dir):
    path = str(tmp_dir / "t")
    for day in ["mon", "mon", "tue", "tue", "tue"]:
        spark.createDataFrame([(1, day)], "id long, day string").write.format("delta") \
            .mode("append").partitionBy("day").save(path)
    table = DeltaTable.forPath(spark, path)
    out = table.optimize().where("day = 'mon'").executeCompaction().collect()[0]
    assert out["metrics"]["numFilesRemoved"] == 2 and out["metrics"]["numFilesAdded"] == 1
    files = LogTable(path).file_uris()
    assert sum("day=mon" in f for f in files) == 1 and sum("day=tue" in f for f in files) == 3
    # Z-ordering rewrites every file, a partition's single one too (its rows get reordered)
    out = table.optimize().executeZOrderBy("id").collect()[0]
    assert out["metrics"]["numFilesRemoved"] == 4
    assert len(LogTable(path).file_uris()) == 2
    assert table_rows(spark, path) == [(1, "mon")] * 2 + [(1, "tue")] * 3


def test_restore_to_version_and_timestamp(spark, tmp_dir):
    path = str(tmp_dir / "t")
    write(spark, [(1,)], "id int", path)
    time.sleep(1.1)
    after_first = datetime.now().astimezone().isoformat()
    time.sleep(1.1)
    spark.createDataFrame([(2,)], "id int").write.format("delta").mode("append").save(path)
    spark.createDataFrame([(3,)], "id int").write.format("delta").mode("overwrite").save(path)
    table = DeltaTable.forPath(spark, path)
    out = table.restoreToVersion(1)
    assert out.collect()[0]["num_of_files_after_restore"] == 2
    assert table_rows(spark, path) == [(1,), (2,)]
    table.restoreToTimestamp(after_first)
    assert table_rows(spark, path) == [(1,)]
    assert [h["operation"] for h in table.history(2).collect()] == ["RESTORE", "RESTORE"]
    # the overwritten version is still there to travel to
    assert sorted(tuple(r) for r in spark.read.format("delta").option("versionAsOf", 2).load(path).collect()) == [(3,)]


def test_vacuum_deletes_files_no_version_needs(spark, tmp_dir):
    path = str(tmp_dir / "t")
    write(spark, [(i,) for i in range(5)], "id int", path)
    old = {p.name for p in Path(path).glob("*.parquet")}
    spark.createDataFrame([(9,)], "id int").write.format("delta").mode("overwrite").save(path)
    table = DeltaTable.forPath(spark, path)
    table.vacuum()  # the default 7 days: nothing is old enough
    assert {p.name for p in Path(path).glob("*.parquet")} >= old
    with pytest.raises(Exception) as info:
        table.vacuum(0)
    assert "retentionDurationCheck" in str(info.value)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        table.vacuum(0)
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    assert not ({p.name for p in Path(path).glob("*.parquet")} & old)
    assert table_rows(spark, path) == [(9,)]


def test_detail_is_delta_table_and_convert(spark, tmp_dir):
    path = str(tmp_dir / "t")
    write(spark, [(1, "a")], "id long, p string", path)
    detail = DeltaTable.forPath(spark, path).detail().collect()[0]
    assert detail["format"] == "delta" and detail["location"] == f"file:{path}"
    assert detail["numFiles"] == len(LogTable(path).file_uris())
    assert DeltaTable.isDeltaTable(spark, path)
    plain = str(tmp_dir / "plain")
    spark.range(4).selectExpr("id", "CAST(id % 2 AS STRING) AS p").write.partitionBy("p").parquet(plain)
    assert not DeltaTable.isDeltaTable(spark, plain)
    converted = DeltaTable.convertToDelta(spark, f"parquet.`{plain}`", "p string")
    assert DeltaTable.isDeltaTable(spark, plain)
    assert LogTable(plain).metadata().partition_columns == ["p"]
    assert sorted(tuple(r) for r in converted.toDF().collect()) == [(i, str(i % 2)) for i in range(4)]


def test_operations_not_carried_out_say_so(spark, tmp_dir):
    path = str(tmp_dir / "t")
    write(spark, [(1,)], "id int", path)
    with pytest.raises(Exception) as info:
        DeltaTable.forPath(spark, path).clone(str(tmp_dir / "c"))
    assert "CloneTable" in str(info.value)


def test_table_builders_create_replace_and_skip(spark, tmp_dir):
    from pyspark.sql.types import LongType, StringType

    spark.sql("DROP TABLE IF EXISTS api_built")
    try:
        (DeltaTable.create(spark).tableName("api_built")
            .addColumn("id", LongType(), nullable=False)
            .addColumn("name", "STRING")
            .addColumn("day", StringType())
            .partitionedBy("day")
            .property("delta.checkpointInterval", "5")
            .execute())
        path = spark.sql("DESCRIBE DETAIL api_built").collect()[0]["location"].removeprefix("file:")
        log = LogTable(path)
        assert [(f.name, str(f.type), f.nullable) for f in log.schema().fields] == [
            ("id", "PrimitiveType(\"long\")", False), ("name", "PrimitiveType(\"string\")", True),
            ("day", "PrimitiveType(\"string\")", True)]
        assert log.metadata().partition_columns == ["day"]
        assert log.metadata().configuration == {"delta.checkpointInterval": "5"}
        spark.sql("INSERT INTO api_built VALUES (1, 'a', 'mon')")
        # createIfNotExists leaves an existing table alone; create refuses it
        DeltaTable.createIfNotExists(spark).tableName("api_built").addColumn("x", "INT").execute()
        assert [tuple(r) for r in spark.table("api_built").collect()] == [(1, "a", "mon")]
        with pytest.raises(AnalysisException):
            DeltaTable.create(spark).tableName("api_built").addColumn("x", "INT").execute()
        # replace: a new schema, a new version of the same table
        DeltaTable.replace(spark).tableName("api_built").addColumn("x", "INT").execute()
        assert spark.table("api_built").columns == ["x"] and spark.table("api_built").count() == 0
        assert LogTable(path).version() == 2
    finally:
        spark.sql("DROP TABLE IF EXISTS api_built")
    # by location only: a table at that path
    where = str(tmp_dir / "at")
    with pytest.raises(AnalysisException) as info:
        DeltaTable.replace(spark).location(where).addColumn("id", "INT").execute()
    assert "DELTA_CANNOT_REPLACE_MISSING_TABLE" in str(info.value)
    DeltaTable.createOrReplace(spark).location(where).addColumn("id", "INT").execute()
    assert [f.name for f in LogTable(where).schema().fields] == ["id"]
    assert DeltaTable.forPath(spark, where).toDF().count() == 0


def test_generate_writes_the_symlink_manifest(spark, tmp_dir):
    path = str(tmp_dir / "t")
    spark.range(6).selectExpr("id", "CAST(id % 2 AS STRING) AS p").write.format("delta").partitionBy("p").save(path)
    DeltaTable.forPath(spark, path).generate("symlink_format_manifest")
    listed = set()
    for manifest in Path(path, "_symlink_format_manifest").rglob("manifest"):
        listed |= {line.removeprefix("file://") for line in manifest.read_text().split()}
    assert listed == {u.removeprefix("file://") for u in LogTable(path).file_uris()}
    with pytest.raises(AnalysisException) as info:
        DeltaTable.forPath(spark, path).generate("other")
    assert "DELTA_MODE_NOT_SUPPORTED" in str(info.value)
