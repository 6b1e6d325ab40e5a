"""Exactly-once from Kafka across crashes (issue 22): while a producer writes JSON events into a
three-partition topic, the server is killed with SIGKILL at random moments, more than 20 times,
and started again; three queries run from their checkpoints each time — Kafka -> parse -> Delta
(append), Kafka -> parse -> windowed aggregation with a watermark -> Delta, and Kafka -> parse
-> Kafka with the sink's `exactlyOnce` option. At the end both tables and the output topic must
equal what an independent computation over every record the broker acknowledged gives: nothing
lost, nothing twice.

The source's offsets in the checkpoint (written before a batch, committed after the sink), the
Delta sink's (query id, batch id) transactions, the aggregation's state store and the Kafka
sink's notes of what a batch wrote are what make that true. Kafka's consumer groups play no
part."""

import json
import os
import random
import signal
import threading
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from conftest import abandon, spawn_server
from kafka_cases import Producer, fetch_all, new_topic

KILLS = 22
PARTITIONS = 3
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: event i happens at BASE_MS + 10 ms * i
WINDOW_MS = 1000
EVENT = "id BIGINT, ms BIGINT, amount DOUBLE"


class Events(threading.Thread):
    """Produces events 0, 1, 2, ... round-robin over the partitions until stopped; `acked` holds
    the ids the broker acknowledged."""

    def __init__(self, kafka, topic):
        super().__init__(daemon=True)
        self.kafka, self.topic = kafka, topic
        self.stop = threading.Event()
        self.acked = []
        self.next = 0

    def send(self, producer, i, ms):
        event = {"id": i, "ms": ms, "amount": (i % 7) * 1.25}
        producer.send(self.topic, json.dumps(event), partition=i % PARTITIONS)
        self.acked.append(event)

    def run(self):
        producer = Producer(self.kafka)
        while not self.stop.is_set():
            for _ in range(20):
                self.send(producer, self.next, BASE_MS + 10 * self.next)
                self.next += 1
            time.sleep(0.02)
        producer.close()

    def finish(self):
        """Stops, then sends one event a day later on every partition, which moves the
        watermark past every window of the real events."""
        self.stop.set()
        self.join()
        producer = Producer(self.kafka)
        for p in range(PARTITIONS):
            i = self.next + p
            producer.send(self.topic, json.dumps({"id": i, "ms": BASE_MS + 86_400_000, "amount": 0.0}), partition=p)
        producer.close()
        return list(self.acked)


def start_queries(spark, kafka, topic, relay, out, trigger):
    events = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", "300")
        .load()
        .selectExpr(f"from_json(CAST(value AS STRING), '{EVENT}') AS e")
        .selectExpr("e.id AS id", "timestamp_millis(e.ms) AS ts", "e.amount AS amount")
    )
    windows = (
        events.withWatermark("ts", "10 seconds")
        .groupBy(F.window("ts", "1 second"))
        .agg(F.count("id").alias("n"), F.sum("amount").alias("total"))
        .selectExpr("window.start AS start", "n", "total")
    )
    queries = []
    for name, df, mode in (("raw", events, "append"), ("windows", windows, "append")):
        writer = (
            df.writeStream.format("delta")
            .outputMode(mode)
            .option("checkpointLocation", str(out / f"{name}_ckpt"))
            .trigger(**trigger)
        )
        queries.append(writer.start(str(out / name)))
    queries.append(
        events.selectExpr("CAST(id AS STRING) AS key", "CAST(amount AS STRING) AS value")
        .writeStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka)
        .option("topic", relay)
        .option("exactlyOnce", "true")
        # one record per produce request: tansu 0.6.0 reports a partition's end after a batch
        # of several records as the batch's first offset + 1, and librdkafka then never
        # signals the end of a partition that the sink reads back after a crash
        .option("kafka.batch.num.messages", "1")
        .option("checkpointLocation", str(out / "relay_ckpt"))
        .trigger(**trigger)
        .start()
    )
    return queries


def uncommitted(ckpt):
    offsets = {p.name for p in (ckpt / "offsets").glob("[0-9]*")} if (ckpt / "offsets").exists() else set()
    commits = {p.name for p in (ckpt / "commits").glob("[0-9]*")} if (ckpt / "commits").exists() else set()
    return offsets - commits


def test_kill_9_while_producers_write_loses_and_repeats_nothing(kafka, tmp_path_factory):
    root = tmp_path_factory.mktemp("kafka_crash")
    out = root / "out"
    out.mkdir()
    topic = new_topic(kafka, partitions=PARTITIONS, prefix="crash")
    relay = new_topic(kafka, partitions=2, prefix="relay")
    producer = Events(kafka, topic)
    producer.start()
    rng = random.Random(22)
    interrupted = 0
    for _ in range(KILLS):
        with spawn_server(tmp_path_factory) as server:
            spark = SparkSession.builder.remote(server["url"]).create()
            start_queries(spark, kafka, topic, relay, out, {"processingTime": "0 seconds"})
            time.sleep(rng.uniform(0.5, 3.0))
            os.kill(server["proc"].pid, signal.SIGKILL)
            server["proc"].wait()
            abandon(spark)
        interrupted += sum(1 for n in ("raw", "windows", "relay") if uncommitted(out / f"{n}_ckpt"))
    events = producer.finish()
    committed = {n: len(list((out / f"{n}_ckpt" / "commits").glob("[0-9]*"))) for n in ("raw", "windows", "relay")}
    print("events:", len(events), "batches committed before the last run:", committed, "interrupted:", interrupted)
    assert all(c >= KILLS // 2 for c in committed.values()), committed
    with spawn_server(tmp_path_factory) as server:
        spark = SparkSession.builder.remote(server["url"]).create()
        check_final_run(spark, kafka, topic, relay, out, events)
    # every event once in the output topic, read back by fetching with kafka-python
    relayed = sorted(
        (int(k), float(v)) for _, _, k, v, _ in fetch_all(kafka, relay, partitions=2, isolation_level="read_committed")
    )
    flushes = [(len(events) + p, 0.0) for p in range(PARTITIONS)]
    assert relayed == sorted([(e["id"], e["amount"]) for e in events] + flushes)
    assert interrupted >= 3, f"only {interrupted} kills interrupted a batch"


def check_final_run(spark, kafka, topic, relay, out, events):
    """Runs the queries to the end of the topic (availableNow) and checks both tables."""
    try:
        for q in start_queries(spark, kafka, topic, relay, out, {"availableNow": True}):
            assert q.awaitTermination(600)
            assert q.exception() is None
        raw = sorted(r.id for r in spark.read.format("delta").load(str(out / "raw")).collect())
        assert raw == list(range(len(events) + PARTITIONS)), f"raw: {len(raw)} rows for {len(events)} events"
        # every window of the real events, computed here from what the broker acknowledged
        want = {}
        for e in events:
            start = (e["ms"] - BASE_MS) // WINDOW_MS
            n, total = want.get(start, (0, 0.0))
            want[start] = (n + 1, total + e["amount"])
        got = {
            (r.start_ms - BASE_MS) // WINDOW_MS: (r.n, r.total)
            for r in spark.read.format("delta")
            .load(str(out / "windows"))
            .selectExpr("unix_millis(start) AS start_ms", "n", "total")
            .collect()
        }
        assert len(got) == len(want)
        # amounts are multiples of 1/4: their sums are exact in binary
        assert got == want
    finally:
        spark.stop()
