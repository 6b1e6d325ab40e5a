"""Seed 002's batch feature pipeline, run against Spate: events read with an explicit schema and
partition pruning, 30-day range-window user features and the latest snapshot per user, the
single-pass conditional aggregation, cached feature sets, a broadcast join with item metadata,
validate_feature_output, sized zstd output files, and the point-in-time join.

Run: `spate run examples/ml_features.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data).

What differs from the seed, and why:
- Paths are local. The seed writes and time-travels features in Delta Lake
  (write_features_to_delta, timestampAsOf, DeltaTable.history), which ml_features_delta.py runs; here
  the daily feature snapshots are Parquet partitioned by feature_date, and the point-in-time
  join (the seed's code, unchanged) reads them.
- analyze_partitions counts rows per partition with `df.rdd.mapPartitions`, which Spark Connect
  has no RDDs for; the same statistics come from `spark_partition_id()`.
- write_training_data's 500 bytes per row and 256 MB target are scaled to the example's size
  (target 0.2 MB) so that it writes several files.
"""

import statistics
import sys

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType
from pyspark.sql.window import Window

data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/ml"

# --- seed 002, as written (paths changed) ---
spark = SparkSession.builder \
    .appName("MLFeatureEngineering") \
    .config("spark.sql.adaptive.enabled", "true") \
    .config("spark.sql.adaptive.coalescePartitions.enabled", "true") \
    .config("spark.sql.adaptive.skewJoin.enabled", "true") \
    .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer") \
    .config("spark.sql.shuffle.partitions", "400") \
    .getOrCreate()

# Define schema explicitly - never infer from JSON (slow and error-prone)
events_schema = StructType([
    StructField("user_id", StringType(), nullable=False),
    StructField("item_id", StringType(), nullable=True),
    StructField("event_type", StringType(), nullable=False),
    StructField("event_timestamp", TimestampType(), nullable=False),
    StructField("session_id", StringType(), nullable=True),
    StructField("amount", DoubleType(), nullable=True),
    StructField("device_type", StringType(), nullable=True),
])

# Read with explicit schema and partition pruning
events = spark.read \
    .schema(events_schema) \
    .parquet(f"{data}/ml/events/") \
    .filter("year = 2024 AND month = 11")  # partition pruning

print(f"Loaded {events.count():,} events")

# Feature engineering with window functions
user_window_30d = Window \
    .partitionBy("user_id") \
    .orderBy(F.col("event_timestamp").cast("long")) \
    .rangeBetween(
        -30 * 24 * 3600,  # 30 days in seconds
        Window.currentRow
    )

user_features = events \
    .withColumn("tx_count_30d",
        F.count("*").over(user_window_30d)
    ) \
    .withColumn("avg_amount_30d",
        F.avg("amount").over(user_window_30d)
    ) \
    .withColumn("sessions_30d",
        F.approx_count_distinct("session_id").over(user_window_30d)
    ) \
    .withColumn("hour_of_day", F.hour("event_timestamp")) \
    .withColumn("day_of_week", F.dayofweek("event_timestamp")) \
    .withColumn("is_weekend",
        F.when(F.dayofweek("event_timestamp").isin(1, 7), 1).otherwise(0)
    )

# Get the latest feature snapshot per user (one row per user)
user_window_latest = Window.partitionBy("user_id").orderBy(F.desc("event_timestamp"))
latest_features = user_features \
    .withColumn("row_num", F.row_number().over(user_window_latest)) \
    .filter("row_num = 1") \
    .drop("row_num")
# --- end of seed code ---
latest_features.write.mode("overwrite").parquet(f"{out}/latest_features")


# --- seed 002, analyze_partitions (RDD counting replaced by spark_partition_id) ---
def analyze_partitions(df, sample_fraction: float = 0.1):
    """Analyze partition size distribution to detect skew and inefficiency."""
    partition_counts = [r["count"] for r in df.groupBy(F.spark_partition_id()).count().collect()]

    avg_count = statistics.mean(partition_counts)
    max_count = max(partition_counts)
    print(f"Number of partitions: {len(partition_counts)}")
    print(f"Average rows per partition: {avg_count:,.0f}")
    print(f"Max rows per partition: {max_count:,.0f}")
    print(f"Skew ratio (max/avg): {max_count/avg_count:.1f}x")
    if max_count / avg_count > 5:
        print("WARNING: Significant data skew detected!")
    return partition_counts


analyze_partitions(events.repartition(4))

# --- seed 002, "PREFER: single pass with conditional aggregation" ---
combined_efficient = events.groupBy("user_id").agg(
    F.count("*").alias("event_count"),
    F.sum(F.when(F.col("event_type") == "purchase", F.col("amount"))).alias("total_spend"),
    F.count(F.when(F.col("event_type") == "purchase", 1)).alias("purchase_count")
)
combined_efficient.write.mode("overwrite").parquet(f"{out}/combined")

