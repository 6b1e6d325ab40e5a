"""Streaming queries over two streams (a union with a watermark on each side, stream-stream
joins), shared by the test that runs them on Spate (test_streaming_two_sources.py) and the
script that runs them on Apache Spark for the expected outputs
(spark_reference/streaming_two_sources.py). Each stream reads JSON files, one per
micro-batch (maxFilesPerTrigger=1 on both), so batch i holds file i of each stream on both
engines."""

from pyspark.sql import functions as F

import stateful_cases

# The left stream is stateful_cases.FILES (watermark delay 5 s: 12:00:07, :26, :35, 12:01:05
# after its files 0-3). The right stream, watermark delay 10 s: 11:59:59, 12:00:10, :23, :40.
RIGHT_FILES = [
    [("12:00:02", "a", 100), ("12:00:09", "c", 101)],
    [("12:00:20", "b", 102), ("12:00:04", "a", 103)],
    [("12:00:33", "a", 104), ("12:00:15", "c", 105)],
    [("12:00:50", "b", 106), ("12:00:41", "a", 107), ("12:00:05", "c", 108), ("12:00:11", "d", 109)],
]
# In batch 3 (watermark 12:00:23, the previous one 12:00:10) 12:00:05 is late; 12:00:11 is not
# late but older than what the right side keeps for a join (12:00:13 - 1 ms): not stored.


def rows_of(side, i):
    if side == "left":
        return stateful_cases.rows_of(i)
    return [{"ts": f"{stateful_cases.DAY} {t}", "k": k, "v": v} for t, k, v in RIGHT_FILES[i]]


def left(spark, path):
    return stateful_cases.source(spark, path).withWatermark("ts", "5 seconds")


def right(spark, path):
    return stateful_cases.source(spark, path).withWatermark("ts", "10 seconds")


def renamed_right(spark, path):
    df = stateful_cases.source(spark, path).select(
        F.col("ts").alias("rts"), F.col("k").alias("rk"), F.col("v").alias("rv")
    )
    return df.withWatermark("rts", "10 seconds")


def union_count(spark, lpath, rpath):
    both = left(spark, lpath).union(right(spark, rpath))
    return both.groupBy(F.window("ts", "10 seconds")).agg(F.count("*").alias("n"), F.sum("v").alias("total"))


# a right row matches a left row with the same key from 10 s before to 5 s after it
RANGE = "k = rk AND rts >= ts - interval 10 seconds AND rts <= ts + interval 5 seconds"


def range_join(how):
    def query(spark, lpath, rpath):
        return left(spark, lpath).join(renamed_right(spark, rpath), F.expr(RANGE), how)

    return query


def key_join(spark, lpath, rpath):
    plain_right = stateful_cases.source(spark, rpath).select(
        F.col("ts").alias("rts"), F.col("k").alias("rk"), F.col("v").alias("rv")
    )
    return stateful_cases.source(spark, lpath).join(plain_right, F.expr("k = rk"))


def event_time_key_join(spark, lpath, rpath):
    """Joined on the watermarked event times: both sides forget rows by that key."""
    return left(spark, lpath).join(renamed_right(spark, rpath), F.expr("ts = rts"), "left_outer")


# name -> (query, output mode, session settings)
CASES = {
    "union_count_min_policy": (union_count, "append", {}),
    "union_count_max_policy": (union_count, "append", {"spark.sql.streaming.multipleWatermarkPolicy": "max"}),
    "inner_range_join": (range_join("inner"), "append", {}),
    "left_outer_range_join": (range_join("left_outer"), "append", {}),
    "right_outer_range_join": (range_join("right_outer"), "append", {}),
    "full_outer_range_join": (range_join("full_outer"), "append", {}),
    "left_semi_range_join": (range_join("left_semi"), "append", {}),
    "event_time_key_join": (event_time_key_join, "append", {}),
    "inner_key_join_without_watermark": (key_join, "append", {}),
}


def outer_without_watermark(spark, lpath, rpath):
    plain_right = stateful_cases.source(spark, rpath).select(F.col("ts").alias("rts"), F.col("k").alias("rk"))
    return stateful_cases.source(spark, lpath).join(plain_right, F.expr("k = rk"), "left_outer")


def full_outer_without_watermark(spark, lpath, rpath):
    plain_right = stateful_cases.source(spark, rpath).select(F.col("ts").alias("rts"), F.col("k").alias("rk"))
    return stateful_cases.source(spark, lpath).join(plain_right, F.expr("k = rk"), "full_outer")


def semi_without_watermark(spark, lpath, rpath):
    plain_right = stateful_cases.source(spark, rpath).select(F.col("ts").alias("rts"), F.col("k").alias("rk"))
    return stateful_cases.source(spark, lpath).join(plain_right, F.expr("k = rk"), "left_semi")


def join_update(spark, lpath, rpath):
    return key_join(spark, lpath, rpath)


# name -> (query, output mode): what Spark refuses when the query starts
REFUSED = {
    "left_outer_join_without_watermark": (outer_without_watermark, "append"),
    "full_outer_join_without_watermark": (full_outer_without_watermark, "append"),
    "join_in_update_mode": (join_update, "update"),
    "left_semi_join_without_watermark": (semi_without_watermark, "append"),
    "left_anti_range_join": (range_join("left_anti"), "append"),
}


def dedup_then_window(spark, lpath, rpath):
    """A deduplication, then a windowed count of what it keeps (one stream)."""
    deduped = left(spark, lpath).dropDuplicates(["k", "ts"])
    return deduped.groupBy(F.window("ts", "10 seconds")).count()


def window_then_window(spark, lpath, rpath):
    """10 s counts, then 20 s sums of them over their window times (one stream)."""
    counts = left(spark, lpath).groupBy(F.window("ts", "10 seconds")).count()
    return counts.groupBy(F.window(F.window_time("window"), "20 seconds")).agg(F.sum("count").alias("n"))


def join_then_window(spark, lpath, rpath):
    """The inner range join, then a windowed count of its pairs."""
    return range_join("inner")(spark, lpath, rpath).groupBy(F.window("ts", "10 seconds")).count()


# several stateful operators in one query (append mode): name -> (query, output mode)
CHAIN_CASES = {
    "dedup_then_window": (dedup_then_window, "append"),
    "window_then_window": (window_then_window, "append"),
    "join_then_window": (join_then_window, "append"),
    "dedup_then_window_update": (dedup_then_window, "update"),
}
