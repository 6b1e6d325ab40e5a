"""Apache Spark's real-time trigger (`trigger(realTime=...)`, Spark 4.1+; run with pyspark
4.2.1, not the 4.0.1 of the other scripts here, since 4.0 has no such trigger): only Kafka
streams, into sinks on its allowlist, in update mode, run in real-time mode; printed per case
as one JSON line, Spark's error when the query starts or the query's failure. Spate has no
Kafka source yet, so every real-time query of Spate ends in one of these errors;
test_streaming_rate_triggers.py compares.

    python -m venv /tmp/spark42 && /tmp/spark42/bin/pip install pyspark==4.2.1
    /tmp/spark42/bin/python streaming_real_time.py > streaming_real_time.out"""

import json
import os
import tempfile
import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
d = tempfile.mkdtemp()
with open(os.path.join(d, "a.json"), "w") as f:
    f.write('{"a": 1}\n')


def rate():
    return spark.readStream.format("rate").load()


cases = {
    "rate_memory": lambda: rate().writeStream.format("memory").queryName("rt"),
    "rate_noop": lambda: rate().writeStream.format("noop"),
    "rate_parquet": lambda: rate()
    .writeStream.format("parquet")
    .option("checkpointLocation", tempfile.mkdtemp())
    .option("path", tempfile.mkdtemp()),
    "rate_console_append": lambda: rate().writeStream.format("console"),
    "rate_console_update": lambda: rate().writeStream.format("console").outputMode("update"),
    "json_console_update": lambda: spark.readStream.schema("a long").json(d).writeStream.format("console").outputMode("update"),
}
for name, writer in cases.items():
    try:
        q = writer().trigger(realTime="5 seconds").start()
        time.sleep(4)
        e = q.exception()
        out = {"case": name, "failure": str(e).splitlines()[0].split(" SQLSTATE")[0] if e else None}
        q.stop()
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        out = {"case": name, "type": type(e).__name__, "condition": e.getCondition(), "message": str(e).splitlines()[0].split(" SQLSTATE")[0]}
    print(json.dumps(out, sort_keys=True))
