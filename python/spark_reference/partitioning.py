"""Spark's file layout and partition ids, for python/tests/test_partitioning.py: how many files a
write produces after repartition/coalesce, their names, partitionBy directory names (nulls, empty
strings, characters that need escaping), spark_partition_id() and monotonically_increasing_id().
One JSON object per line. Run: python partitioning.py > partitioning.out"""

import json
import os
import re
import shutil
import tempfile

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")
tmp = tempfile.mkdtemp()


def layout(path):
    """Files below path, with the task number kept and the job's uuid replaced by UUID."""
    out = []
    for root, _, files in os.walk(path):
        for f in files:
            if f.startswith("."):
                continue  # Hadoop's .crc checksum files
            rel = os.path.relpath(os.path.join(root, f), path)
            out.append(re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", rel))
    return sorted(out)


def write(df, name, fmt="parquet", **opts):
    path = os.path.join(tmp, name)
    w = df.write.mode("overwrite")
    for k, v in opts.items():
        w = w.option(k, v)
    w.format(fmt).save(path)
    return layout(path)


df = spark.range(0, 1000)
for n in (1, 3, 7):
    print(json.dumps({"case": "repartition_files", "n": n, "files": write(df.repartition(n), f"r{n}")}))
print(json.dumps({"case": "coalesce_files", "files": write(df.repartition(4).coalesce(2), "c2")}))
print(json.dumps({"case": "zstd_files", "files": write(df.repartition(2), "z", compression="zstd")}))
print(json.dumps({"case": "csv_files", "files": write(df.repartition(2), "csv", "csv")}))
print(json.dumps({"case": "csv_gzip_files", "files": write(df.repartition(2), "csvgz", "csv", compression="gzip")}))
print(json.dumps({"case": "json_files", "files": write(df.repartition(2), "json", "json")}))
text = df.select(F.col("id").cast("string").alias("value"))
print(json.dumps({"case": "text_files", "files": write(text.repartition(2), "text", "text")}))
print(json.dumps({"case": "empty_files", "files": write(df.filter("id < 0"), "empty")}))

# partitionBy: each task writes one file per value it holds
parts = spark.createDataFrame(
    [(1, "a"), (2, "a"), (3, "b/c"), (4, None), (5, ""), (6, "x:y=z"), (7, "a b%")], "id int, k string"
)
path = os.path.join(tmp, "pk")
parts.coalesce(1).write.mode("overwrite").partitionBy("k").parquet(path)
print(json.dumps({"case": "partition_dirs", "files": layout(path)}))
back = spark.read.parquet(path)
print(json.dumps({"case": "partition_read_back", "schema": back.schema.simpleString(),
                  "rows": sorted([[r.id, r.k] for r in back.collect()], key=lambda r: r[0])}))
path = os.path.join(tmp, "pk2")
parts.repartition(2, "id").write.mode("overwrite").partitionBy("k").parquet(path)
print(json.dumps({"case": "partition_dirs_two_tasks", "count": len(layout(path))}))

# spark_partition_id() and monotonically_increasing_id()
ids = df.repartition(3).select(F.spark_partition_id(), F.monotonically_increasing_id())
print(json.dumps({"case": "id_names", "columns": ids.columns,
                  "types": [f.dataType.simpleString() for f in ids.schema],
                  "nullable": [f.nullable for f in ids.schema]}))
counts = sorted(tuple(r) for r in df.repartition(3).groupBy(F.spark_partition_id().alias("p")).count().collect())
print(json.dumps({"case": "round_robin_counts", "counts": counts}))
rows = spark.range(0, 10, 1, 2).select("id", F.spark_partition_id().alias("p"), F.monotonically_increasing_id().alias("m")).collect()
print(json.dumps({"case": "range_two_partitions", "rows": [list(r) for r in rows]}))
one = spark.range(0, 100).coalesce(1).select(F.spark_partition_id().alias("p")).distinct().collect()
print(json.dumps({"case": "coalesce_one", "ids": [r.p for r in one]}))
sql = spark.sql("SELECT spark_partition_id(), monotonically_increasing_id() FROM range(1)")
print(json.dumps({"case": "sql_names", "columns": sql.columns}))

# sampling with a seed: which rows Spark's per-partition samplers keep
three = spark.range(0, 30, 1, 3)
print(json.dumps({"case": "sample_rows", "rows": [r.id for r in three.sample(fraction=0.4, seed=7).collect()]}))
print(json.dumps({"case": "sample_replacement_rows",
                  "rows": [r.id for r in three.sample(withReplacement=True, fraction=0.8, seed=11).collect()]}))
keyed = spark.range(0, 60, 1, 2).select("id", (F.col("id") % 3).alias("key"))
print(json.dumps({"case": "sample_by_rows",
                  "rows": [r.id for r in keyed.sampleBy("key", {0: 0.5, 2: 0.3}, seed=5).collect()]}))
print(json.dumps({"case": "random_split_rows",
                  "rows": [[r.id for r in s.collect()] for s in three.randomSplit([1.0, 2.0], 24)]}))
# repartitionByRange: Spark's bounds keep a key equal to a bound in the lower partition
dup = spark.createDataFrame([(k,) for k in [1, 1, 1, 2, 3, 3, 5, 8, 8]], "k int")
print(json.dumps({"case": "range_partition_of_keys",
                  "rows": sorted([list(r) for r in dup.repartitionByRange(3, "k").select("k", F.spark_partition_id()).collect()])}))
# shuffle(array, seed): one generator per partition (seed + partition index), drawn row by row
arrays = spark.range(0, 6, 1, 2).select(F.shuffle(F.array(*[F.lit(i) for i in range(1, 6)]), F.lit(11)).alias("s"))
print(json.dumps({"case": "shuffle_rows", "rows": [r.s for r in arrays.collect()]}))
shutil.rmtree(tmp)
