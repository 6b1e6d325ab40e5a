"""Exactly-once across crashes (issue 21): the server is killed with SIGKILL at random moments,
more than 20 times, while three streaming queries run — JSON files into Parquet, into Delta, and
deduplicated into Parquet — with new input arriving between crashes. Each restart starts the
queries again from their checkpoints. At the end every input row must be in each sink exactly
once: the Parquet sink's _spark_metadata log, the Delta sink's (query id, batch id)
transactions, the checkpoint's offsets/commits order and the deduplication's state store are
what make that true."""

import json
import os
import random
import signal
import time

from pyspark.sql import SparkSession

from conftest import abandon, spawn_server

KILLS = 22
ROWS_PER_FILE = 2000


def write_file(src, index):
    """File `index`: ids index*2000 .. index*2000+1999, and (for the deduplication) the previous
    file's ids again."""
    rows = [{"id": index * ROWS_PER_FILE + i, "v": f"f{index}"} for i in range(ROWS_PER_FILE)]
    if index > 0:
        rows += [{"id": (index - 1) * ROWS_PER_FILE + i, "v": "again"} for i in range(ROWS_PER_FILE)]
    tmp = src / f".{index}.tmp"
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.rename(tmp, src / f"{index:04d}.json")


def start_queries(spark, src, out, trigger):
    stream = spark.readStream.schema("id long, v string").option("maxFilesPerTrigger", 1).json(str(src))
    plain = stream.where("v != 'again'")
    queries = []
    for name, df, fmt in (
        ("parquet", plain, "parquet"),
        ("delta", plain, "delta"),
        ("dedup", stream.dropDuplicates(["id"]), "parquet"),
    ):
        writer = df.writeStream.format(fmt).option("checkpointLocation", str(out / f"{name}_ckpt"))
        writer = writer.trigger(**trigger)
        queries.append(writer.start(str(out / name)))
    return queries


def uncommitted(ckpt):
    """Batches with offsets but no commit (what a kill interrupted)."""
    offsets = {p.name for p in (ckpt / "offsets").glob("[0-9]*")} if (ckpt / "offsets").exists() else set()
    commits = {p.name for p in (ckpt / "commits").glob("[0-9]*")} if (ckpt / "commits").exists() else set()
    return offsets - commits


def test_kill_9_at_random_moments_loses_and_repeats_nothing(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    src, out = root / "in", root / "out"
    src.mkdir()
    out.mkdir()
    files = 0
    for _ in range(10):
        write_file(src, files)
        files += 1
    rng = random.Random(21)
    interrupted = 0
    for kill in range(KILLS):
        with spawn_server(tmp_path_factory) as server:
            spark = SparkSession.builder.remote(server["url"]).create()
            start_queries(spark, src, out, {"processingTime": "0 seconds"})
            time.sleep(rng.uniform(0.05, 1.5))
            os.kill(server["proc"].pid, signal.SIGKILL)
            server["proc"].wait()
            abandon(spark)
        interrupted += sum(1 for n in ("parquet", "delta", "dedup") if uncommitted(out / f"{n}_ckpt"))
        for _ in range(2):
            write_file(src, files)
            files += 1
    # the runs between the kills did commit work (the final run does not do it all)
    committed = {n: len(list((out / f"{n}_ckpt" / "commits").glob("[0-9]*"))) for n in ("parquet", "delta", "dedup")}
    print("batches committed before the last run:", committed, "interrupted:", interrupted)
    assert all(c >= KILLS // 2 for c in committed.values()), committed
    # the last run: everything left, to the end
    with spawn_server(tmp_path_factory) as server:
        spark = SparkSession.builder.remote(server["url"]).create()
        for q in start_queries(spark, src, out, {"availableNow": True}):
            assert q.awaitTermination(300)
            assert q.exception() is None
        every_id = list(range(files * ROWS_PER_FILE))
        for name in ("parquet", "dedup"):
            ids = sorted(r.id for r in spark.read.parquet(str(out / name)).collect())
            assert ids == every_id, f"{name}: {len(ids)} rows for {len(every_id)} ids"
        ids = sorted(r.id for r in spark.read.format("delta").load(str(out / "delta")).collect())
        assert ids == every_id, f"delta: {len(ids)} rows for {len(every_id)} ids"
        spark.stop()
    # the kills did land in the middle of batches, not only between them
    assert interrupted >= 3, f"only {interrupted} kills interrupted a batch"
