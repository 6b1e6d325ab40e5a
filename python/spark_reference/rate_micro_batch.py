"""Apache Spark's rate-micro-batch source: the rows and timestamps of its first batches, the
offsets progress shows, its error without rowsPerBatch, and availableNow's single batch
(test_streaming.py's rate-micro-batch test compares with rate_micro_batch.out)."""

import json, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled","false").config("spark.sql.session.timeZone","UTC").getOrCreate()
df = spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 3).option("startTimestamp", 1000).option("advanceMillisPerBatch", 500).option("numPartitions", 2).load()
print(df.schema.simpleString())
q = df.writeStream.format("memory").queryName("rmb").trigger(processingTime="200 milliseconds").start()
time.sleep(3)
q.stop()
rows = spark.table("rmb").collect()
print(json.dumps([(r.value, r.timestamp.isoformat()) for r in sorted(rows, key=lambda r: r.value)][:12]))
for p in q.recentProgress[:4]:
    d = json.loads(p.json)
    print(json.dumps({k: d["sources"][0][k] for k in ("description","startOffset","endOffset","latestOffset","numInputRows")}))
try:
    spark.readStream.format("rate-micro-batch").load().writeStream.format("noop").start()
except Exception as e:
    print("ERR", type(e).__name__, str(e).splitlines()[0])
try:
    q = spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 2).load().writeStream.format("memory").queryName("rmb2").trigger(availableNow=True).start()
    q.awaitTermination(20)
    print("availableNow batches", len(q.recentProgress), "rows", spark.table("rmb2").count())
except Exception as e:
    print("ERR2", type(e).__name__, str(e).splitlines()[0])
