"""Spark's DataFrame.transpose and colRegex, for python/tests/test_dataframe.py::
test_transpose_is_sparks and ::test_col_regex_selects_whole_name_matches. Run with pyspark
4.2.1 (/tmp/spark42/bin/python transpose.py > transpose.out)."""

from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
df = spark.createDataFrame([("B", 1, 2.5), ("A", 3, 4.0), ("C", None, 1.0)], ["id", "val1", "val2"])
t = df.transpose()
print(t.dtypes, [tuple(r) for r in t.collect()])
df = spark.createDataFrame([(2, "x", "y"), (1, "z", None)], ["k", "a", "b"])
t = df.transpose()
print(t.dtypes, [tuple(r) for r in t.collect()])
try:
    df.transpose(df.a).collect()
except Exception as e:
    print(e.getCondition())
df = spark.createDataFrame([("a", 1, 2)], ["Col1", "Col2", "C3"])
print(df.select(df.colRegex("`(Col1)?+.+`")).columns, df.select(df.colRegex("`Col.`")).columns,
      df.select(df.colRegex("`C`")).columns)
