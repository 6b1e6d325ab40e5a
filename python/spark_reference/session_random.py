"""Spark's answers for python/tests/test_session_random.py: each case of session_random_cases.py
(session windows, sliding windows in SQL, seeded rand/randn, make_timestamp) printed as its
output columns (name, type) and sorted rows, or its error class. One JSON object per line.
Run: python session_random.py > session_random.out"""

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from generator_cases import answer  # noqa: E402
from session_random_cases import CASES, ROWS, SCHEMA, SQL_CASES  # noqa: E402

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")
df = spark.createDataFrame(ROWS, SCHEMA)
df.createOrReplaceTempView("ev")


def emit(key, make):
    """Prints Spark's answer for one case, or the class of the error it raises."""
    try:
        print(json.dumps(key | answer(make())))
    except Exception as e:  # noqa: BLE001 - the error class is the expected answer
        cls = getattr(e, "getErrorClass", lambda: None)() or type(e).__name__
        print(json.dumps(key | {"error": cls}))


for text in CASES:
    emit({"expr": text}, lambda: eval(text, {"F": F, "df": df, "spark": spark}))
for query in SQL_CASES:
    emit({"sql": query}, lambda: spark.sql(query))
