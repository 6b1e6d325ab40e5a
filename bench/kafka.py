"""Kafka benchmark (issue 22): Kafka -> parse JSON -> Delta with Spate (release) against the limit
of the same broker read by a plain consumer (librdkafka through confluent-kafka) in the same
run, on this machine.

- throughput: N JSON events already in a topic; an availableNow query reads them all, parses
  the value with from_json and appends to a Delta table. Rows/s and MiB/s (of record values) of
  wall time from start() to the end of the query, against a plain consumer reading the same
  records (assign, poll to the end) — the broker's limit for one reader here.
- latency: a producer writes events at a steady rate (10k and 100k records/s) while a query
  (processingTime 0) appends them to Delta; a watcher sees each new Delta version as it is
  committed (polling the log every 5 ms). A record's latency is the time from its produce call
  to the moment the version holding it was seen: median and 99th percentile.

Engines: Apache Spark's Kafka connector (spark-sql-kafka-0-10) comes as jars from Maven
Central, which this machine cannot reach, so there is no Spark number; Sail has no Kafka source.
The broker is tansu 0.6.0 (in memory), the tests' broker. Its high watermark after batched
produces is the last batch's base offset + 1 (test_kafka_broker.py), so both readers read to
that watermark (a few records of each partition's last batch stay unread by both), and under
steady production a batch's last records wait for the next produce (at most linger.ms, 5 ms).

Run: bench/.venv/bin/python bench/kafka.py (after `cargo build --release -p spate-cli`);
writes bench/results/<date>-kafka.json and .md.
"""

import argparse
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from run import free_port, server  # noqa: E402 - the TPC-H harness's servers and memory sampler

EVENT = "id BIGINT, user_id STRING, event_type STRING, amount DOUBLE, ms BIGINT"


def event(i, ms):
    return json.dumps(
        {"id": i, "user_id": f"user-{i % 5000}", "event_type": ("view", "cart", "purchase")[i % 3],
         "amount": (i % 1000) / 10, "ms": ms}
    ).encode()


