"""foreachBatch (issue 21): the user's function runs in PySpark's own worker module
(pyspark.sql.connect.streaming.worker.foreach_batch_worker) with the client's Python, gets
each micro-batch as a DataFrame of the same session and the batch id, and can run any
DataFrame operation on it; an exception fails the query with Spark's
FOREACH_BATCH_USER_FUNCTION_ERROR and the Python traceback; the worker ends with its query."""

import json
import os
import time

import pytest
from pyspark.errors import StreamingQueryException
from pyspark.sql import functions as F


def write_json(directory, name, rows, mtime):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.utime(path, (mtime, mtime))


def workers_of(pid):
    """The foreachBatch worker processes the server runs."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and "foreach_batch_worker" in cmd:
            out.append(int(entry))
    return out


def test_each_batch_reaches_the_function_with_its_id_and_the_function_writes_delta(spark, server, tmp_dir):
    src, table = tmp_dir / "in", tmp_dir / "table"
    src.mkdir()
    files = [[{"id": 10 * i + j, "name": f"n{i}{j}"} for j in range(3)] for i in range(3)]
    for i, rows in enumerate(files):
        write_json(src, f"{i}.json", rows, 1_700_000_000 + i)

    def upsert(batch_df, batch_id):
        # any DataFrame work, in the same session: a transformation and a Delta write
        (
            batch_df.withColumn("batch", F.lit(batch_id))
            .withColumn("doubled", F.col("id") * 2)
            .write.format("delta")
            .mode("append")
            .save(str(table))
        )

    q = (
        spark.readStream.schema("id long, name string")
        .option("maxFilesPerTrigger", 1)
        .json(str(src))
        .writeStream.foreachBatch(upsert)
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(120)
    assert q.exception() is None
    got = sorted((r.batch, r.id, r.name, r.doubled) for r in spark.read.format("delta").load(str(table)).collect())
    expected = sorted((i, r["id"], r["name"], 2 * r["id"]) for i, rows in enumerate(files) for r in rows)
    assert got == expected
    assert [p.batchId for p in q.recentProgress] == [0, 1, 2]
    assert [p.sink.description for p in q.recentProgress] == ["ForeachBatchSink"] * 3
    deadline = time.time() + 10
    while workers_of(server["proc"].pid) and time.time() < deadline:
        time.sleep(0.1)
    assert workers_of(server["proc"].pid) == [], "the worker outlived its query"


def test_an_exception_in_the_function_fails_the_query_with_its_traceback(spark, tmp_dir):
    write_json(tmp_dir, "0.json", [{"id": 1}], 1_700_000_000)
    write_json(tmp_dir, "1.json", [{"id": 2}], 1_700_000_001)

    def fails_on_second(batch_df, batch_id):
        if batch_id == 1:
            raise ValueError(f"boom in batch {batch_id} with {batch_df.count()} rows")

    q = (
        spark.readStream.schema("id long")
        .option("maxFilesPerTrigger", 1)
        .json(str(tmp_dir))
        .writeStream.foreachBatch(fails_on_second)
        .trigger(availableNow=True)
        .start()
    )
    with pytest.raises(StreamingQueryException) as e:
        q.awaitTermination(120)
    text = str(e.value)
    assert "FOREACH_BATCH_USER_FUNCTION_ERROR" in text
    assert "ValueError: boom in batch 1 with 1 rows" in text
    assert "Traceback" in text
    assert [p.batchId for p in q.recentProgress] == [0]
