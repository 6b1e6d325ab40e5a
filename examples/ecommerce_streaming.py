"""Seed 000's streaming pipeline, run against Spate: Kafka values parsed with the complete
pipeline's schema, a watermark, the hourly revenue aggregation with `countDistinct` in complete
mode and Layer 3's sliding-window sessions enriched by a broadcast join with cached reference
data in append mode, both written with `toTable` into Delta tables with a checkpoint and
`trigger(availableNow=True)`.

Run: `spate run examples/ecommerce_streaming.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data).

What differs from the seed, and why:
- The seed reads the `ecommerce.events` Kafka topic; here the same values are the lines of
  `ecommerce/events/` read with the text source (its `value` column is what Kafka's `value` is
  after the cast). Kafka is its own issue.
- `withWatermark("timestamp", ...)` and `window("timestamp", ...)` are on `event_time`, the
  timestamp the complete pipeline derives from the epoch-ms `timestamp`: Spark refuses a
  watermark on a LongType column (EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE), as Spate does.
- Layer 3's `avg("processing_time")` (an average of a timestamp, which Spark also rejects) is an
  average of `revenue_usd`; Layer 2's separate schema is the complete pipeline's here.
- `countDistinct` in a streaming aggregation is refused by Spark; Spate runs it (the distinct
  values are kept in each group's state), as its documented extension.
- The `analytics` schema is created first (the seed assumes it exists); checkpoints go under
  OUT_DIR; `mergeSchema` is kept as written.
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import *  # noqa: F403 - the seed's import
from pyspark.sql.functions import countDistinct  # PySpark 4 no longer exports it through *
from pyspark.sql.types import *  # noqa: F403

data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/ecommerce_streaming"

spark = SparkSession.builder.appName("EcommerceAnalyticsPipeline").getOrCreate()
spark.sql("CREATE DATABASE IF NOT EXISTS analytics")

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

# Ingestion (the topic's values, one per line)
raw_events = spark.readStream.format("text").load(f"{data}/ecommerce/events")

# Processing
parsed = raw_events.select(
    from_json(col("value").cast("string"), schema).alias("e")
).select("e.*")

enriched = parsed \
    .withColumn("event_time", to_timestamp(from_unixtime(col("timestamp")/1000))) \
    .withWatermark("event_time", "10 minutes") \
    .withColumn("event_date", to_date(from_unixtime(col("timestamp")/1000))) \
    .withColumn("event_hour", hour(from_unixtime(col("timestamp")/1000))) \
    .withColumn("revenue_usd", col("revenue") * lit(1.08))  # Currency conversion

# Aggregation
hourly_revenue = enriched \
    .groupBy(
        window("event_time", "1 hour"),
        "event_type"
    ) \
    .agg(
        sum("revenue_usd").alias("total_revenue"),
        countDistinct("user_id").alias("unique_users"),
        avg("revenue_usd").alias("avg_order_value")
    )

# Output
query = hourly_revenue.writeStream \
    .format("delta") \
    .outputMode("complete") \
    .option("checkpointLocation", f"{out}/checkpoints/hourly_revenue") \
    .trigger(availableNow=True) \
    .toTable("analytics.hourly_revenue")
query.awaitTermination()

# Layer 3: session-based aggregation
user_sessions = enriched \
    .groupBy(
        window("event_time", "5 minutes", "2 minutes"),
        "user_id",
        "event_type"
    ) \
    .agg(
        count("*").alias("event_count"),
        avg("revenue_usd").alias("avg_latency_ms")
    ) \
    .withColumn("dimension", lit("user_behavior"))

# Enrich with reference data (broadcast join for small tables)
reference_data = spark.read.parquet(f"{data}/ecommerce/campaigns/").cache()

enriched_sessions = user_sessions.join(
    broadcast(reference_data),
    user_sessions.event_type == reference_data.campaign_type,
    "left"
)

# Layer 4: writing to Delta Lake
query = enriched_sessions.writeStream \
    .format("delta") \
    .outputMode("append") \
    .option("checkpointLocation", f"{out}/checkpoints/delta-write") \
    .option("mergeSchema", "true") \
    .trigger(availableNow=True) \
    .toTable("analytics.events_aggregated")
query.awaitTermination()

print(f"hourly revenue rows: {spark.table('analytics.hourly_revenue').count()}")
print(f"session rows: {spark.table('analytics.events_aggregated').count()}")
spark.stop()
