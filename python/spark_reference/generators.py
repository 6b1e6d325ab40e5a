"""Spark's answers for python/tests/test_generators.py: each generator case (DataFrame
expression or SQL query) over the same small table, printed as its output columns (name, type)
and sorted rows, or its error class. One JSON object per line.
Run: python generators.py > generators.out"""

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from generator_cases import CASES, ROWS, SCHEMA, SQL_CASES, answer  # noqa: E402

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")
df = spark.createDataFrame(ROWS, SCHEMA)
df.createOrReplaceTempView("g")


def emit(key, make):
    """Prints Spark's answer for one case, or the class of the error it raises."""
    try:
        print(json.dumps(key | answer(make())))
    except Exception as e:  # noqa: BLE001 - the error class is the expected answer
        cls = getattr(e, "getErrorClass", lambda: None)() or type(e).__name__
        print(json.dumps(key | {"error": cls}))


for text in CASES:
    emit({"expr": text}, lambda: eval(text, {"F": F, "df": df}))
for query in SQL_CASES:
    emit({"sql": query}, lambda: spark.sql(query))
