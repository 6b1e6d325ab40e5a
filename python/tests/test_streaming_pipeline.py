"""Seed 000's streaming pipeline, Layers 2-4, with a JSON file source standing in for Kafka
(issue 21): parse, watermark, a sliding-window aggregation, a broadcast left join with a cached
static table, and toTable into a Delta table with availableNow — then again after new data,
from the checkpoint. The expected rows are computed here from the events."""

import json
import os
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pyspark.sql.functions import avg, broadcast, col, count, lit, window

MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def events(first, n):
    """n events, one every 90 seconds from event `first` on."""
    out = []
    for i in range(first, first + n):
        out.append({
            "user_id": f"u{i % 3}",
            "event_type": ["click", "view", "buy"][i % 4 % 3],
            "latency_ms": 10 * (i % 7),
            "timestamp": (T0 + i * timedelta(seconds=90)).strftime("%Y-%m-%d %H:%M:%S"),
        })
    return out


def windows_of(ts):
    """The 5-minute windows sliding every 2 minutes that hold `ts` (aligned to the epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    slide, size = 2 * MINUTE, 5 * MINUTE
    start = epoch + ((ts - epoch) // slide) * slide
    out = []
    while start + size > ts:
        out.append((start, start + size))
        start -= slide
    return out


def expected_rows(all_events, watermark):
    """Windows ended at or before the watermark, with their counts and average latency, joined
    with the campaigns."""
    groups = defaultdict(list)
    for e in all_events:
        ts = datetime.strptime(e["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        for w in windows_of(ts):
            groups[(w, e["user_id"], e["event_type"])].append(e["latency_ms"])
    campaigns = {"click": "spring", "buy": "summer"}
    rows = []
    for (w, user, kind), lat in groups.items():
        if w[1] <= watermark:
            rows.append((w[0].replace(tzinfo=None), w[1].replace(tzinfo=None), user, kind, len(lat), sum(lat) / len(lat), campaigns.get(kind), "user_behavior"))
    return sorted(rows, key=repr)


def write(src, name, rows):
    tmp = os.path.join(src, "." + name)
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.rename(tmp, os.path.join(src, name))


def test_seed_000_layers_2_to_4_into_a_delta_table(spark, tmp_dir, table):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    src = tmp_dir / "events"
    src.mkdir()
    spark.createDataFrame([("click", "spring"), ("buy", "summer")], "campaign_type string, campaign string").write.parquet(str(tmp_dir / "campaigns"))
    first = events(0, 30)
    write(src, "a.json", first)

    def run():
        kafka_df = spark.readStream.schema("user_id string, event_type string, latency_ms long, timestamp timestamp").json(str(src))
        events_with_watermark = kafka_df.withWatermark("timestamp", "10 minutes")
        user_sessions = (
            events_with_watermark.groupBy(window("timestamp", "5 minutes", "2 minutes"), "user_id", "event_type")
            .agg(count("*").alias("event_count"), avg("latency_ms").alias("avg_latency_ms"))
            .withColumn("dimension", lit("user_behavior"))
        )
        reference_data = spark.read.parquet(str(tmp_dir / "campaigns")).cache()
        enriched = user_sessions.join(broadcast(reference_data), user_sessions.event_type == reference_data.campaign_type, "left")
        q = (
            enriched.writeStream.format("delta")
            .outputMode("append")
            .option("checkpointLocation", str(tmp_dir / "checkpoint"))
            .option("mergeSchema", "true")
            .trigger(availableNow=True)
            .toTable(table)
        )
        assert q.awaitTermination(120)
        assert q.exception() is None
        return q

    def table_rows():
        return sorted(
            ((r.window.start, r.window.end, r.user_id, r.event_type, r.event_count, r.avg_latency_ms, r.campaign, r.dimension) for r in spark.table(table).collect()),
            key=repr,
        )

    run()
    last = T0 + 29 * timedelta(seconds=90)
    assert table_rows() == expected_rows(first, last - 10 * MINUTE)
    # new events, then the query again from its checkpoint: the windows the new watermark
    # closes are added, none twice
    second = events(30, 20)
    write(src, "b.json", second)
    q = run()
    last = T0 + 49 * timedelta(seconds=90)
    assert table_rows() == expected_rows(first + second, last - 10 * MINUTE)
    assert q.recentProgress[0].batchId > 0


def test_a_stream_static_inner_join_enriches_each_batch(spark, tmp_dir):
    """An inner join of a file stream with a static table: each batch's rows that have a match,
    with the static columns; rows without one are dropped (values computed here)."""
    src = tmp_dir / "orders"
    src.mkdir()
    prices = {"apple": 3, "pear": 5}
    spark.createDataFrame(list(prices.items()), "item string, price long").write.parquet(str(tmp_dir / "prices"))
    orders = [
        [{"id": 1, "item": "apple", "qty": 2}, {"id": 2, "item": "kiwi", "qty": 1}],
        [{"id": 3, "item": "pear", "qty": 4}, {"id": 4, "item": "apple", "qty": 1}],
    ]
    for i, rows in enumerate(orders):
        write(src, f"{i}.json", rows)
        os.utime(src / f"{i}.json", (1_700_000_000 + i, 1_700_000_000 + i))
    static = spark.read.parquet(str(tmp_dir / "prices"))
    stream = spark.readStream.schema("id long, item string, qty long").option("maxFilesPerTrigger", 1).json(str(src))
    name = f"inner_join_{os.getpid()}"
    q = (
        stream.join(static, "item")
        .withColumn("total", col("qty") * col("price"))
        .writeStream.format("memory")
        .queryName(name)
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    assert q.exception() is None
    got = sorted((r.id, r.item, r.total) for r in spark.table(name).collect())
    expected = sorted((o["id"], o["item"], o["qty"] * prices[o["item"]]) for rows in orders for o in rows if o["item"] in prices)
    assert got == expected
    assert [p.numInputRows for p in q.recentProgress] == [2, 2]
    assert [p.sink.numOutputRows for p in q.recentProgress] == [1, 2]
