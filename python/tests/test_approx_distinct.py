"""approx_count_distinct gives Apache Spark 4.0.1's estimates (python/spark_reference/
approx_distinct.py and its committed output): per input type and cardinality, with the default
and an explicit rsd, in SQL, and as a window aggregate over sliding and running frames.

Spate hashes and fills registers as Spark does, so estimates are equal wherever Spark uses
linear counting or the raw HyperLogLog estimate. Between Spark's linear-counting threshold and
five times the register count, Spark subtracts an empirical bias we have no tables for; there
the estimate only has to be within three standard deviations of the true count."""

import json
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import Window
from pyspark.sql import functions as F

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "approx_distinct.out"
CASES = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]
GROUP = [c for c in CASES if c["case"] == "group"]
ONE = {c["case"]: c for c in CASES if c["case"] != "group"}
# (linear-counting threshold, 5 * registers) for the rsds used: 0.05 -> p 9, 0.01 -> p 14
BIAS_BAND = {None: (400, 5 * 512), 0.01: (11500, 5 * 16384)}


def column(kind):
    return {
        "long": F.col("id"),
        "int": F.col("id").cast("int"),
        "double": F.col("id") * 0.5,
        "string": F.concat(F.lit("user-"), F.col("id").cast("string")),
        "timestamp": F.timestamp_seconds(F.col("id")),
        "date": F.date_add(F.lit("2020-01-01").cast("date"), F.col("id").cast("int")),
    }[kind]


@pytest.fixture(autouse=True)
def utc(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")


@pytest.mark.parametrize("case", GROUP, ids=lambda c: f"{c['kind']}-{c['n']}-{c['rsd']}")
def test_group_estimates_are_sparks(spark, case):
    col = column(case["kind"])
    rsd = case["rsd"]
    agg = F.approx_count_distinct(col) if rsd is None else F.approx_count_distinct(col, rsd)
    ours = spark.range(case["n"]).select(agg).first()[0]
    low, high = BIAS_BAND[rsd]
    if low < case["estimate"] <= high:
        assert abs(ours - case["n"]) <= 3 * (rsd or 0.05) * case["n"], (ours, case)
    else:
        assert ours == case["estimate"]


def test_nulls_are_not_counted(spark):
    col = F.when(F.col("id") % 3 != 0, F.col("id"))
    assert spark.range(100).select(F.approx_count_distinct(col)).first()[0] == ONE["nulls"]["estimate"]


def test_names_and_types_leave_out_rsd(spark):
    df = spark.range(10).select(F.approx_count_distinct("id"), F.approx_count_distinct("id", 0.1))
    assert df.columns == ONE["names"]["columns"]
    assert [f.dataType.simpleString() for f in df.schema] == ONE["names"]["types"]


def test_sql_text(spark):
    df = spark.sql("SELECT approx_count_distinct(id), approx_count_distinct(id, 0.1) FROM range(5000)")
    assert df.columns == ONE["sql"]["columns"]
    assert list(df.first()) == ONE["sql"]["values"]


def test_window_sliding_and_running_frames(spark):
    rows = [(g, i, f"k{(i * 7) % (50 + 100 * g)}") for g in range(3) for i in range(2000)]
    w = spark.createDataFrame(rows, "g int, t long, v string")
    sliding = Window.partitionBy("g").orderBy("t").rangeBetween(-300, Window.currentRow)
    running = Window.partitionBy("g").orderBy("t").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    out = w.select(
        "g", "t",
        F.approx_count_distinct("v").over(sliding).alias("sliding"),
        F.approx_count_distinct("v").over(running).alias("running"),
    ).orderBy("g", "t").collect()
    assert [list(r) for r in out] == ONE["window"]["rows"]


def test_rsd_too_large_fails_as_in_spark(spark):
    with pytest.raises(AnalysisException, match="FAILED_FUNCTION_CALL"):
        spark.range(10).select(F.approx_count_distinct("id", 0.5)).collect()
