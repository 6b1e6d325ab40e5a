"""Apache Spark's error when a query restarted from a checkpoint reads another number of
streams than the checkpoint's (one JSON file stream, then the union of two): the query fails
with it. test_streaming_two_sources.py compares."""

import json
import os
import tempfile

from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
d = tempfile.mkdtemp()
a, b, ckpt = (os.path.join(d, n) for n in ("a", "b", "ckpt"))
for path, key in ((a, "x"), (b, "y")):
    os.makedirs(path)
    with open(os.path.join(path, "1.json"), "w") as f:
        f.write(json.dumps({"k": key}) + "\n")


def start(df):
    return df.writeStream.format("noop").option("checkpointLocation", ckpt).trigger(availableNow=True).start()


def stream(path):
    return spark.readStream.schema("k string").json(path)


start(stream(a)).awaitTermination()
q = start(stream(a).union(stream(b)))
try:
    q.awaitTermination()
    print(json.dumps({"case": "more_sources", "exception": None}))
except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
    message = str(e).split("terminated with exception: ", 1)[-1].splitlines()[0].split(" SQLSTATE")[0]
    print(json.dumps({"case": "more_sources", "type": type(e).__name__, "exception": message}))
