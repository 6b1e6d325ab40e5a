"""Sliding and running window aggregates, as the seeds and users write them: the data and the
DataFrame (and SQL) code shared by python/spark_reference/window_frames.py, which prints real
Spark's answers, and python/tests/test_window_frames.py, which checks Spate's against them.

The data is drawn from a seeded generator: 10,000 events of 60 users over 90 days with
repeated timestamps (peers of a RANGE frame), null amounts, sessions and order keys, and
minute bars of 8 symbols. Each case returns a DataFrame of `id` and its window columns."""

import random
from datetime import datetime, timedelta, timezone

from pyspark.sql import Window
from pyspark.sql import functions as F

START = datetime(2024, 10, 1, tzinfo=timezone.utc)


def events():
    rng = random.Random(7)
    rows = []
    for i in range(10_000):
        user = f"u{rng.randrange(60):03d}"
        # whole hours: many events of a user share a timestamp
        ts = START + timedelta(hours=rng.randrange(90 * 24))
        amount = round(rng.lognormvariate(3, 1), 2) if rng.random() < 0.6 else None
        session = f"s{user[1:]}-{rng.randrange(40)}" if rng.random() < 0.9 else None
        k = rng.randrange(400) if rng.random() < 0.95 else None
        rows.append((i, user, ts, amount, session, k))
    return rows


EVENTS_SCHEMA = "id long, user_id string, event_timestamp timestamp, amount double, session_id string, k long"


def bars():
    rng = random.Random(11)
    rows, i = [], 0
    for s in range(8):
        price = 100.0 + s
        for m in range(1000):
            price = max(1.0, price + rng.uniform(-1, 1))
            rows.append((i, f"SYM{s}", START + timedelta(minutes=m), round(price, 4)))
            i += 1
    rng.shuffle(rows)
    return rows


BARS_SCHEMA = "id long, symbol string, timestamp timestamp, close double"


def seed_002_features(ev, _bars):
    # seed 002's 30-day window, as written there
    user_window_30d = Window \
        .partitionBy("user_id") \
        .orderBy(F.col("event_timestamp").cast("long")) \
        .rangeBetween(-30 * 24 * 3600, Window.currentRow)
    return ev.select(
        "id",
        F.count("*").over(user_window_30d).alias("tx_count_30d"),
        F.avg("amount").over(user_window_30d).alias("avg_amount_30d"),
        F.approx_count_distinct("session_id").over(user_window_30d).alias("sessions_30d"),
    )


def seed_001_indicators(_ev, bars):
    # seed 001's moving averages and RSI, as written there
    window_14 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-13, 0)
    window_50 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-49, 0)
    df = bars.withColumn("sma_14", F.avg("close").over(window_14))
    df = df.withColumn("sma_50", F.avg("close").over(window_50))
    delta = F.col("close") - F.lag("close", 1).over(Window.partitionBy("symbol").orderBy("timestamp"))
    gain = F.when(delta > 0, delta).otherwise(0)
    loss = F.when(delta < 0, F.abs(delta)).otherwise(0)
    df = df.withColumn("avg_gain", F.avg(gain).over(window_14))
    df = df.withColumn("avg_loss", F.avg(loss).over(window_14))
    df = df.withColumn("rsi_14", 100 - (100 / (1 + F.col("avg_gain") / F.col("avg_loss"))))
    return df.select("id", "sma_14", "sma_50", "avg_gain", "avg_loss", "rsi_14")


def _aggregates(w):
    return [
        F.count("*").over(w).alias("n"),
        F.count("amount").over(w).alias("n_amount"),
        F.sum("amount").over(w).alias("total"),
        F.avg("amount").over(w).alias("mean"),
        F.approx_count_distinct("session_id").over(w).alias("sessions"),
    ]


def range_nulls_first(ev, _bars):
    # ascending: null keys first, each null-keyed row's frame is the null-keyed rows
    return ev.select("id", *_aggregates(Window.partitionBy("user_id").orderBy("k").rangeBetween(-25, 0)))


def range_descending(ev, _bars):
    # descending: nulls last, the frame reaches 25 above the key
    return ev.select("id", *_aggregates(Window.partitionBy("user_id").orderBy(F.desc("k")).rangeBetween(-25, 0)))


def range_peers_only(ev, _bars):
    w = Window.partitionBy("user_id").orderBy("k").rangeBetween(Window.currentRow, Window.currentRow)
    return ev.select("id", *_aggregates(w))


def running_default_frame(ev, _bars):
    # ORDER BY alone: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, peers included
    return ev.select("id", *_aggregates(Window.partitionBy("user_id").orderBy("k")))


def running_rows(ev, _bars):
    w = Window.partitionBy("user_id").orderBy("id").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return ev.select("id", *_aggregates(w))


def rows_sliding(ev, _bars):
    return ev.select("id", *_aggregates(Window.partitionBy("user_id").orderBy("id").rowsBetween(-20, 0)))


def one_partition(ev, _bars):
    # no partition keys: one window partition over every row
    return ev.select("id", *_aggregates(Window.orderBy("k").rangeBetween(-2, 0)))


def sql_text(ev, _bars):
    ev.createOrReplaceTempView("window_events")
    return ev.sparkSession.sql(
        "SELECT id, count(amount) OVER w AS n_amount, avg(amount) OVER w AS mean, "
        "sum(amount) OVER w AS total FROM window_events "
        "WINDOW w AS (PARTITION BY user_id ORDER BY k RANGE BETWEEN 10 PRECEDING AND CURRENT ROW)"
    )


def latest_per_symbol(_ev, bars):
    # seed 002's "latest snapshot" pattern over bars, whose timestamps are unique per symbol;
    # spread over partitions first, so each symbol's rows come from several
    w = Window.partitionBy("symbol").orderBy(F.desc("timestamp"))
    return bars.repartition(3).withColumn("row_num", F.row_number().over(w)).filter("row_num = 1").drop("row_num") \
        .select("id", "symbol", "close")


def first_three_per_symbol(_ev, bars):
    w = Window.partitionBy("symbol").orderBy("close", "id")
    return bars.repartition(3).withColumn("rn", F.row_number().over(w)).where(F.col("rn") <= 3).select("id", "rn", "close")


CASES = {
    f.__name__: f
    for f in [
        seed_002_features, seed_001_indicators, range_nulls_first, range_descending, range_peers_only,
        running_default_frame, running_rows, rows_sliding, one_partition, sql_text,
        latest_per_symbol, first_three_per_symbol,
    ]
}
