"""Streaming queries with state (watermarks, aggregations, deduplication), shared by the test
that runs them on Spate (test_streaming_stateful.py) and the script that runs them on Apache
Spark to produce the expected outputs (spark_reference/streaming_stateful.py). Each case reads
the same JSON files, one file per micro-batch, so that both engines see the same batches."""

import json
import os

from pyspark.sql import functions as F

SCHEMA = "ts timestamp, k string, v long"

# One file per micro-batch (maxFilesPerTrigger=1). With a 5 second watermark delay:
# after file 0 the watermark is 12:00:07, after file 1 12:00:26 (so 12:00:05 in file 2 is late
# for its 10 s window), after file 2 12:00:35, after file 3 12:01:05.
FILES = [
    [("12:00:01", "a", 1), ("12:00:07", "b", 2), ("12:00:12", "a", 3)],
    [("12:00:25", "a", 4), ("12:00:03", "a", 5), ("12:00:31", "b", 6)],
    [("12:00:05", "b", 7), ("12:00:40", "a", 8), ("12:00:12", "a", 9)],
    [("12:00:41", "a", 10), ("12:01:10", "c", 11), ("12:00:40", "a", 12)],
]
DAY = "2026-12-01"


def rows_of(i):
    return [{"ts": f"{DAY} {t}", "k": k, "v": v} for t, k, v in FILES[i]]


def write_batches(directory, rows_of, indices):
    """One JSON file per micro-batch (`rows_of(i)` in `i.json`), modification times in batch
    order, since the file source takes files oldest first. Returns the directory."""
    os.makedirs(directory, exist_ok=True)
    for i in indices:
        path = os.path.join(directory, f"{i}.json")
        with open(path, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows_of(i)))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return str(directory)


