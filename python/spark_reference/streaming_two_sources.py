"""Apache Spark's answers for the two-stream cases of tests/two_source_cases.py (a union with
two watermarks under both watermark policies, stream-stream joins): each case reads the same
two directories of JSON files (one file per micro-batch) with trigger(availableNow=True) into
a memory sink; printed per case as one JSON line: the progress of each batch and the sink's
rows, sorted; for the refused cases, the error's condition and message.
test_streaming_two_sources.py runs the same cases on Spate and compares."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from pyspark.sql import SparkSession  # noqa: E402

import stateful_cases  # noqa: E402
import two_source_cases as cases  # noqa: E402

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.shuffle.partitions", "2")
    .getOrCreate()
)


def input_dir(side):
    d = tempfile.mkdtemp()
    for i in range(len(cases.RIGHT_FILES)):
        path = os.path.join(d, f"{i}.json")
        with open(path, "w") as f:
            for r in cases.rows_of(side, i):
                f.write(json.dumps(r) + "\n")
        # the file source orders files by modification time
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return d


for name, (query, mode, conf) in cases.CASES.items():
    for k, v in conf.items():
        spark.conf.set(k, v)
    rows, batches = stateful_cases.run_to_memory(spark, query(spark, input_dir("left"), input_dir("right")), name, mode)
    for k in conf:
        spark.conf.unset(k)
    print(json.dumps({"case": name, "batches": batches, "rows": rows}, sort_keys=True))

for name, (query, mode) in cases.REFUSED.items():
    try:
        df = query(spark, input_dir("left"), input_dir("right"))
        q = df.writeStream.format("memory").queryName(name).outputMode(mode).start()
        q.awaitTermination(30)
        print(json.dumps({"case": name, "started": True}))
        q.stop()
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        message = str(e).splitlines()[0]
        print(json.dumps({"case": name, "condition": condition, "type": type(e).__name__, "message": message}, sort_keys=True))
