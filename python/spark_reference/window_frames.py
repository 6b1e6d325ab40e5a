"""Spark's answers for python/tests/test_window_frames.py: each case of
python/tests/window_frame_cases.py (sliding and running window aggregates) run by Apache
Spark 4.0.1, its columns and types and its rows ordered by id, doubles to 13 significant digits. One JSON object per line.
Run: python window_frames.py > window_frames.out"""

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from window_frame_cases import BARS_SCHEMA, CASES, EVENTS_SCHEMA, bars, events  # noqa: E402

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")
# seed 001 was written for Spark 3, where x / 0 is NULL
spark.conf.set("spark.sql.ansi.enabled", "false")
ev = spark.createDataFrame(events(), EVENTS_SCHEMA)
bs = spark.createDataFrame(bars(), BARS_SCHEMA)
for name, case in CASES.items():
    df = case(ev, bs).orderBy("id")
    # doubles to 13 significant digits (the test compares them to 1e-9 relative)
    rows = [[float(f"{v:.13g}") if isinstance(v, float) else v for v in r] for r in df.collect()]
    print(json.dumps(separators=(",", ":"), obj={
        "case": name,
        "columns": df.columns,
        "types": [f.dataType.simpleString() for f in df.schema],
        "rows": rows,
    }))
