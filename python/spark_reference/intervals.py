"""Spark's year-month interval literals (names, types, shown values) and try_add/try_subtract
over them, for python/tests/test_functions.py::test_year_month_intervals_are_sparks. Through
Spark Connect, as users reach it (collect() of these types fails there, in Spark's client too).
One JSON object per line. Run with pyspark 4.2.1 and the Connect client's dependencies:
python intervals.py > intervals.out"""

import json

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.builder.remote("local[4]").getOrCreate()
queries = {
    "literals": "SELECT INTERVAL 1 YEAR, INTERVAL '1-2' YEAR TO MONTH, INTERVAL 3 MONTH, "
    "INTERVAL -2 YEAR, INTERVAL '-1-2' YEAR TO MONTH, INTERVAL '14' MONTH",
    "values": "SELECT * FROM VALUES (DATE'2015-09-30', INTERVAL 1 YEAR, INTERVAL 2 YEAR) AS t(d, a, b)",
}
for name, q in queries.items():
    df = spark.sql(q)
    print(json.dumps({"case": name, "columns": df.columns, "types": [f.dataType.simpleString() for f in df.schema],
                      "show": df._show_string()}))
df = spark.sql(queries["values"]).select(
    F.try_add("d", "a"), F.try_subtract("d", "a"), F.try_add("a", "b"), F.try_subtract("a", "b"))
print(json.dumps({"case": "try", "columns": df.columns, "types": [f.dataType.simpleString() for f in df.schema],
                  "show": df._show_string()}))
