"""Spark's row order for small joins (broadcast joins stream one side in order; a cross join is
a cartesian product), for python/tests/test_joins.py::test_small_joins_keep_sparks_row_order.
Through Spark Connect, as users reach it: there createDataFrame sends a local relation, which
Spark broadcasts (classic PySpark's createDataFrame makes an RDD Spark does not size, and
sort-merge joins it). One JSON object per line. Run with pyspark 4.2.1 and the Connect client's
dependencies (grpcio, grpcio-status, googleapis-common-protos, pandas, pyarrow, zstandard):
python join_order.py > join_order.out"""

import json

from pyspark.sql import SparkSession

spark = SparkSession.builder.remote("local[4]").config("spark.ui.enabled", "false").getOrCreate()
people = spark.createDataFrame([(14, "Tom"), (23, "Alice"), (16, "Bob")], ["age", "name"])
heights = spark.createDataFrame([(80, "Tom"), (85, "Bob")], ["height", "name"])
many = spark.createDataFrame([(i, f"n{i}") for i in range(7)], ["k", "v"])


def rows(df):
    return [list(r) for r in df.collect()]


cases = {
    # right smaller: Spark builds the right side and streams the left
    "cross_left_major": people.crossJoin(heights.select("height")),
    # left smaller: Spark builds the left side and streams the right
    "cross_right_major": heights.select("height").crossJoin(people),
    "cross_bigger": people.select("name").crossJoin(many.select("k")),
    "inner_same_size": spark.createDataFrame([(2, "b"), (1, "a")], ["k", "x"]).join(
        spark.createDataFrame([(1, "p"), (2, "q")], ["k", "y"]), "k"),
    "left_semi": many.join(spark.createDataFrame([(5,), (1,), (3,)], ["k"]), "k", "left_semi"),
    "left_anti": many.join(spark.createDataFrame([(5,), (1,), (3,)], ["k"]), "k", "left_anti"),
    # outer joins: the streamed side's unmatched rows come out in their place
    "left_outer": many.join(spark.createDataFrame([(5, "x"), (1, "y"), (3, "z")], ["k", "w"]), "k", "left"),
    "right_outer": spark.createDataFrame([(5, "x"), (1, "y"), (3, "z")], ["k", "w"]).join(many, "k", "right"),
}
for name, df in cases.items():
    print(json.dumps({"case": name, "rows": rows(df)}))