def local_spark():
    """The classic local Apache Spark the reference scripts (python/spark_reference) run."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )


def source(spark, path):
    return spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(path)


def windowed_count(spark, path):
    return (
        source(spark, path)
        .withWatermark("ts", "5 seconds")
        .groupBy(F.window("ts", "10 seconds"), "k")
        .count()
    )


def sliding_sum(spark, path):
    return (
        source(spark, path)
        .withWatermark("ts", "5 seconds")
        .groupBy(F.window("ts", "10 seconds", "5 seconds"))
        .agg(F.sum("v").alias("total"), F.max("k").alias("top"))
    )


def key_totals(spark, path):
    return source(spark, path).groupBy("k").agg(
        F.count("*").alias("n"), F.sum("v").alias("total"), F.avg("v").alias("mean"), F.min("ts").alias("first")
    )


def event_time_count(spark, path):
    return source(spark, path).withWatermark("ts", "5 seconds").groupBy("ts").agg(F.sum("v").alias("total"))


def dedup_keys(spark, path):
    return source(spark, path).dropDuplicates(["k"])


def dedup_watermark(spark, path):
    return source(spark, path).withWatermark("ts", "5 seconds").dropDuplicates(["k", "ts"])


def dedup_within_watermark(spark, path):
    return source(spark, path).withWatermark("ts", "5 seconds").dropDuplicatesWithinWatermark(["k"])


def filtered_window(spark, path):
    return (
        source(spark, path)
        .where("v % 2 = 0")
        .withWatermark("ts", "5 seconds")
        .groupBy(F.window("ts", "20 seconds").alias("w"))
        .agg(F.collect_list("k").alias("ks"), F.count("*").alias("n"))
        .select(F.col("w.start").alias("start"), "n", F.size("ks").alias("size"))
    )


# name -> (query, output mode); every case runs to the end of the files with availableNow
CASES = {
    "windowed_count_append": (windowed_count, "append"),
    "windowed_count_update": (windowed_count, "update"),
    "windowed_count_complete": (windowed_count, "complete"),
    "sliding_sum_append": (sliding_sum, "append"),
    "key_totals_complete": (key_totals, "complete"),
    "key_totals_update": (key_totals, "update"),
    "event_time_count_append": (event_time_count, "append"),
    "filtered_window_append": (filtered_window, "append"),
    "dedup_keys": (dedup_keys, "append"),
    "dedup_watermark": (dedup_watermark, "append"),
    "dedup_within_watermark": (dedup_within_watermark, "append"),
}


def key_totals_append(spark, path):
    return source(spark, path).groupBy("k").count()


def count_distinct(spark, path):
    return (
        source(spark, path)
        .withWatermark("ts", "5 seconds")
        .groupBy(F.window("ts", "10 seconds"))
        .agg(F.countDistinct("k").alias("keys"))
    )


def sorted_stream(spark, path):
    return source(spark, path).orderBy("v")


def two_aggregations(spark, path):
    return source(spark, path).groupBy("k").count().groupBy("count").count()


def dedup_within_without_watermark(spark, path):
    return source(spark, path).dropDuplicatesWithinWatermark(["k"])


def session_totals(spark, path):
    """Sessions per key: rows of a key less than 10 s apart are one session."""
    return (
        source(spark, path)
        .withWatermark("ts", "5 seconds")
        .groupBy(F.session_window("ts", "10 seconds"), "k")
        .agg(F.count("*").alias("n"), F.sum("v").alias("total"))
    )


# session windows: name -> (query, output mode), run as CASES are
SESSION_CASES = {
    "session_append": (session_totals, "append"),
    "session_update": (session_totals, "update"),
    "session_complete": (session_totals, "complete"),
}


def window_cube(spark, path):
    """Counts per window and key, per window, per key and in all (cube)."""
    return source(spark, path).withWatermark("ts", "5 seconds").cube(F.window("ts", "10 seconds"), "k").count()


def key_rollup(spark, path):
    return source(spark, path).rollup("k", F.window("ts", "20 seconds")).agg(F.sum("v").alias("total"))


# grouping sets on a stream: name -> (query, output mode), run as CASES are
GROUPING_SET_CASES = {
    "window_cube_append": (window_cube, "append"),
    "window_cube_update": (window_cube, "update"),
    "key_rollup_complete": (key_rollup, "complete"),
}


# name -> (query, output mode): what Spark refuses when the query starts
REFUSED = {
    "aggregation_append_without_watermark": (key_totals_append, "append"),
    "sort_append": (sorted_stream, "append"),
    "sort_complete_without_aggregation": (sorted_stream, "complete"),
    "two_aggregations": (two_aggregations, "complete"),
    "dedup_update": (dedup_keys, "update"),
    "dedup_within_without_watermark": (dedup_within_without_watermark, "append"),
}


def run_to_memory(spark, df, name, mode):
    """Runs the stream `df` with trigger(availableNow=True) into a memory sink named `name`:
    the sink's rows as plain values, sorted, and each batch's progress summary."""
    q = df.writeStream.format("memory").queryName(name).outputMode(mode).trigger(availableNow=True).start()
    if not q.awaitTermination(120):
        raise TimeoutError(f"{name} did not end")
    if q.exception() is not None:
        raise q.exception()
    rows = sorted((plain(r) for r in spark.table(name).collect()), key=lambda r: json.dumps(r, sort_keys=True))
    return rows, [progress_summary(json.loads(p.json)) for p in q.recentProgress]


def progress_summary(p):
    """What the tests compare of a batch's progress (a dict parsed from its JSON)."""
    ops = [
        {k: op.get(k) for k in ("numRowsTotal", "numRowsUpdated", "numRowsRemoved", "numRowsDroppedByWatermark")}
        for op in p.get("stateOperators", [])
    ]
    return {
        "batchId": p["batchId"],
        "numInputRows": p["numInputRows"],
        "numOutputRows": p["sink"]["numOutputRows"],
        "watermark": p.get("eventTime", {}).get("watermark"),
        "stateOperators": ops,
    }


def plain(row):
    """A result row as JSON-friendly values (timestamps as ISO strings, structs as dicts)."""
    out = {}
    for k, v in row.asDict(recursive=True).items():
        out[k] = plain_value(v)
    return out


def plain_value(v):
    if isinstance(v, dict):
        return {k: plain_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain_value(x) for x in v]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v
