"""Apache Spark's answers for queries with several stateful operators (tests/
two_source_cases.py's CHAIN_CASES: a deduplication then a windowed count, two windowed
aggregations, a stream-stream join then a windowed count): the same JSON files as
streaming_two_sources.py, one per micro-batch, trigger(availableNow=True) into memory; per
case one JSON line: each batch's progress summary (every operator's state rows, top first)
and the sink's rows, or Spark's error. test_streaming_two_sources.py compares."""

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


for name, (query, mode) in cases.CHAIN_CASES.items():
    try:
        df = query(spark, input_dir("left"), input_dir("right"))
        rows, batches = stateful_cases.run_to_memory(spark, df, name, mode)
        print(json.dumps({"case": name, "batches": batches, "rows": rows}, sort_keys=True))
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        print(json.dumps({"case": name, "condition": condition, "type": type(e).__name__, "message": str(e).splitlines()[0]}, sort_keys=True))
