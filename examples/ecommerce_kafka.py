"""Seed 000 with Kafka, run against Spate: Layer 1 (ingestion of `events.raw` and
`events.enriched` from the latest offsets, failOnDataLoss false), Layer 2 (the events parsed with
the seed's schema, a watermark), Layer 3 (sliding-window sessions enriched by a broadcast join
with cached reference data), Layer 4 (append into a Delta table with `toTable`, then the seed's
table properties), and the seed's complete production pipeline (`create_production_pipeline`:
`ecommerce.events` -> hourly revenue in complete mode -> Delta), both with
`trigger(availableNow=True)`.

Run, with a Kafka broker at BOOTSTRAP (the README shows one):
  spate run examples/ecommerce_kafka.py [BOOTSTRAP] [DATA_DIR] [OUT_DIR]
The seed starts at the latest offsets, as production pipelines do: a first run records where
the topics end and reads nothing; events produced after it
(`python examples/produce_to_kafka.py BOOTSTRAP DATA_DIR new`) are what the next run reads,
from the checkpoints.

What differs from the seed, and why (as in ecommerce_streaming.py, which reads the same values
from files):
- Broker addresses, paths and checkpoint locations are the arguments.
- The watermarks and windows are on `event_time`, the timestamp derived from the epoch-ms
  `timestamp`: Spark refuses a watermark on a LongType column
  (EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE), as Spate does.
- Layer 3's `avg("processing_time")` (an average of a timestamp, which Spark also rejects) is
  an average of `revenue_usd`; Layer 2 parses with the complete pipeline's schema, so that
  Layer 3 has the revenue.
- `countDistinct` in a streaming aggregation is refused by Spark; Spate runs it (the distinct
  values are kept in each group's state), as its documented extension.
- The `analytics` schema is created first (the seed assumes it exists).
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import *  # noqa: F403 - the seed's import
from pyspark.sql.functions import countDistinct  # PySpark 4 no longer exports it through *
from pyspark.sql.types import *  # noqa: F403

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
data = sys.argv[2] if len(sys.argv) > 2 else "examples/data"
out = sys.argv[3] if len(sys.argv) > 3 else "examples/out/ecommerce_kafka"

# --- Layer 1: Data Ingestion with Kafka ---
spark = SparkSession.builder \
    .appName("ProductionPipeline") \
    .config("spark.sql.streaming.checkpointLocation", f"{out}/checkpoint/pipeline-v1") \
    .config("spark.streaming.stopGracefullyOnShutdown", "true") \
    .getOrCreate()
spark.sql("CREATE DATABASE IF NOT EXISTS analytics")

# Read from Kafka with exactly-once semantics
kafka_df = spark.readStream \
    .format("kafka") \
    .option("kafka.bootstrap.servers", bootstrap) \
    .option("subscribe", "events.raw,events.enriched") \
    .option("startingOffsets", "latest") \
    .option("failOnDataLoss", "false") \
    .load()

# --- Layer 2: Stream Processing ---
event_schema = StructType([
    StructField("event_id", StringType(), False),
    StructField("user_id", StringType(), True),
    StructField("session_id", StringType(), True),
    StructField("event_type", StringType(), True),
    StructField("product_id", StringType(), True),
    StructField("revenue", DoubleType(), True),
    StructField("timestamp", LongType(), True),
    StructField("metadata", StringType(), True),
])

# Parse JSON payload
events = kafka_df.select(
    from_json(col("value").cast("string"), event_schema).alias("event"),
    col("topic"),
    col("partition"),
    col("offset"),
    current_timestamp().alias("processing_time")
).select("event.*", "topic", "partition", "offset", "processing_time")

# Add watermark for late data handling
events_with_watermark = events \
    .withColumn("event_time", to_timestamp(from_unixtime(col("timestamp")/1000))) \
    .withColumn("revenue_usd", col("revenue") * lit(1.08)) \
    .withWatermark("event_time", "10 minutes")

# --- Layer 3: Aggregation and Enrichment ---
user_sessions = events_with_watermark \
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

enriched = user_sessions.join(
    broadcast(reference_data),
    user_sessions.event_type == reference_data.campaign_type,
    "left"
)

# --- Layer 4: Writing to Delta Lake ---
query = enriched.writeStream \
    .format("delta") \
    .outputMode("append") \
    .option("checkpointLocation", f"{out}/checkpoint/delta-write") \
    .option("mergeSchema", "true") \
    .trigger(availableNow=True) \
    .toTable("analytics.events_aggregated")
query.awaitTermination()

# Enable Delta Lake features
spark.sql("""
    ALTER TABLE analytics.events_aggregated SET TBLPROPERTIES (
        'delta.logRetentionDuration' = 'interval 30 days',
        'delta.deletedFileRetentionDuration' = 'interval 7 days',
        'delta.autoOptimize.optimizeWrite' = 'true',
        'delta.autoOptimize.autoCompact' = 'true'
    )
""")


# --- Complete Production Pipeline Example ---
def create_production_pipeline():
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

    # Ingestion
    raw_events = spark.readStream \
        .format("kafka") \
        .option("kafka.bootstrap.servers", bootstrap) \
        .option("subscribe", "ecommerce.events") \
        .option("startingOffsets", "latest") \
        .load()

    # Processing
    parsed = raw_events.select(
        from_json(col("value").cast("string"), schema).alias("e")
    ).select("e.*")

    enriched = parsed \
        .withColumn("event_time", to_timestamp(from_unixtime(col("timestamp")/1000))) \
        .withWatermark("event_time", "5 minutes") \
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

    # Output
    query = hourly_revenue.writeStream \
        .format("delta") \
        .outputMode("complete") \
        .option("checkpointLocation", f"{out}/checkpoint/hourly_revenue") \
        .trigger(availableNow=True) \
        .toTable("analytics.hourly_revenue")

    return query


if __name__ == "__main__":
    pipeline = create_production_pipeline()
    pipeline.awaitTermination()
    for table in ("analytics.events_aggregated", "analytics.hourly_revenue"):
        print(f"{table}: {spark.table(table).count()} rows")
    spark.stop()
