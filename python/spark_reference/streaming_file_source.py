"""Apache Spark's file stream source: partition directories (`key=value`, a partition column
the schema names takes its type, one it does not name is added), schema inference
(`spark.sql.streaming.schemaInference`), and `cleanSource` (archive, delete): the rows, the
schema, and which files are left where after the query read them. Printed as one JSON line
per case; test_streaming_file_source.py compares."""

import json
import os
import tempfile

from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)

FILES = {
    "day=2026-12-01/hour=9/a.json": [{"k": "a", "v": 1}, {"k": "b", "v": 2}],
    "day=2026-12-01/hour=10/b.json": [{"k": "c", "v": 3}],
    "day=2026-12-02/hour=9/c.json": [{"k": "d", "v": 4}],
}


def source_dir():
    d = tempfile.mkdtemp()
    for i, (rel, rows) in enumerate(FILES.items()):
        path = os.path.join(d, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return d


def run(df, name):
    q = df.writeStream.format("memory").queryName(name).trigger(availableNow=True).start()
    q.awaitTermination()
    rows = sorted(json.dumps(r.asDict(), sort_keys=True, default=str) for r in spark.table(name).collect())
    return [json.loads(r) for r in rows], q


def schema_of(df):
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


# a schema naming one partition column (as a string), not the other
df = spark.readStream.schema("k string, v long, day string").json(source_dir())
rows, _ = run(df, "parts")
print(json.dumps({"case": "partitions", "schema": schema_of(df), "rows": rows}))

spark.conf.set("spark.sql.streaming.schemaInference", "true")
df = spark.readStream.json(source_dir())
rows, _ = run(df, "inferred")
print(json.dumps({"case": "schema_inference", "schema": schema_of(df), "rows": rows}))
spark.conf.unset("spark.sql.streaming.schemaInference")


def listing(root):
    out = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.startswith(".") and not f.startswith("_"):
                out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


for mode in ("archive", "delete"):
    src = source_dir()
    archive = tempfile.mkdtemp()
    reader = spark.readStream.schema("k string, v long").option("cleanSource", mode).option("maxFilesPerTrigger", 1)
    if mode == "archive":
        reader = reader.option("sourceArchiveDir", archive)
    rows, q = run(reader.json(src), f"clean_{mode}")
    archived = [p[len(src.lstrip("/")) + 1 :] for p in listing(archive) if p.startswith(src.lstrip("/"))]
    print(json.dumps({"case": f"clean_{mode}", "batches": len(q.recentProgress), "left": listing(src), "archived": archived, "rows": len(rows)}))

try:
    spark.readStream.schema("k string").option("cleanSource", "wipe").json(source_dir()).writeStream.format("noop").start().awaitTermination(10)
    print(json.dumps({"case": "clean_bad_mode", "started": True}))
except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
    print(json.dumps({"case": "clean_bad_mode", "type": type(e).__name__, "message": str(e).splitlines()[0]}))
try:
    q = spark.readStream.schema("k string").option("cleanSource", "archive").json(source_dir()).writeStream.format("noop").start()
    q.awaitTermination(10)
    print(json.dumps({"case": "archive_without_dir", "exception": str(q.exception()).splitlines()[0] if q.exception() else None}))
except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
    print(json.dumps({"case": "archive_without_dir", "type": type(e).__name__, "message": str(e).splitlines()[0]}))

# Parquet files with different columns: one file's schema, or all merged with mergeSchema
d = tempfile.mkdtemp()
spark.createDataFrame([(1,), (2,)], "a long").coalesce(1).write.parquet(os.path.join(d, "one"))
spark.createDataFrame([(3, "x")], "a long, b string").coalesce(1).write.parquet(os.path.join(d, "two"))
src = os.path.join(d, "src")
os.makedirs(src)
for i, part in enumerate(("one", "two")):
    name = next(f for f in os.listdir(os.path.join(d, part)) if f.endswith(".parquet"))
    os.rename(os.path.join(d, part, name), os.path.join(src, f"p{i + 1}.parquet"))
    os.utime(os.path.join(src, f"p{i + 1}.parquet"), (1_700_000_000 + i, 1_700_000_000 + i))
spark.conf.set("spark.sql.streaming.schemaInference", "true")
for merge in (False, True):
    reader = spark.readStream.option("mergeSchema", "true") if merge else spark.readStream
    df = reader.parquet(src)
    rows, _ = run(df, f"merge_{merge}")
    batch = spark.read.option("mergeSchema", "true").parquet(src) if merge else spark.read.parquet(src)
    print(json.dumps({"case": f"parquet_merge_schema_{str(merge).lower()}", "schema": schema_of(df), "batch_schema": schema_of(batch), "rows": rows}))
spark.conf.unset("spark.sql.streaming.schemaInference")
