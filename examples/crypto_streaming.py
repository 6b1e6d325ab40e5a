"""Seed 001's real-time component, run against Spate: the price stream parsed exactly as the
seed parses its Kafka topic, then rolled up into 5-minute bars per symbol by a windowed
streaming aggregation with a watermark, written to Delta with a checkpoint.

Run: `spate run examples/crypto_streaming.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data).

What differs from the seed, and why:
- The seed reads the `crypto-prices` Kafka topic; here the same messages are the lines of files
  in `crypto/stream/` (the text source's `value` column is what Kafka's `value` is after the
  cast), taken one file per micro-batch with `trigger(availableNow=True)`, so the example ends.
- The seed says the stream "applies the same feature engineering transformations as the batch
  pipeline" without showing them; its row-based window functions (SMA, RSI) are refused on a
  stream by Spark, so the streaming stage here is the time-window roll-up the seed's batch
  pipeline also computes (OHLC-style 5-minute bars), in append mode: a bar is written once,
  when the watermark (10 minutes behind the newest price) has passed its end.
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

spark = SparkSession.builder.getOrCreate()
data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/crypto_streaming"

schema = StructType([
    StructField("symbol", StringType()),
    StructField("timestamp", TimestampType()),
    StructField("open", DoubleType()),
    StructField("high", DoubleType()),
    StructField("low", DoubleType()),
    StructField("close", DoubleType()),
    StructField("volume", DoubleType()),
])

# --- seed 001, "Kafka Streaming Integration" (the topic's messages read from files) ---
stream_df = (
    spark.readStream
    .format("text")
    .option("maxFilesPerTrigger", 1)
    .load(f"{data}/crypto/stream")
    .select(F.from_json(F.col("value").cast("string"), schema).alias("data"))
    .select("data.*")
)
# --- end of seed code ---

bars_5m = (
    stream_df.withWatermark("timestamp", "10 minutes")
    .groupBy(F.window("timestamp", "5 minutes"), "symbol")
    .agg(
        F.max("high").alias("high"),
        F.min("low").alias("low"),
        F.avg("close").alias("avg_close"),
        F.sum("volume").alias("volume"),
        F.count("*").alias("bars"),
    )
)
query = (
    bars_5m.writeStream.format("delta")
    .outputMode("append")
    .option("checkpointLocation", f"{out}/checkpoints/bars_5m")
    .trigger(availableNow=True)
    .start(f"{out}/bars_5m")
)
query.awaitTermination()
progress = query.recentProgress
print(f"micro-batches: {len(progress)}, last watermark: {progress[-1].eventTime.get('watermark')}")
print(f"5-minute bars: {spark.read.format('delta').load(f'{out}/bars_5m').count()}")
spark.stop()
