"""The seed workloads of the benchmark: the seeds' own DataFrame code over bench/seed_data.py's
tables, each ending, as the seeds' jobs do, in a Parquet write of its result.

Every workload is a function (spark, data_dir) -> DataFrame, plus the session settings it needs
and the columns whose values are approximate by definition (approx_count_distinct), which are
compared with a looser tolerance. The code between the `seed` markers is the seeds' code as
written; only the inputs' paths differ.
"""

from dataclasses import dataclass, field

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.functions import broadcast
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

# seed 002
events_schema = StructType([
    StructField("user_id", StringType(), nullable=False),
    StructField("item_id", StringType(), nullable=True),
    StructField("event_type", StringType(), nullable=False),
    StructField("event_timestamp", TimestampType(), nullable=False),
    StructField("session_id", StringType(), nullable=True),
    StructField("amount", DoubleType(), nullable=True),
    StructField("device_type", StringType(), nullable=True),
])


def read_events(spark, data):
    return spark.read.schema(events_schema).parquet(str(data / "events"))


def features_30d(spark, data):
    """Seed 002: 30-day range-window features per user, then the latest snapshot per user."""
    events = read_events(spark, data)
    # seed 002
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

    user_window_latest = Window.partitionBy("user_id").orderBy(F.desc("event_timestamp"))
    latest_features = user_features \
        .withColumn("row_num", F.row_number().over(user_window_latest)) \
        .filter("row_num = 1") \
        .drop("row_num")
    # end seed
    return latest_features


def conditional_aggregation(spark, data):
    """Seed 002's pattern 1: one pass of conditional aggregation per user."""
    events = read_events(spark, data)
    # seed 002
    combined_efficient = events.groupBy("user_id").agg(
        F.count("*").alias("event_count"),
        F.sum(F.when(F.col("event_type") == "purchase", F.col("amount"))).alias("total_spend"),
        F.count(F.when(F.col("event_type") == "purchase", 1)).alias("purchase_count")
    )
    # end seed
    return combined_efficient


def indicators(spark, data):
    """Seed 001: SMA 14/50 and RSI 14 per symbol over minute bars."""
    df = spark.read.parquet(str(data / "bars"))
    # seed 001
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
    # end seed
    return df


def broadcast_join(spark, data):
    """Seed 002's broadcast join of events with item metadata, then revenue per category."""
    events = read_events(spark, data)
    item_metadata = spark.read.parquet(str(data / "items"))
    # seed 002
    fast_way = events.join(broadcast(item_metadata), on="item_id", how="left")
    # end seed
    return per_category(fast_way)


def hot_key_join(spark, data):
    """The same join as a shuffle join (no broadcast): 30% of the events carry one item id."""
    events = read_events(spark, data)
    item_metadata = spark.read.parquet(str(data / "items"))
    # seed 002
    wrong_way = events.join(item_metadata, on="item_id", how="left")
    # end seed
    return per_category(wrong_way)


def hot_key_aggregation(spark, data):
    """Distinct users and events per item: the viral item's group is 30% of the rows."""
    events = read_events(spark, data)
    return events.groupBy("item_id").agg(
        F.count("*").alias("events"), F.countDistinct("user_id").alias("users"), F.max("amount").alias("max_amount")
    )


def cached_features(spark, data, cache=True):
    """Seed 002's caching pattern: per-user features computed once, kept with cache(), then used
    by several actions (a count, the mean spend, the busiest user) before the write. Each run
    starts from an empty cache, so it computes the features once and reads them back four times;
    without cache() every action recomputes them."""
    spark.catalog.clearCache()
    events = read_events(spark, data)
    per_user = events.groupBy("user_id").agg(
        F.count("*").alias("events"), F.sum("amount").alias("spend"), F.countDistinct("item_id").alias("items")
    )
    if cache:
        per_user = per_user.cache()
    users = per_user.count()
    mean_spend = per_user.agg(F.avg("spend")).first()[0]
    busiest = per_user.agg(F.max("events")).first()[0]
    return (
        per_user.where(F.col("spend") > mean_spend)
        .withColumn("share", F.col("events") / F.lit(busiest))
        .withColumn("users", F.lit(users))
    )


def uncached_features(spark, data):
    """cached_features without cache(): the baseline that shows the reuse."""
    return cached_features(spark, data, cache=False)


def per_category(joined):
    return joined.groupBy("category", "event_type").agg(
        F.count("*").alias("events"), F.sum("amount").alias("revenue"), F.avg("price").alias("avg_price")
    )


@dataclass
class Workload:
    name: str
    build: object
    conf: dict = field(default_factory=dict)
    approximate: tuple = ()


WINDOWS_OFF = {"spark.spate.window.sliding": "false", "spark.sql.optimizer.windowGroupLimitThreshold": "-1"}

WORKLOADS = [
    Workload("features_30d", features_30d, approximate=("sessions_30d",)),
    # The same with Spate's one-pass window operator and top rows per key off
    # (spate_plan::sliding_window, spate_plan::window_top_rows): the before/after of both.
    # Spark ignores the first setting; the second turns its own WindowGroupLimit off too.
    Workload("features_30d_unfused", features_30d, conf=WINDOWS_OFF, approximate=("sessions_30d",)),
    Workload("conditional_agg", conditional_aggregation),
    # Seed 001 was written for Spark 3, where x / 0 is NULL (each symbol's first RSI).
    Workload("indicators", indicators, conf={"spark.sql.ansi.enabled": "false"}),
    Workload("indicators_unfused", indicators, conf={"spark.sql.ansi.enabled": "false"} | WINDOWS_OFF),
    Workload("broadcast_join", broadcast_join),
    Workload("hot_key_join", hot_key_join, conf={"spark.sql.autoBroadcastJoinThreshold": "-1"}),
    # The same with the adaptive skew join off, in Spate (spate_plan::skew_join) and in Spark.
    Workload(
        "hot_key_join_unsplit",
        hot_key_join,
        conf={"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.adaptive.skewJoin.enabled": "false"},
    ),
    Workload("hot_key_agg", hot_key_aggregation),
    # The same with Spate's two-level distinct aggregation off (spate_plan::distinct_aggregates):
    # the before/after of the hot-key fix. Spark and Sail ignore the setting.
    Workload("hot_key_agg_unsplit", hot_key_aggregation, conf={"spark.spate.aggregate.splitDistinct": "false"}),
    Workload("cache_reuse", cached_features),
    Workload("no_cache", uncached_features),
]
