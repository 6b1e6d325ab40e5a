"""Output files are laid out as Apache Spark 4.0.1 lays them out (python/spark_reference/
partitioning.py and .out): one file per partition of the plan, so repartition(n) gives n files and
coalesce(n) gives n; Spark's file names per format and codec; partitionBy directories with Spark's
escaping and null/empty values as __HIVE_DEFAULT_PARTITION__, read back as nulls."""

import json
import os
import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "partitioning.out"
CASES = [json.loads(line) for line in REFERENCE.read_text().splitlines()]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def spark_says(case, **match):
    for c in CASES:
        if c["case"] == case and all(c.get(k) == v for k, v in match.items()):
            return c
    raise KeyError(case)


def layout(path):
    out = []
    for root, _, files in os.walk(path):
        for f in files:
            out.append(UUID.sub("UUID", os.path.relpath(os.path.join(root, f), path)))
    return sorted(out)


def write(df, path, fmt="parquet", **opts):
    w = df.write.mode("overwrite")
    for k, v in opts.items():
        w = w.option(k, v)
    w.format(fmt).save(str(path))
    return layout(path)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_repartition_n_writes_n_files(spark, tmp_dir, n):
    df = spark.range(0, 1000)
    assert write(df.repartition(n), tmp_dir / f"r{n}") == spark_says("repartition_files", n=n)["files"]
    assert spark.read.parquet(str(tmp_dir / f"r{n}")).count() == 1000


def test_coalesce_and_codecs_name_files_as_spark(spark, tmp_dir):
    df = spark.range(0, 1000)
    assert write(df.repartition(4).coalesce(2), tmp_dir / "c") == spark_says("coalesce_files")["files"]
    zstd = write(df.repartition(2), tmp_dir / "z", compression="zstd")
    assert zstd == spark_says("zstd_files")["files"]
    assert write(df.repartition(2), tmp_dir / "csv", "csv") == spark_says("csv_files")["files"]
    gz = write(df.repartition(2), tmp_dir / "gz", "csv", compression="gzip")
    assert gz == spark_says("csv_gzip_files")["files"]
    assert write(df.repartition(2), tmp_dir / "json", "json") == spark_says("json_files")["files"]
    text = df.select(F.col("id").cast("string").alias("value")).repartition(2)
    assert write(text, tmp_dir / "text", "text") == spark_says("text_files")["files"]
    # everything reads back, compressed CSV included
    assert sorted(r[0] for r in spark.read.csv(str(tmp_dir / "gz")).collect()) == sorted(
        str(i) for i in range(1000)
    )
    assert spark.read.parquet(str(tmp_dir / "z")).count() == 1000
    assert spark.read.json(str(tmp_dir / "json")).count() == 1000
    assert spark.read.text(str(tmp_dir / "text")).count() == 1000


def test_rows_are_dealt_out_evenly(spark, tmp_dir):
    # 1000 rows arrive as one batch; Spark deals rows, not batches, to the 3 partitions
    write(spark.range(0, 1000).repartition(3), tmp_dir / "even")
    sizes = sorted(
        spark.read.parquet(str(p)).count() for p in (tmp_dir / "even").glob("part-*.parquet")
    )
    expected = sorted(c for _, c in spark_says("round_robin_counts")["counts"])
    assert all(abs(a - b) <= 1 for a, b in zip(sizes, expected)), sizes


def test_empty_write_keeps_the_schema(spark, tmp_dir):
    df = spark.range(0, 10).filter("id < 0")
    assert write(df, tmp_dir / "empty") == spark_says("empty_files")["files"]
    back = spark.read.parquet(str(tmp_dir / "empty"))
    assert back.columns == ["id"] and back.count() == 0


def test_partition_directories_escape_and_null_as_spark(spark, tmp_dir):
    rows = [(1, "a"), (2, "a"), (3, "b/c"), (4, None), (5, ""), (6, "x:y=z"), (7, "a b%")]
    parts = spark.createDataFrame(rows, "id int, k string")
    path = tmp_dir / "pk"
    parts.coalesce(1).write.partitionBy("k").parquet(str(path))
    assert layout(path) == spark_says("partition_dirs")["files"]
    back = spark.read.parquet(str(path))
    expected = spark_says("partition_read_back")
    assert back.schema.simpleString() == expected["schema"]
    assert sorted([r.id, r.k] for r in back.collect()) == expected["rows"]
    assert back.filter(F.col("k").isNull()).count() == 2
    # two tasks: each writes one file per partition value it holds (which rows a task holds
    # depends on the engine's hash, so the count is checked against the task ids, not Spark's)
    two = tmp_dir / "pk2"
    spread = parts.repartition(2, "id")
    spread.write.partitionBy("k").parquet(str(two))
    directory = F.when(F.col("k") == "", None).otherwise(F.col("k"))  # "" and null share one
    held = spread.select(F.spark_partition_id().alias("p"), directory).distinct().count()
    assert len(layout(two)) == held + 1  # and _SUCCESS
