"""Window functions as seed 001 uses them, checked against pandas over the same rows."""

import math

import pandas as pd
import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F


@pytest.fixture
def bars(spark):
    rows = [(s, t, round(100 + 10 * math.sin(t / 3.0) + (5 if s == "B" else 0), 3)) for s in ("A", "B") for t in range(40)]
    return rows, spark.createDataFrame(rows, ["symbol", "timestamp", "close"])


def test_rows_between_moving_average(bars):
    rows, df = bars
    w = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-13, 0)
    got = df.withColumn("sma_14", F.avg("close").over(w)).orderBy("symbol", "timestamp").collect()
    pdf = pd.DataFrame(rows, columns=["symbol", "timestamp", "close"]).sort_values(["symbol", "timestamp"])
    expected = pdf.groupby("symbol")["close"].transform(lambda s: s.rolling(14, min_periods=1).mean()).tolist()
    assert [r.sma_14 for r in got] == pytest.approx(expected)


def test_seed_001_rsi_with_nested_windows(bars):
    rows, df = bars
    window_14 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-13, 0)
    delta = F.col("close") - F.lag("close", 1).over(Window.partitionBy("symbol").orderBy("timestamp"))
    gain = F.when(delta > 0, delta).otherwise(0)
    loss = F.when(delta < 0, F.abs(delta)).otherwise(0)
    df = df.withColumn("avg_gain", F.avg(gain).over(window_14))
    df = df.withColumn("avg_loss", F.avg(loss).over(window_14))
    got = df.orderBy("symbol", "timestamp").collect()

    pdf = pd.DataFrame(rows, columns=["symbol", "timestamp", "close"]).sort_values(["symbol", "timestamp"])
    d = pdf.groupby("symbol")["close"].diff()
    # Spark: a NULL delta fails both conditions, so otherwise(0) applies.
    pdf["gain"] = d.where(d > 0, 0.0).fillna(0.0)
    pdf["loss"] = (-d).where(d < 0, 0.0).fillna(0.0)
    roll = lambda col: pdf.groupby("symbol")[col].transform(lambda s: s.rolling(14, min_periods=1).mean())
    assert [r.avg_gain for r in got] == pytest.approx(roll("gain").tolist())
    assert [r.avg_loss for r in got] == pytest.approx(roll("loss").tolist())


def test_ranking_and_lag_lead(spark):
    df = spark.createDataFrame([("a", 3), ("a", 1), ("a", 3), ("b", 2)], ["k", "v"])
    w = Window.partitionBy("k").orderBy("v")
    got = df.select("k", "v", F.row_number().over(w).alias("rn"), F.rank().over(w).alias("rk"),
                    F.dense_rank().over(w).alias("dr"), F.lag("v", 1, -1).over(w).alias("prev"),
                    F.lead("v").over(w).alias("next")).orderBy("k", "rn").collect()
    assert [(r.k, r.v, r.rn, r.rk, r.dr, r.prev, r.next) for r in got] == [
        ("a", 1, 1, 1, 1, -1, 3),
        ("a", 3, 2, 2, 2, 1, 3),
        ("a", 3, 3, 2, 2, 3, None),
        ("b", 2, 1, 1, 1, -1, None),
    ]


def test_ranking_function_types(spark):
    """Spark's ranking functions are IntegerType; percent_rank and cume_dist DoubleType."""
    df = spark.createDataFrame([("a", 3), ("a", 1), ("b", 2)], ["k", "v"])
    w = Window.partitionBy("k").orderBy("v")
    out = df.select(F.row_number().over(w), F.rank().over(w), F.dense_rank().over(w), F.ntile(2).over(w),
                    F.percent_rank().over(w), F.cume_dist().over(w))
    assert [f.dataType.simpleString() for f in out.schema.fields] == ["int"] * 4 + ["double"] * 2
    assert sorted(tuple(r) for r in out.collect()) == [(1, 1, 1, 1, 0.0, 0.5), (1, 1, 1, 1, 0.0, 1.0), (2, 2, 2, 2, 1.0, 1.0)]


def test_running_total_default_frame(spark):
    # With an ORDER BY and no frame, Spark uses RANGE UNBOUNDED PRECEDING..CURRENT ROW: ties share a total.
    df = spark.createDataFrame([(1, 10), (2, 20), (2, 5), (3, 1)], ["t", "x"])
    got = df.select("t", F.sum("x").over(Window.orderBy("t")).alias("s")).orderBy("t", "s").collect()
    assert [(r.t, r.s) for r in got] == [(1, 10), (2, 35), (2, 35), (3, 36)]


def test_window_time_is_the_window_end_less_a_microsecond(spark):
    """Spark's window_time(window): the event time of a window's rows (its end minus 1 us),
    named window_time(window); other columns are refused."""
    from datetime import datetime, timedelta

    from pyspark.errors import AnalysisException

    df = spark.createDataFrame([(datetime(2026, 12, 1, 12, 0, 7),), (datetime(2026, 12, 1, 12, 0, 13),)], "ts timestamp")
    windows = df.groupBy(F.window("ts", "10 seconds")).count()
    out = windows.select("window.end", F.window_time("window")).orderBy("end")
    assert out.columns == ["end", "window_time(window)"]
    assert [tuple(r) for r in out.collect()] == [
        (datetime(2026, 12, 1, 12, 0, 10), datetime(2026, 12, 1, 12, 0, 10) - timedelta(microseconds=1)),
        (datetime(2026, 12, 1, 12, 0, 20), datetime(2026, 12, 1, 12, 0, 20) - timedelta(microseconds=1)),
    ]
    with pytest.raises(AnalysisException):
        df.select(F.window_time("ts")).collect()
