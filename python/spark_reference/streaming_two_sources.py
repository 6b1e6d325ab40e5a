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

import stateful_cases  # noqa: E402
import two_source_cases as cases  # noqa: E402

spark = stateful_cases.local_spark()


def input_dir(side):
    return stateful_cases.write_batches(tempfile.mkdtemp(), lambda i: cases.rows_of(side, i), range(len(cases.RIGHT_FILES)))


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
