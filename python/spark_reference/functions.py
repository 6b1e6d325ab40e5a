"""Spark's answers for the function families of python/tests/test_functions.py: each expression
(DataFrame API, as users write it) evaluated over the same small table, printed with Spark's
column name, type and values; then the SQL cases, as select items over the view `fn`.
One JSON object per line. Run: python functions.py > functions.out"""

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from function_cases import CASES, ROWS, SCHEMA, SQL_CASES, plain, sql_query  # noqa: E402

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")
df = spark.createDataFrame(ROWS, SCHEMA)


def emit(key, make):
    """Prints Spark's answer for one case: the column's name, type and values, or the error class."""
    try:
        out = make()
        values = [plain(r[0]) for r in out.collect()]
        field = out.schema.fields[0]
        print(json.dumps(key | {"name": field.name, "type": field.dataType.simpleString(), "values": values}))
    except Exception as e:  # noqa: BLE001 - the error class is the expected answer
        cls = getattr(e, "getErrorClass", lambda: None)() or type(e).__name__
        print(json.dumps(key | {"error": cls}))


for family, kind, text in CASES:
    expr = eval(text, {"F": F, "Window": Window})
    emit({"family": family, "expr": text}, lambda: df.agg(expr) if kind == "agg" else df.orderBy("i").select(expr))

df.createOrReplaceTempView("fn")
for family, kind, item in SQL_CASES:
    emit({"family": family, "sql": item}, lambda: spark.sql(sql_query(kind, item)))
