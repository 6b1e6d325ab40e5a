"""Seed 001's Kafka stream, run against Spate: the `crypto-prices` topic read exactly as the
seed reads it (from the latest offsets) and parsed with its schema, then rolled up into 5-minute
bars per symbol by a windowed streaming aggregation with a watermark, written to Delta with a
checkpoint and `trigger(availableNow=True)`.

Run, with a Kafka broker at BOOTSTRAP (the README shows one):
  spate run examples/crypto_kafka.py [BOOTSTRAP] [OUT_DIR]
The seed starts at the latest offsets: a first run records where the topic ends and reads
nothing; prices produced after it (`python examples/produce_to_kafka.py BOOTSTRAP DATA_DIR new`)
are what the next run reads, from the checkpoint.

What differs from the seed, and why:
- The broker address and paths are the arguments.
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
bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/crypto_kafka"

schema = StructType([
    StructField("symbol", StringType()),
    StructField("timestamp", TimestampType()),
    StructField("open", DoubleType()),
    StructField("high", DoubleType()),
    StructField("low", DoubleType()),
    StructField("close", DoubleType()),
    StructField("volume", DoubleType()),
])

# --- seed 001, "Kafka Streaming Integration" ---
stream_df = (
    spark.readStream
    .format("kafka")
    .option("kafka.bootstrap.servers", bootstrap)
    .option("subscribe", "crypto-prices")
    .option("startingOffsets", "latest")
    .load()
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
print(f"micro-batches: {len(progress)}")
if progress:  # a run that found no new prices wrote nothing
    print(f"last watermark: {progress[-1].eventTime.get('watermark')}")
    print(f"5-minute bars: {spark.read.format('delta').load(f'{out}/bars_5m').count()}")
spark.stop()
