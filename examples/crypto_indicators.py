"""Seed 001's feature engineering, run as written against Spate: moving averages and RSI per
symbol with window functions, then a daily roll-up written as Parquet.

Run with `spate run examples/crypto_indicators.py [OUTPUT_DIR]`; the data is generated here,
deterministically, so the output is the same on every machine."""

import math
import os
import sys

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

# Seed 001 was written for Spark 3, where `x / 0` is NULL: its RSI divides by a zero average
# loss on each symbol's first bar. Spark 4 turns ANSI mode on and fails there with
# DIVIDE_BY_ZERO, as Spate does; this is the documented switch back to Spark 3 semantics.
spark = (
    SparkSession.builder.remote(os.environ.get("SPARK_REMOTE", "sc://localhost:15002"))
    .config("spark.sql.ansi.enabled", "false")
    .getOrCreate()
)
out = sys.argv[1] if len(sys.argv) > 1 else "examples/data/crypto_daily"

# Deterministic minute bars for three symbols over two days.
rows = []
for s, base in (("BTC", 40000.0), ("ETH", 2500.0), ("SOL", 100.0)):
    for i in range(2 * 24 * 60 // 30):
        close = round(base * (1 + 0.02 * math.sin(i / 7.0) + 0.001 * i), 4)
        rows.append((s, 1704067200 + i * 1800, close, 10.0 + (i % 5)))  # from 2024-01-01
df = spark.createDataFrame(rows, ["symbol", "ts", "close", "volume"])
df = df.withColumn("timestamp", F.col("ts").cast("timestamp"))

# --- seed 001, as written ---
window_14 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-13, 0)
window_50 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-49, 0)

# Simple Moving Average
df = df.withColumn("sma_14", F.avg("close").over(window_14))
df = df.withColumn("sma_50", F.avg("close").over(window_50))

# RSI calculation
delta = F.col("close") - F.lag("close", 1).over(
    Window.partitionBy("symbol").orderBy("timestamp")
)
gain = F.when(delta > 0, delta).otherwise(0)
loss = F.when(delta < 0, F.abs(delta)).otherwise(0)

df = df.withColumn("avg_gain", F.avg(gain).over(window_14))
df = df.withColumn("avg_loss", F.avg(loss).over(window_14))
df = df.withColumn("rsi_14",
    100 - (100 / (1 + F.col("avg_gain") / F.col("avg_loss")))
)
# --- end of seed code ---

daily = (
    df.withColumn("day", F.to_date("timestamp"))
    .groupBy("symbol", "day")
    .agg(
        F.count("*").alias("bars"),
        F.avg("close").alias("avg_close"),
        F.max("sma_14").alias("max_sma_14"),
        F.avg("rsi_14").alias("avg_rsi_14"),
        F.sum("volume").alias("volume"),
    )
    .orderBy("symbol", "day")
)
daily.write.mode("overwrite").parquet(out)
result = spark.read.parquet(out).orderBy("symbol", "day")
result.show()
print(f"wrote {result.count()} daily rows to {out}")
spark.stop()
