"""Spark's output names for DataFrame selects that repeat a name, and the field names of
struct(...) (python/tests/test_dataframe.py::test_repeated_output_names and
::test_struct_field_names)."""

from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
df = spark.createDataFrame([(1, "x")], "id int, n string")
print(df.select(F.struct("id", "n"), F.struct(F.col("id") + 1)).schema.simpleString())
print(df.selectExpr("struct(id, n)", "id + 1").schema.simpleString())
print(spark.range(3).select("id", "id").collect())
print(spark.range(3).groupBy().agg(F.count("id"), F.count("id")).collect())
