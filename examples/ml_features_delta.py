"""Seed 002's Delta Lake functions run against Spate: write_features_to_delta (a day's features
replacing that day's partition with replaceWhere) and create_training_dataset_with_lineage (time
travel to the training end, the point-in-time join, a Delta write and the table's version for
lineage from delta-spark's DeltaTable), on the examples' ML events.

Run: `spate run examples/ml_features_delta.py [DATA_DIR] [OUT_DIR]` after
`python examples/generate_data.py` (DATA_DIR defaults to examples/data). delta-spark's Python
package must be installed beside pyspark-client (`pip install --no-deps delta-spark==4.4.1`,
as setup.sh does).

What differs from the seed, and why:
- Paths are local, and the events the function reads from Delta are first copied there from
  the examples' Parquet events.
- The training end is the time of the run, not a 2024 date: the function reads the features as
  of that time (timestampAsOf), and every feature snapshot here was committed today, so a 2024
  time is before the table existed (Delta refuses it: DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION).
- As written, create_training_dataset_with_lineage fails on Spark with delta-spark too: its last
  join keeps `event_timestamp` from both sides and Delta refuses duplicate columns. It is run as
  written and its error printed, then run with that one line changed (pit_features without its
  event_timestamp, as examples/ml_features.py joins it).
"""

import sys
import time
from datetime import datetime, timezone

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

data = sys.argv[1] if len(sys.argv) > 1 else "examples/data"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/out/ml_delta"

spark = SparkSession.builder.appName("MLFeatureEngineering").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")


# --- seed 002, as written ---
def write_features_to_delta(df, delta_path: str, feature_date: str):
    """
    Write features to Delta Lake with full ACID guarantees.
    Supports time travel for reproducible training data.
    """
    # Write with Delta format - adds transaction log
    df.withColumn("feature_date", F.lit(feature_date)) \
        .write \
        .format("delta") \
        .mode("overwrite") \
        .option("replaceWhere", f"feature_date = '{feature_date}'") \
        .save(delta_path)

    print(f"Features written to {delta_path} for date {feature_date}")


def create_training_dataset_with_lineage(
    events_path: str,
    features_path: str,
    training_start: str,
    training_end: str,
    output_path: str
) -> str:
    """
    Create a training dataset with point-in-time correct features.
    Returns the Delta table version for reproducibility tracking.
    """
    # Read raw events
    events = spark.read.format("delta").load(events_path) \
        .filter(f"event_date BETWEEN '{training_start}' AND '{training_end}'")

    # Read features - using Delta time travel to get historical snapshots
    features = spark.read.format("delta") \
        .option("timestampAsOf", training_end) \
        .load(features_path)

    # Point-in-time join (as described in Module 1)
    window = Window.partitionBy("user_id").orderBy(F.desc("feature_date"))
    pit_features = features \
        .join(events.select("user_id", "event_timestamp").distinct(), on="user_id") \
        .filter(F.col("feature_date") <= F.col("event_timestamp").cast("date")) \
        .withColumn("rank", F.row_number().over(window)) \
        .filter("rank = 1") \
        .drop("rank")

    # Write training dataset
    training_data = events.join(pit_features, on="user_id", how="left")
    training_data.write \
        .format("delta") \
        .mode("overwrite") \
        .save(output_path)

    # Return Delta version for tracking in MLflow
    delta_table = DeltaTable.forPath(spark, output_path)
    version = delta_table.history(1).select("version").collect()[0][0]
    return f"delta_version_{version}"
# --- end of seed code ---


def create_training_dataset_with_lineage_fixed(
    events_path: str,
    features_path: str,
    training_start: str,
    training_end: str,
    output_path: str
) -> str:
    """The seed's function with its last join fixed (one line, marked)."""
    events = spark.read.format("delta").load(events_path) \
        .filter(f"event_date BETWEEN '{training_start}' AND '{training_end}'")
    features = spark.read.format("delta") \
        .option("timestampAsOf", training_end) \
        .load(features_path)
    window = Window.partitionBy("user_id").orderBy(F.desc("feature_date"))
    pit_features = features \
        .join(events.select("user_id", "event_timestamp").distinct(), on="user_id") \
        .filter(F.col("feature_date") <= F.col("event_timestamp").cast("date")) \
        .withColumn("rank", F.row_number().over(window)) \
        .filter("rank = 1") \
        .drop("rank")
    training_data = events.join(pit_features.drop("event_timestamp"), on="user_id", how="left")  # fixed
    training_data.write \
        .format("delta") \
        .mode("overwrite") \
        .save(output_path)
    delta_table = DeltaTable.forPath(spark, output_path)
    version = delta_table.history(1).select("version").collect()[0][0]
    return f"delta_version_{version}"


events_path, features_path = f"{out}/events", f"{out}/features"
spark.read.parquet(f"{data}/ml/events/").drop("year", "month") \
    .write.format("delta").mode("overwrite").save(events_path)
events = spark.read.format("delta").load(events_path)


def daily_features(day: str):
    """One day's features per user: its events and purchases."""
    return events.filter(F.col("event_date") == F.lit(day).cast("date")) \
        .groupBy("user_id") \
        .agg(F.count("*").alias("events_that_day"),
             F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("purchases_that_day"))


# the daily feature job, run for ten days, then one day again (its partition is replaced)
days = [f"2024-11-{d:02d}" for d in range(1, 11)]
for day in days:
    write_features_to_delta(daily_features(day), features_path, day)
write_features_to_delta(daily_features("2024-11-05"), features_path, "2024-11-05")

time.sleep(1.1)  # the training end is cut to the second: after every commit above
training_end = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
time.sleep(1.1)
try:
    create_training_dataset_with_lineage(events_path, features_path, "2024-11-05", training_end, f"{out}/training_as_written")
    print("as written: succeeded")
except AnalysisException as e:
    print(f"as written: failed as on Spark: {e}")

version = create_training_dataset_with_lineage_fixed(events_path, features_path, "2024-11-05", training_end, f"{out}/training")
print(f"training dataset: {version}")

# the next day's features arrive; the same training end still sees the features it saw
write_features_to_delta(daily_features("2024-11-11"), features_path, "2024-11-11")
again = create_training_dataset_with_lineage_fixed(events_path, features_path, "2024-11-05", training_end, f"{out}/training_again")
first = sorted(map(str, spark.read.format("delta").load(f"{out}/training").collect()))
second = sorted(map(str, spark.read.format("delta").load(f"{out}/training_again").collect()))
print(f"reproduced: {again}, {len(second)} rows, identical: {first == second}")
spark.stop()
