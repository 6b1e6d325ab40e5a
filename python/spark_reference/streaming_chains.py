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
            f.write("".join(json.dumps(r) + "\n" for r in cases.rows_of(side, i)))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return d


for name, (query, mode) in cases.CHAIN_CASES.items():
    try:
        df = query(spark, input_dir("left"), input_dir("right"))
        rows, batches = stateful_cases.run_to_memory(spark, df, name, mode)
        print(json.dumps({"case": name, "batches": batches, "rows": rows}, sort_keys=True))
    except Exception as e:  # noqa: BLE001 - what Spark raises is what is recorded
        condition = e.getCondition() if hasattr(e, "getCondition") else None
        print(json.dumps({"case": name, "condition": condition, "type": type(e).__name__, "message": str(e).splitlines()[0]}, sort_keys=True))
