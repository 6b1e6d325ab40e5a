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
# a cast of a column is named after the column as an output (select, selectExpr, groupBy),
# not inside an expression or of a non-column (test_dataframe.py::test_cast_output_names)
casts = spark.createDataFrame([(1, 1.0, "x")], ["int", "float", "s"])
print(casts.select(F.col("float").cast("int"), casts.s.try_cast("long"), (F.col("int") + 1).cast("string"),
                   F.col("int").cast("string").cast("int"), F.lit(1).cast("string"),
                   F.expr("CAST(int AS STRING)"), F.col("int").astype("double")).columns)
print(casts.selectExpr("CAST(int AS STRING)", "cast(float as int)").columns)
print(casts.groupBy(F.col("s").cast("string")).count().columns)
print(casts.select(F.upper(F.col("s").cast("string"))).columns)