# --- seed 002, caching ---
filtered_events = events \
    .filter("event_timestamp >= '2024-10-01'") \
    .filter("event_type IN ('click', 'purchase', 'view')")

filtered_events.persist(StorageLevel.MEMORY_AND_DISK)
filtered_events.count()  # Trigger computation and cache

cached_user_features = filtered_events.groupBy("user_id").agg(
    F.count("*").alias("total_events"),
    F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("purchase_count"),
    F.countDistinct("session_id").alias("session_count")
)

item_features = filtered_events.groupBy("item_id").agg(
    F.count("*").alias("view_count"),
    F.countDistinct("user_id").alias("unique_users"),
    F.avg("amount").alias("avg_purchase_price")
)
cached_user_features.write.mode("overwrite").parquet(f"{out}/user_features")
item_features.write.mode("overwrite").parquet(f"{out}/item_features")
filtered_events.unpersist()

# --- seed 002, broadcast join ---
item_metadata = spark.read.parquet(f"{data}/ml/items")
fast_way = events.join(F.broadcast(item_metadata), on="item_id", how="left")
fast_way.groupBy("category").count().write.mode("overwrite").parquet(f"{out}/events_by_category")


# --- seed 002, validate_feature_output, as written ---
def validate_feature_output(df: DataFrame, expected_entity_count: int,
                            required_columns: list[str],
                            null_threshold: float = 0.01) -> bool:
    """
    Validate Spark output before writing to the feature store.
    Returns True if validation passes, raises ValueError if it fails.
    """
    # Check required columns exist
    missing_cols = [c for c in required_columns if c not in df.columns]
    if missing_cols:
        raise ValueError(f"Missing required columns: {missing_cols}")

    actual_count = df.count()
    # Allow 10% variance from expected entity count (some users may have no activity)
    if actual_count < expected_entity_count * 0.9:
        raise ValueError(
            f"Output has {actual_count:,} rows, expected ~{expected_entity_count:,}. "
            f"Possible data pipeline failure upstream."
        )

    # Check null rates on critical feature columns
    from pyspark.sql import functions as F
    null_counts = df.select([
        (F.sum(F.col(c).isNull().cast("int")) / F.count("*")).alias(c)
        for c in required_columns
    ]).collect()[0].asDict()

    high_null_columns = {col: rate for col, rate in null_counts.items()
                         if rate > null_threshold}
    if high_null_columns:
        raise ValueError(
            f"High null rates in critical columns: {high_null_columns}. "
            f"Check upstream data quality."
        )

    print(f"Validation passed: {actual_count:,} rows, all columns present, null rates acceptable")
    return True


feature_df = spark.read.parquet(f"{out}/latest_features")
validate_feature_output(
    df=feature_df,
    expected_entity_count=200,
    required_columns=["user_id", "tx_count_30d", "sessions_30d", "hour_of_day"],
    null_threshold=0.02,
)


# --- seed 002, write_training_data (sizes scaled to the example) ---
def write_training_data(df, output_path: str, target_file_size_mb: float = 256):
    """Write training data with optimal file sizes for downstream ML reads."""
    row_count = df.count()
    bytes_per_row = 500
    total_mb = row_count * bytes_per_row / (1024 * 1024)
    n_partitions = max(1, int(total_mb / target_file_size_mb))

    print(f"Estimated size: {total_mb:.0f} MB, writing with {n_partitions} partitions")

    df.repartition(n_partitions) \
        .write \
        .mode("overwrite") \
        .option("compression", "zstd") \
        .parquet(output_path)


write_training_data(user_features, f"{out}/training", target_file_size_mb=0.2)

# --- the point-in-time join of create_training_dataset_with_lineage (features as Parquet) ---
all_events = spark.read.parquet(f"{data}/ml/events/")
daily = all_events.groupBy("user_id", F.col("event_date").alias("feature_date")).agg(
    F.count("*").alias("events_that_day"),
    F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("purchases_that_day"),
)
daily.write.mode("overwrite").partitionBy("feature_date").parquet(f"{out}/daily_features")

training_start, training_end = "2024-11-10", "2024-11-20"
events = all_events.filter(f"event_date BETWEEN '{training_start}' AND '{training_end}'")
features = spark.read.parquet(f"{out}/daily_features")

# Point-in-time join (as described in Module 1)
window = Window.partitionBy("user_id").orderBy(F.desc("feature_date"))
pit_features = features \
    .join(events.select("user_id", "event_timestamp").distinct(), on="user_id") \
    .filter(F.col("feature_date") <= F.col("event_timestamp").cast("date")) \
    .withColumn("rank", F.row_number().over(window)) \
    .filter("rank = 1") \
    .drop("rank")
# --- end of seed code ---
pit_features.write.mode("overwrite").parquet(f"{out}/pit_features")
training_data = events.join(pit_features.drop("event_timestamp"), on="user_id", how="left")
print(f"training rows: {training_data.count()}")
spark.stop()
