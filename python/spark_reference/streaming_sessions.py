"""Apache Spark's session windows and grouping sets (cube, rollup) on a stream
(tests/stateful_cases.py's SESSION_CASES and GROUPING_SET_CASES): the
same JSON files as streaming_stateful.py, one per micro-batch, with trigger(availableNow=True)
into a memory sink; printed per case as one JSON line: each batch's progress summary and the
sink's rows, sorted (or Spark's error). test_streaming_stateful.py's session test compares."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import stateful_cases as cases  # noqa: E402

spark = cases.local_spark()


def input_dir():
    return cases.write_batches(tempfile.mkdtemp(), cases.rows_of, range(len(cases.FILES)))


for name, (query, mode) in {**cases.SESSION_CASES, **cases.GROUPING_SET_CASES}.items():
    try:
        rows, batches = cases.run_to_memory(spark, query(spark, input_dir()), name, mode)
        print(json.dumps({"case": name, "batches": batches, "rows": rows}, sort_keys=True))
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        print(json.dumps({"case": name, "condition": condition, "type": type(e).__name__, "message": str(e).splitlines()[0]}, sort_keys=True))
