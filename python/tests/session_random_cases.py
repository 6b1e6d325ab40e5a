"""Cases for session_window(), sliding window() keys in SQL, seeded rand/randn and
make_timestamp, shared by python/tests/test_session_random.py and
python/spark_reference/session_random.py, which prints Spark's answer for each: the output
columns (name and type) and the sorted rows, or the error class.

A case is a DataFrame expression (evaluated with `F`, `df` and `spark` in scope) or a SQL query
over the view `ev`. Random values depend on the partition a row is in, so those cases make
their partitions explicitly (`spark.range(start, end, step, numPartitions)`)."""

from datetime import datetime

SCHEMA = "k string, t timestamp, v int, gap string"

ROWS = [
    ("a", datetime(2024, 1, 1, 10, 0, 0), 1, "5 minutes"),
    ("a", datetime(2024, 1, 1, 10, 4, 0), 2, "5 minutes"),
    ("a", datetime(2024, 1, 1, 10, 9, 0), 3, "1 minute"),
    ("a", datetime(2024, 1, 1, 10, 20, 0), 4, "10 minutes"),
    ("a", datetime(2024, 1, 1, 10, 25, 0), 5, None),
    ("b", datetime(2024, 1, 1, 10, 2, 0), 6, "5 minutes"),
    ("b", datetime(2024, 1, 1, 10, 7, 0), 7, "0 seconds"),
    ("b", None, 8, "5 minutes"),
    (None, datetime(2024, 1, 1, 10, 1, 0), 9, "5 minutes"),
]

CASES = [
    # session windows: per key, touching intervals merge (10:00 + 5 min meets 10:05)
    'df.groupBy("k", F.session_window("t", "5 minutes")).agg(F.sum("v").alias("s"), F.count("*").alias("c"))',
    'df.groupBy(F.session_window("t", "5 minutes")).count()',
    'df.groupBy("k", F.session_window("t", "10 minutes")).agg(F.collect_list("v").alias("vs"))',
    'df.groupBy(F.session_window("t", "5 minutes").alias("w")).agg(F.max("v").alias("m"))',
    'df.groupBy("k", F.session_window("t", F.col("gap"))).agg(F.sum("v").alias("s"))',
    'df.groupBy(F.session_window("t", F.when(F.col("v") > 2, "10 minutes").otherwise("2 minutes"))).count()',
    'df.groupBy("k", F.session_window("t", "5 minutes")).agg(F.sum("v").alias("s")).select("k", "session_window.start", "session_window.end", "s")',
    'df.groupBy(F.session_window("t", "5 minutes")).count().where(F.col("count") > 1)',
    # rand / randn: one generator per partition, seeded with seed + partition index
    'spark.range(0, 6, 1, 2).select("id", F.rand(42), F.randn(42), F.spark_partition_id())',
    'spark.range(0, 4, 1, 1).select("id", F.rand(1).alias("a"), F.rand(1).alias("b"))',
    'spark.range(0, 5, 1, 1).select("id", F.rand(-5).alias("x"), F.randn(0).alias("y"))',
    'spark.range(0, 20, 1, 1).where(F.rand(3) < 0.5)',
    'spark.range(0, 8, 1, 4).withColumn("r", F.rand(11)).select("id", (F.col("r") * 100).cast("int").alias("pct"))',
    # make_timestamp
    'spark.range(1).select(F.make_timestamp(F.lit(2024), F.lit(3), F.lit(5), F.lit(10), F.lit(11), F.lit(12.5)))',
    'spark.range(1).select(F.make_timestamp(F.lit(2024), F.lit(3), F.lit(5), F.lit(10), F.lit(11), F.lit(12.5), F.lit("Asia/Tokyo")).alias("ts"))',
    'df.select("v", F.make_timestamp(F.year("t"), F.month("t"), F.lit(28), F.hour("t"), F.col("v"), F.col("v") * 6.5).alias("ts"))',
]

SQL_CASES = [
    "SELECT session_window(t, '5 minutes') AS w, count(*) AS n FROM ev GROUP BY 1",
    "SELECT k, session_window(t, '5 minutes') AS w, sum(v) AS s FROM ev GROUP BY k, session_window(t, '5 minutes')",
    "SELECT k, session_window(t, gap) AS w, count(*) AS n FROM ev GROUP BY k, session_window(t, gap)",
    "SELECT session_window.start, session_window.end, count(*) FROM ev GROUP BY session_window(t, '3 minutes')",
    "SELECT window(t, '10 minutes', '5 minutes') AS w, sum(v) AS s FROM ev GROUP BY 1",
    "SELECT k, window(t, '10 minutes') AS w, count(*) AS n FROM ev GROUP BY k, window(t, '10 minutes')",
    "SELECT rand(7), randn(7), rand(null) FROM range(0, 3, 1, 1)",
    "SELECT make_timestamp(2024, 3, 5, 10, 11, 12.5) a, make_timestamp(2024, 3, 5, 10, 11, 60) b, make_timestamp(2024, 3, 5, 10, 11, 12.123456, 'America/New_York') c, make_timestamp(null, 1, 1, 1, 1, 1) d",
    "SELECT make_timestamp(2014, 12, 28, 6, 30, 45.887, 'CET') AS ts",
    "SELECT make_timestamp(2024, 3, 10, 2, 30, 0, 'America/New_York') AS skipped, make_timestamp(2024, 11, 3, 1, 30, 0, 'America/New_York') AS twice",
    "SELECT make_timestamp(2024, 2, 30, 1, 1, 1)",
    "SELECT make_timestamp(2024, 1, 1, 25, 1, 1)",
    "SELECT make_timestamp(2024, 1, 1, 1, 1, 60.5)",
    "SELECT make_timestamp(2024, 1, 1, 1, 1, 61)",
]
