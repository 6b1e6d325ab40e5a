"""Seed 001's feature engineering and aggregation stages, run against Spate: SMA and RSI per symbol
with window functions exactly as the seed writes them, then the other indicators the seed names
(EMA, MACD, Bollinger Bands) and its roll-ups to several time granularities (1 min, 5 min, 1 hour,
daily), all written as Parquet.

Run: `spate run examples/crypto_indicators.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data).

The seed shows code for SMA and RSI only; EMA, MACD and Bollinger Bands are written here in the
same style. EMA is recursive, which window functions cannot express directly, so it is the
usual truncated form: the last `4 * span` closes folded with `aggregate()` (alpha = 2 / (span + 1),
seeded with the oldest close in the frame).
"""

import sys

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

# Seed 001 was written for Spark 3, where `x / 0` is NULL: its RSI divides by a zero average
# loss on each symbol's first bar. Spark 4 turns ANSI mode on and fails there with
# DIVIDE_BY_ZERO, as Spate does; this is the documented switch back to Spark 3 semantics.
spark = SparkSession.builder.config("spark.sql.ansi.enabled", "false").getOrCreate()
data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/crypto"

df = spark.read.parquet(f"{data}/crypto/bars")

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


def ema(column: str, span: int):
    """Truncated exponential moving average of `column` over the last 4 * span rows."""
    alpha = 2.0 / (span + 1)
    frame = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-(4 * span - 1), 0)
    return F.aggregate(
        F.collect_list(column).over(frame),
        F.lit(None).cast("double"),
        lambda acc, x: F.when(acc.isNull(), x).otherwise(alpha * x + (1 - alpha) * acc),
    )


window_20 = Window.partitionBy("symbol").orderBy("timestamp").rowsBetween(-19, 0)
df = (
    df.withColumn("ema_12", ema("close", 12))
    .withColumn("ema_26", ema("close", 26))
    .withColumn("macd", F.col("ema_12") - F.col("ema_26"))
    .withColumn("macd_signal", ema("macd", 9))
    .withColumn("macd_hist", F.col("macd") - F.col("macd_signal"))
    .withColumn("bb_mid", F.avg("close").over(window_20))
    .withColumn("bb_std", F.stddev("close").over(window_20))
    .withColumn("bb_upper", F.col("bb_mid") + 2 * F.col("bb_std"))
    .withColumn("bb_lower", F.col("bb_mid") - 2 * F.col("bb_std"))
)
# Cache strategically: the enriched bars feed every roll-up below (seed 001's lesson).
df.cache()
df.write.mode("overwrite").parquet(f"{out}/indicators")

# Roll up to multiple time granularities: OHLC bars, volume and the average RSI per window.
for label, duration in [("1min", "1 minute"), ("5min", "5 minutes"), ("1h", "1 hour"), ("daily", "1 day")]:
    rollup = (
        df.groupBy("symbol", F.window("timestamp", duration))
        .agg(
            F.min_by("open", "timestamp").alias("open"),
            F.max("high").alias("high"),
            F.min("low").alias("low"),
            F.max_by("close", "timestamp").alias("close"),
            F.sum("volume").alias("volume"),
            F.avg("rsi_14").alias("avg_rsi_14"),
            F.count("*").alias("bars"),
        )
        .select("symbol", F.col("window.start").alias("start"), "open", "high", "low", "close", "volume", "avg_rsi_14", "bars")
    )
    rollup.write.mode("overwrite").parquet(f"{out}/rollup_{label}")

daily = spark.read.parquet(f"{out}/rollup_daily").orderBy("symbol", "start")
daily.show()
df.unpersist()
print(f"wrote {spark.read.parquet(f'{out}/indicators').count()} indicator rows to {out}")
spark.stop()
