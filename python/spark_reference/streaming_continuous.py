"""Apache Spark's continuous trigger (`trigger(continuous=...)`): what it runs (a rate stream
with a projection and a filter, into memory: the rows it produced) and what it refuses (a
file source, an aggregation: errors when the query starts; a file sink: the query fails).
Printed as one JSON line per case; test_streaming.py's continuous-trigger test compares."""

import json
import os
import tempfile
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
d = tempfile.mkdtemp()
with open(os.path.join(d, "a.json"), "w") as f:
    f.write('{"a": 1}\n')


def rate():
    return spark.readStream.format("rate").option("rowsPerSecond", 5).load()


cases = {
    "rate_map_memory": lambda: rate()
    .where(F.col("value") % 2 == 0)
    .select((F.col("value") * 10).alias("v"))
    .writeStream.format("memory")
    .queryName("cont")
    .trigger(continuous="1 second")
    .start(),
    "file_source": lambda: spark.readStream.schema("a long").json(d).writeStream.format("memory").queryName("j").trigger(continuous="1 second").start(),
    "aggregation": lambda: rate().groupBy("value").count().writeStream.format("memory").queryName("agg").outputMode("complete").trigger(continuous="1 second").start(),
    "file_sink": lambda: rate()
    .writeStream.format("parquet")
    .option("checkpointLocation", tempfile.mkdtemp())
    .trigger(continuous="1 second")
    .start(tempfile.mkdtemp()),
}
for name, start in cases.items():
    try:
        q = start()
        time.sleep(4)
        out = {"case": name, "active": q.isActive}
        if q.exception() is not None:
            out["exception"] = str(q.exception()).splitlines()[0]
        else:
            values = sorted(r.v for r in spark.table("cont").collect())
            # every even value from 0 on, times 10, with none missing
            out["contiguous"] = values == [v * 20 for v in range(len(values))]
            out["some_rows"] = len(values) > 0
        q.stop()
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        out = {"case": name, "condition": condition, "type": type(e).__name__, "message": str(e).splitlines()[0]}
    print(json.dumps(out, sort_keys=True))
