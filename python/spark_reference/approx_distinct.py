"""Spark's approx_count_distinct (HyperLogLog++) estimates, for python/tests/test_approx_distinct.py:
per input type and cardinality, with the default and explicit rsd, in SQL, as group and as window
aggregates (sliding range frame and running frame). One JSON object per line."""

import json

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")

KINDS = {
    "long": F.col("id"),
    "int": F.col("id").cast("int"),
    "double": F.col("id") * 0.5,
    "string": F.concat(F.lit("user-"), F.col("id").cast("string")),
    "timestamp": F.timestamp_seconds(F.col("id")),
    "date": F.date_add(F.lit("2020-01-01").cast("date"), F.col("id").cast("int")),
}
for kind, col in KINDS.items():
    for n in [0, 1, 10, 100, 300, 1000, 3000, 10000, 100000]:
        for rsd in [None, 0.01]:
            agg = F.approx_count_distinct(col) if rsd is None else F.approx_count_distinct(col, rsd)
            est = spark.range(n).select(agg).first()[0]
            print(json.dumps({"case": "group", "kind": kind, "n": n, "rsd": rsd, "estimate": est}))

# nulls are not counted; every 3rd value null
est = spark.range(100).select(F.approx_count_distinct(F.when(F.col("id") % 3 != 0, F.col("id")))).first()[0]
print(json.dumps({"case": "nulls", "estimate": est}))

# names
df = spark.range(10).select(F.approx_count_distinct("id"), F.approx_count_distinct("id", 0.1))
print(json.dumps({"case": "names", "columns": df.columns, "types": [f.dataType.simpleString() for f in df.schema]}))
row = spark.sql("SELECT approx_count_distinct(id), approx_count_distinct(id, 0.1) FROM range(5000)")
print(json.dumps({"case": "sql", "columns": row.columns, "values": list(row.first())}))

# windows: 3 groups, 2000 rows each, values cycling through a group-dependent number of keys
rows = [(g, i, f"k{(i * 7) % (50 + 100 * g)}") for g in range(3) for i in range(2000)]
w = spark.createDataFrame(rows, "g int, t long, v string")
sliding = Window.partitionBy("g").orderBy("t").rangeBetween(-300, Window.currentRow)
running = Window.partitionBy("g").orderBy("t").rowsBetween(Window.unboundedPreceding, Window.currentRow)
out = w.select(
    "g", "t",
    F.approx_count_distinct("v").over(sliding).alias("sliding"),
    F.approx_count_distinct("v").over(running).alias("running"),
).orderBy("g", "t").collect()
print(json.dumps({"case": "window", "rows": [list(r) for r in out]}))

try:
    spark.range(10).select(F.approx_count_distinct("id", 0.5)).collect()
except Exception as e:
    print(json.dumps({"case": "bad_rsd", "error": type(e).__name__, "message": str(e).splitlines()[0][:300]}))
