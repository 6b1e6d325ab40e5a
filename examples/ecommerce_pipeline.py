"""Seed 000's batch parts, run against Spate: JSON events parsed with an explicit schema, an hourly
revenue aggregation over tumbling windows, sliding-window user sessions enriched by a broadcast
join with cached reference data, deduplication, and a Hive-partitioned write.

Run: `spate run examples/ecommerce_pipeline.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data).

What differs from the seed, and why:
- The seed reads Kafka with `readStream` and writes Delta with `writeStream`; here the same
  topic values are lines of a file read as a batch (`spark.read.text`, whose `value` column is
  what the Kafka source's `value` is after the cast), and results are written as Parquet.
  Streaming and Delta are their own issues.
- `countDistinct` is imported by name: PySpark 4's `functions.__all__` leaves it out of `*`.
- `withWatermark` is left out: a batch query sees all its data at once (Spark ignores it there).
- Layer 3's `window("timestamp", ...)` is over `event_time` (the timestamp the complete pipeline
  derives), because the schema's `timestamp` is a LongType, on which Spark's window() fails; its
  `avg("processing_time")` (an average of a timestamp, which Spark also rejects) is an average of
  `revenue_usd`.
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import *  # noqa: F403 - the seed's import
from pyspark.sql.functions import countDistinct  # PySpark 4 no longer exports it through *
from pyspark.sql.types import *  # noqa: F403

data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/ecommerce"

# --- seed 000, "Complete Production Pipeline Example" ---
spark = SparkSession.builder \
    .appName("EcommerceAnalyticsPipeline") \
    .config("spark.sql.adaptive.enabled", "true") \
    .config("spark.sql.adaptive.coalescePartitions.enabled", "true") \
    .config("spark.sql.shuffle.partitions", "400") \
    .getOrCreate()

# Schema definition
schema = StructType([
    StructField("event_id", StringType(), False),
    StructField("user_id", StringType(), True),
    StructField("session_id", StringType(), True),
    StructField("event_type", StringType(), True),
    StructField("product_id", StringType(), True),
    StructField("revenue", DoubleType(), True),
    StructField("timestamp", LongType(), True),
    StructField("metadata", StringType(), True),
])

# Ingestion (batch: the topic's values, one per line)
raw_events = spark.read.text(f"{data}/ecommerce/events")

# Processing
parsed = raw_events.select(
    from_json(col("value").cast("string"), schema).alias("e")
).select("e.*")

enriched = parsed \
    .withColumn("event_date", to_date(from_unixtime(col("timestamp")/1000))) \
    .withColumn("event_hour", hour(from_unixtime(col("timestamp")/1000))) \
    .withColumn("revenue_usd", col("revenue") * lit(1.08))  # Currency conversion

# Aggregation
hourly_revenue = enriched \
    .groupBy(
        window(to_timestamp(from_unixtime(col("timestamp")/1000)), "1 hour"),
        "event_type"
    ) \
    .agg(
        sum("revenue_usd").alias("total_revenue"),
        countDistinct("user_id").alias("unique_users"),
        avg("revenue_usd").alias("avg_order_value")
    )
# --- end of the complete pipeline ---
hourly_revenue.write.mode("overwrite").parquet(f"{out}/hourly_revenue")

# --- seed 000, Layer 3: session-based aggregation and broadcast enrichment ---
events_with_time = enriched.withColumn("event_time", to_timestamp(from_unixtime(col("timestamp")/1000)))
user_sessions = events_with_time \
    .groupBy(
        window("event_time", "5 minutes", "2 minutes"),
        "user_id",
        "event_type"
    ) \
    .agg(
        count("*").alias("event_count"),
        avg("revenue_usd").alias("avg_revenue")
    ) \
    .withColumn("dimension", lit("user_behavior"))

# Enrich with reference data (broadcast join for small tables)
reference_data = spark.read.parquet(f"{data}/ecommerce/campaigns/").cache()

enriched_sessions = user_sessions.join(
    broadcast(reference_data),
    user_sessions.event_type == reference_data.campaign_type,
    "left"
)
# --- end of Layer 3 ---
enriched_sessions.write.mode("overwrite").parquet(f"{out}/user_sessions")

# --- seed 000, "Manual deduplication" and "GOOD: Partition by date + category" ---
deduplicated = events_with_time.dropDuplicates(["event_id", "timestamp"])
df = deduplicated.join(
    broadcast(reference_data.select(col("campaign_type").alias("event_type"), "category")),
    "event_type",
    "left",
)
df.write.mode("overwrite").partitionBy("event_date", "category").parquet(f"{out}/events")
# --- end of seed code ---

print(f"hourly revenue rows: {spark.read.parquet(f'{out}/hourly_revenue').count()}")
print(f"user session rows: {spark.read.parquet(f'{out}/user_sessions').count()}")
print(f"deduplicated events: {spark.read.parquet(f'{out}/events').count()}")
spark.stop()
