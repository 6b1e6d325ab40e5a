"""Apache Spark's rate source with `rampUpTime` (10 rows per second after a 4 second ramp):
each micro-batch's offsets (seconds) and rows, and the rows' values with their times after
the stream's start. test_streaming.py's ramp-up test compares."""

import json
import time

from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
df = spark.readStream.format("rate").option("rowsPerSecond", 10).option("rampUpTime", "4s").option("numPartitions", 1).load()
q = df.writeStream.format("memory").queryName("ramp").trigger(processingTime="300 milliseconds").start()
time.sleep(10)
q.stop()
batches = []
for p in q.recentProgress:
    d = json.loads(p.json)
    s = d["sources"][0]
    if d["numInputRows"]:
        batches.append([int(s["startOffset"] or 0), int(s["endOffset"]), d["numInputRows"]])
rows = sorted(spark.table("ramp").collect(), key=lambda r: r.value)
first = rows[0].timestamp
print(json.dumps({"description": json.loads(q.recentProgress[-1].json)["sources"][0]["description"]}))
# each batch: its first and last second (offsets) and its rows
print(json.dumps({"batches": batches}))
# the rows' values and their times after the first row's (second 0 starts with value 0), ms
print(json.dumps({"values": [r.value for r in rows], "ms": [round((r.timestamp - first).total_seconds() * 1000) for r in rows]}))