def tansu():
    path = os.environ.get("SPATE_TANSU") or subprocess.run(
        [str(HERE.parent / ".ci" / "tansu.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [path, "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        f.result()


def preload(bootstrap, topic, partitions, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 1_000_000})
    size = 0
    started = time.time()
    for i in range(n):
        v = event(i, 0)
        size += len(v)
        while True:
            try:
                p.produce(topic, v, partition=i % partitions)
                break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0:
            p.poll(0)
    p.flush()
    return size, n / (time.time() - started)


def watermarks(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-marks"})
    marks = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)[1] for p in range(partitions)]
    c.close()
    return marks


def plain_consumer(bootstrap, topic, partitions, ends):
    """Reads every partition from 0 to its watermark; returns (records, value bytes, seconds)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time()}", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    started = time.time()
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    left = {p for p in range(partitions) if ends[p] > 0}
    n = size = 0
    while left:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                if m.error().code() == -191:  # end of partition
                    left.discard(m.partition())
                continue
            if m.offset() < ends[m.partition()]:
                n += 1
                size += len(m.value())
            if m.offset() >= ends[m.partition()] - 1:
                left.discard(m.partition())
    seconds = time.time() - started
    c.close()
    return n, size, seconds


def parse(spark, bootstrap, topic, starting):
    return (
        spark.readStream.format("kafka").option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic).option("startingOffsets", starting).load()
        .selectExpr(f"from_json(CAST(value AS STRING), '{EVENT}') AS e").select("e.*")
    )


def spate_throughput(spark, bootstrap, topic, work, stage="delta"):
    """The availableNow query to Delta, or, to see where the time goes, only its read
    (`read`: the records to a noop sink) or its read and parse (`parse`: to noop)."""
    if stage == "read":
        df = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", bootstrap)
              .option("subscribe", topic).option("startingOffsets", "earliest").load())
    else:
        df = parse(spark, bootstrap, topic, "earliest")
    fmt = "delta" if stage == "delta" else "noop"
    q = df.writeStream.format(fmt).option("checkpointLocation", str(work / f"ckpt-{stage}")).trigger(availableNow=True)
    started = time.time()
    q = q.start(str(work / "table")) if fmt == "delta" else q.start()
    q.awaitTermination()
    seconds = time.time() - started
    rows = sum(p.numInputRows for p in q.recentProgress)
    return rows, seconds, len(q.recentProgress)


class DeltaWatcher(threading.Thread):
    """Notes when each version of a Delta table's log first appears."""

    def __init__(self, table):
        super().__init__(daemon=True)
        self.log = table / "_delta_log"
        self.seen = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            if self.log.exists():
                now = time.time()
                for f in os.listdir(self.log):
                    if f.endswith(".json") and f not in self.seen:
                        self.seen[f] = now
            time.sleep(0.005)


def spate_latency(spark, bootstrap, rate, seconds, partitions, work):
    topic = f"lat-{rate}"
    create_topic(bootstrap, topic, partitions)
    table = work / f"lat-{rate}"
    watcher = DeltaWatcher(table)
    watcher.start()
    q = (parse(spark, bootstrap, topic, "latest").writeStream.format("delta")
         .option("checkpointLocation", str(work / f"ckpt-lat-{rate}")).trigger(processingTime="0 seconds")
         .start(str(table)))
    q.processAllAvailable()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000})
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    started = time.time()
    i = 0
    while time.time() - started < seconds:
        target = started + tick * (i // per_tick + 1)
        for _ in range(per_tick):
            ms = int(time.time() * 1000)
            p.produce(topic, event(i, ms), partition=i % partitions)
            i += 1
        p.poll(0)
        pause = target - time.time()
        if pause > 0:
            time.sleep(pause)
    produced_rate = i / (time.time() - started)
    p.flush()
    # one more record after the rest: tansu's watermark leaves the last batch's tail until then
    time.sleep(0.5)
    p.produce(topic, event(i, int(time.time() * 1000)), partition=0)
    p.flush()
    q.processAllAvailable()
    time.sleep(0.2)
    q.stop()
    watcher.stop.set()
    watcher.join()
    latencies = []
    for f, seen in watcher.seen.items():
        for line in (watcher.log / f).read_text().splitlines():
            add = json.loads(line).get("add")
            if add:
                ms = pq.read_table(table / add["path"], columns=["ms"]).column("ms").to_pylist()
                latencies += [seen * 1000 - m for m in ms if m is not None]
    latencies.sort()
    return {
        "target_rate": rate,
        "produced_rate": produced_rate,
        "records": len(latencies),
        "produced": i + 1,
        "median_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "versions": len(watcher.seen),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--rates", default="10000,100000")
    ap.add_argument("--latency-seconds", type=float, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--memory-limit", default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    broker, bootstrap = tansu()
    work = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    result = {"date": datetime.date.today().isoformat(), "records": args.records, "partitions": args.partitions}
    try:
        create_topic(bootstrap, "bench", args.partitions)
        size, produce_rate = preload(bootstrap, "bench", args.partitions, args.records)
        ends = watermarks(bootstrap, "bench", args.partitions)
        result["preload"] = {"value_bytes": size, "produce_rate": produce_rate, "watermarks": ends}
        runs = [plain_consumer(bootstrap, "bench", args.partitions, ends) for _ in range(2)]
        n, vbytes, secs = min(runs, key=lambda r: r[2])
        result["consumer"] = {"records": n, "seconds": secs, "rows_per_second": n / secs,
                              "mib_per_second": vbytes / secs / 2**20}
        print("plain consumer:", result["consumer"], flush=True)
        with server("spate", args, "kafka-spate") as (spark, sampler, startup):
            rows, secs, batches = spate_throughput(spark, bootstrap, "bench", work)
            result["spate"] = {"records": rows, "seconds": secs, "batches": batches, "rows_per_second": rows / secs,
                               "mib_per_second": vbytes / n * rows / secs / 2**20, "peak_rss_mib": sampler.peak / 2**20}
            print("spate:", result["spate"], flush=True)
            for stage in ("read", "parse"):
                rows_, secs_, _ = spate_throughput(spark, bootstrap, "bench", work, stage)
                result[f"spate_{stage}"] = {"records": rows_, "seconds": secs_, "rows_per_second": rows_ / secs_}
                print(f"spate {stage}:", result[f"spate_{stage}"], flush=True)
            result["latency"] = []
            for rate in (int(r) for r in args.rates.split(",")):
                sampler.reset()
                lat = spate_latency(spark, bootstrap, rate, args.latency_seconds, args.partitions, work)
                lat["peak_rss_mib"] = sampler.peak / 2**20
                result["latency"].append(lat)
                print("latency:", lat, flush=True)
    finally:
        broker.terminate()
        shutil.rmtree(work, ignore_errors=True)
    name = f"{result['date']}-kafka"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    c, s = result["consumer"], result["spate"]
    lines = [
        f"# Kafka -> parse JSON -> Delta ({result['date']})",
        "",
        "Broker: tansu 0.6.0 in memory on loopback, "
        f"{args.partitions} partitions, {args.records:,} JSON events of about "
        f"{result['preload']['value_bytes'] / args.records:.0f} bytes. 2 cores, release build.",
        "No Apache Spark number: its Kafka connector's jars come from Maven Central, which this machine",
        "cannot reach. Sail has no Kafka source. Method and the broker's watermark defect: bench/kafka.py.",
        "",
        "| reader | records | rows/s | MiB/s | vs plain consumer | server peak |",
        "|---|---|---|---|---|---|",
        f"| plain consumer (librdkafka, confluent-kafka) | {c['records']:,} | {c['rows_per_second']:,.0f} | "
        f"{c['mib_per_second']:.1f} | 1.00 | — |",
        f"| Spate: Kafka -> from_json -> Delta (availableNow, {s['batches']} batches) | {s['records']:,} | "
        f"{s['rows_per_second']:,.0f} | {s['mib_per_second']:.1f} | "
        f"{s['rows_per_second'] / c['rows_per_second']:.2f} | {s['peak_rss_mib']:.0f} MiB |",
        "",
        "Where the time goes (the same read into a noop sink, without and with from_json):",
        "",
        "| Spate stage | rows/s | vs plain consumer |",
        "|---|---|---|",
    ]
    for stage, what in (("read", "Kafka -> noop (the records read)"), ("parse", "Kafka -> from_json -> noop")):
        r = result[f"spate_{stage}"]
        lines.append(f"| {what} | {r['rows_per_second']:,.0f} | {r['rows_per_second'] / c['rows_per_second']:.2f} |")
    lines += [
        "",
        "End-to-end latency (produce call to the Delta version holding the record seen in the log):",
        "",
        "| target rate | produced | records | median | p99 | Delta versions | server peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for lat in result["latency"]:
        lines.append(
            f"| {lat['target_rate']:,}/s | {lat['produced_rate']:,.0f}/s | {lat['records']:,} | "
            f"{lat['median_ms']:.0f} ms | {lat['p99_ms']:.0f} ms | {lat['versions']} | {lat['peak_rss_mib']:.0f} MiB |"
        )
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
