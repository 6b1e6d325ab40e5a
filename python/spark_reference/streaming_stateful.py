"""Apache Spark's answers for the stateful streaming cases of tests/stateful_cases.py: each
case reads the same JSON files (one per micro-batch) with trigger(availableNow=True) into a
memory sink; printed per case as one JSON line: the progress of each batch (input and output
rows, watermark, state rows) and the sink's rows, sorted; for the refused cases, the error's
condition and message. test_streaming_stateful.py runs the same cases on Spate and compares."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import stateful_cases as cases  # noqa: E402

spark = cases.local_spark()


def input_dir():
    return cases.write_batches(tempfile.mkdtemp(), cases.rows_of, range(len(cases.FILES)))


for name, (query, mode) in cases.CASES.items():
    q = (
        query(spark, input_dir())
        .writeStream.format("memory")
        .queryName(name)
        .outputMode(mode)
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination()
    rows = sorted((cases.plain(r) for r in spark.table(name).collect()), key=lambda r: json.dumps(r, sort_keys=True))
    batches = [cases.progress_summary(json.loads(p.json)) for p in q.recentProgress]
    print(json.dumps({"case": name, "batches": batches, "rows": rows}, sort_keys=True))

for name, (query, mode) in cases.REFUSED.items():
    try:
        q = query(spark, input_dir()).writeStream.format("memory").queryName(name).outputMode(mode).start()
        q.awaitTermination(30)
        print(json.dumps({"case": name, "started": True}))
        q.stop()
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        message = str(e).splitlines()[0]
        print(json.dumps({"case": name, "condition": condition, "type": type(e).__name__, "message": message}, sort_keys=True))

# a restart from the checkpoint: files 0 and 1, then 2 and 3, into Parquet in append mode
d = tempfile.mkdtemp()
src, sink, ckpt = (os.path.join(d, n) for n in ("in", "out", "ckpt"))
os.makedirs(src)
runs = []
for files in ([0, 1], [2, 3]):
    cases.write_batches(src, cases.rows_of, files)
    q = (
        cases.windowed_count(spark, src)
        .writeStream.format("parquet")
        .option("checkpointLocation", ckpt)
        .outputMode("append")
        .trigger(availableNow=True)
        .start(sink)
    )
    q.awaitTermination()
    runs.append([cases.progress_summary(json.loads(p.json)) for p in q.recentProgress])
rows = sorted((cases.plain(r) for r in spark.read.parquet(sink).collect()), key=lambda r: json.dumps(r, sort_keys=True))
print(json.dumps({"case": "restart_windowed_count_append", "runs": runs, "rows": rows}, sort_keys=True))
