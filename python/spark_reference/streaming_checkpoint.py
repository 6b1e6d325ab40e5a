"""Spark's checkpoint and file-sink layout for a micro-batch query: JSON files read as a stream
with a schema, filtered, written to Parquet with trigger(availableNow=True); run twice, with
new files in between, so that the second run resumes from the checkpoint. The checkpoint
(metadata, offsets/N, commits/N, sources/0/N) and the sink's _spark_metadata log are copied
under streaming_checkpoint/ as Spark wrote them, and the rows of each run printed. Spate's
streaming checkpoint reads and writes this layout (spate-stream's tests read these files)."""

import json
import os
import shutil
import sys
import tempfile

from pyspark.sql import SparkSession

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "streaming_checkpoint")
spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.shuffle.partitions", "2")
    .getOrCreate()
)
d = tempfile.mkdtemp()
src, sink, ckpt = (os.path.join(d, n) for n in ("in", "out", "checkpoint"))
os.makedirs(src)


def write_input(name, rows):
    with open(os.path.join(src, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run():
    q = (
        spark.readStream.schema("id long, kind string")
        .option("maxFilesPerTrigger", 1)
        .json(src)
        .where("kind = 'keep'")
        .writeStream.format("parquet")
        .option("checkpointLocation", ckpt)
        .trigger(availableNow=True)
        .start(sink)
    )
    q.awaitTermination()
    return q


write_input("a.json", [{"id": 1, "kind": "keep"}, {"id": 2, "kind": "drop"}])
write_input("b.json", [{"id": 3, "kind": "keep"}])
q = run()
print("== run 1 batches", [p["batchId"] for p in q.recentProgress], "rows", sorted(r.id for r in spark.read.parquet(sink).collect()))
write_input("c.json", [{"id": 4, "kind": "keep"}, {"id": 5, "kind": "keep"}])
q = run()
print("== run 2 batches", [p["batchId"] for p in q.recentProgress], "rows", sorted(r.id for r in spark.read.parquet(sink).collect()))
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(ckpt, os.path.join(out, "checkpoint"), ignore=shutil.ignore_patterns(".*.crc"))
shutil.copytree(os.path.join(sink, "_spark_metadata"), os.path.join(out, "_spark_metadata"), ignore=shutil.ignore_patterns(".*.crc"))
print("== input directory", src)
for root, _, files in sorted(os.walk(out)):
    for f in sorted(files):
        print("==", os.path.relpath(os.path.join(root, f), out))
