"""The file stream source's partition directories, schema inference and cleanSource (issue
21), compared with what Apache Spark did with the same files (spark_reference/
streaming_file_source.py, output committed beside it)."""

import json
import os
import uuid
from pathlib import Path

import pytest
from pyspark.errors import StreamingQueryException

REFERENCE = Path(__file__).parent.parent / "spark_reference" / "streaming_file_source.out"
SPARK = {d["case"]: d for d in map(json.loads, REFERENCE.read_text().splitlines())}

FILES = {
    "day=2026-12-01/hour=9/a.json": [{"k": "a", "v": 1}, {"k": "b", "v": 2}],
    "day=2026-12-01/hour=10/b.json": [{"k": "c", "v": 3}],
    "day=2026-12-02/hour=9/c.json": [{"k": "d", "v": 4}],
}


@pytest.fixture(autouse=True)
def utc(spark):
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    yield
    spark.conf.set("spark.sql.session.timeZone", before)
    spark.conf.unset("spark.sql.streaming.schemaInference")


def source_dir(root):
    for i, (rel, rows) in enumerate(FILES.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return str(root)


def run(spark, df):
    name = f"fs_{uuid.uuid4().hex[:8]}"
    q = df.writeStream.format("memory").queryName(name).trigger(availableNow=True).start()
    assert q.awaitTermination(60)
    assert q.exception() is None
    rows = sorted(json.dumps(r.asDict(), sort_keys=True, default=str) for r in spark.table(name).collect())
    return [json.loads(r) for r in rows], q


def schema_of(df):
    return [[f.name, f.dataType.simpleString()] for f in df.schema.fields]


def test_partition_directories_become_columns_as_in_spark(spark, tmp_path):
    df = spark.readStream.schema("k string, v long, day string").json(source_dir(tmp_path))
    expected = SPARK["partitions"]
    # the named partition column keeps the schema's type; the other is added, typed by its values
    assert schema_of(df) == expected["schema"]
    rows, _ = run(spark, df)
    assert rows == expected["rows"]


def test_schema_inference_reads_the_schema_and_partitions_from_the_files(spark, tmp_path):
    spark.conf.set("spark.sql.streaming.schemaInference", "true")
    df = spark.readStream.json(source_dir(tmp_path))
    expected = SPARK["schema_inference"]
    assert schema_of(df) == expected["schema"]
    rows, _ = run(spark, df)
    assert rows == expected["rows"]


def listing(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_clean_source_archives_or_deletes_the_files_of_committed_batches(spark, tmp_path, mode):
    src, archive = tmp_path / "src", tmp_path / "archive"
    source_dir(src)
    reader = spark.readStream.schema("k string, v long").option("cleanSource", mode).option("maxFilesPerTrigger", 1)
    if mode == "archive":
        reader = reader.option("sourceArchiveDir", str(archive))
    rows, q = run(spark, reader.json(str(src)))
    expected = SPARK[f"clean_{mode}"]
    assert (len(q.recentProgress), len(rows)) == (expected["batches"], expected["rows"])
    # a batch's files are cleaned once the next batch starts: the last batch's stay
    assert listing(src) == expected["left"]
    # archived at their own absolute path below the archive directory
    moved = [p[len(str(src).lstrip("/")) + 1 :] for p in listing(archive) if p.startswith(str(src).lstrip("/"))] if archive.exists() else []
    assert sorted(moved) == sorted(expected["archived"])


@pytest.mark.parametrize("case,options", [("clean_bad_mode", {"cleanSource": "wipe"}), ("archive_without_dir", {"cleanSource": "archive"})])
def test_bad_clean_source_options_fail_the_query_as_in_spark(spark, tmp_path, case, options):
    message = SPARK[case]["message"].split("terminated with exception: ", 1)[1].split(" SQLSTATE")[0]
    q = spark.readStream.schema("k string").options(**options).json(source_dir(tmp_path)).writeStream.format("noop").start()
    with pytest.raises(StreamingQueryException) as e:
        q.awaitTermination(30)
    # Spark prints the mode as Scala's Some(wipe); the rest of its message is the same
    assert message.replace("Some(wipe)", "wipe") in str(e.value)


@pytest.mark.parametrize("merge", [False, True])
def test_parquet_files_of_other_columns_give_one_file_s_schema_or_all_merged(spark, tmp_path, merge):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i, table in enumerate((pa.table({"a": [1, 2]}), pa.table({"a": [3], "b": ["x"]}))):
        path = tmp_path / f"p{i + 1}.parquet"
        pq.write_table(table, path)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    expected = SPARK[f"parquet_merge_schema_{str(merge).lower()}"]
    spark.conf.set("spark.sql.streaming.schemaInference", "true")
    reader = spark.readStream.option("mergeSchema", "true") if merge else spark.readStream
    df = reader.parquet(str(tmp_path))
    assert schema_of(df) == expected["schema"]
    rows, _ = run(spark, df)
    assert rows == expected["rows"]
    batch = spark.read.option("mergeSchema", "true").parquet(str(tmp_path)) if merge else spark.read.parquet(str(tmp_path))
    assert schema_of(batch) == expected["batch_schema"]
    # the session setting is the option's default (Spark's spark.sql.parquet.mergeSchema)
    spark.conf.set("spark.sql.parquet.mergeSchema", str(merge).lower())
    try:
        assert schema_of(spark.read.parquet(str(tmp_path))) == expected["batch_schema"]
    finally:
        spark.conf.unset("spark.sql.parquet.mergeSchema")
