"""first()/last() over a sorted input give the first and last rows in that order, as Spark
does (its aggregation reads each sorted partition in order): grouped and global, ascending
with nulls first, descending, with and without ignorenulls. Expected values are computed here
from the same rows, sorted the way Spark's orderBy sorts them."""

from pyspark.sql import functions as F

ROWS = [("a", 3), ("b", 7), ("a", None), ("a", 1), ("b", 2), ("c", None)]


def spark_sorted(rows, descending=False):
    # Spark: ascending puts nulls first, descending puts them last
    present = sorted((r for r in rows if r[1] is not None), key=lambda r: r[1], reverse=descending)
    nulls = [r for r in rows if r[1] is None]
    return present + nulls if descending else nulls + present


def first_last(rows, ignore_nulls=False):
    out = {}
    for name, v in rows:
        if ignore_nulls and v is None:
            continue
        first, _ = out.get(name, (v, v))
        out[name] = (first, v)
    return out


def test_grouped_first_and_last_follow_the_sort(spark):
    df = spark.createDataFrame(ROWS, ["k", "v"])
    for descending in (False, True):
        ordered = df.orderBy(F.col("v").desc() if descending else F.col("v"))
        got = ordered.groupBy("k").agg(F.first("v").alias("f"), F.last("v").alias("l"))
        want = first_last(spark_sorted(ROWS, descending))
        assert {r.k: (r.f, r.l) for r in got.collect()} == want


def test_ignorenulls_skips_the_nulls_the_sort_put_first(spark):
    df = spark.createDataFrame(ROWS, ["k", "v"]).orderBy("v")
    got = df.groupBy("k").agg(F.first("v", ignorenulls=True).alias("f"))
    want = {k: f for k, (f, _) in first_last(spark_sorted(ROWS), ignore_nulls=True).items()}
    want.setdefault("c", None)
    assert {r.k: r.f for r in got.collect()} == want


def test_a_global_first_and_last_over_a_sorted_range(spark):
    df = spark.range(1000).orderBy(F.col("id").desc())
    row = df.select(F.first("id"), F.last("id")).first()
    assert (row[0], row[1]) == (999, 0)
