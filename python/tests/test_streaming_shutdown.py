"""Graceful shutdown (issue 21): SIGTERM to the server while a micro-batch is in flight lets
the batch finish and commit before the server exits (Spark's
spark.streaming.stopGracefullyOnShutdown), so a restart has nothing to re-run."""

import json
import os
import signal
import time

from pyspark.sql import SparkSession

from conftest import spawn_server


def test_sigterm_waits_for_the_batch_in_flight(tmp_path_factory):
    root = tmp_path_factory.mktemp("shutdown")
    src, marks, ckpt = root / "in", root / "marks", root / "ckpt"
    src.mkdir()
    marks.mkdir()
    with open(src / "0.json", "w") as f:
        f.write(json.dumps({"id": 1}) + "\n")
    with spawn_server(tmp_path_factory) as server:
        spark = SparkSession.builder.remote(server["url"]).create()

        def slow(batch_df, batch_id):
            (marks / f"started-{batch_id}").touch()
            time.sleep(3)
            (marks / f"done-{batch_id}").write_text(str(batch_df.count()))

        (
            spark.readStream.schema("id long").json(str(src))
            .writeStream.foreachBatch(slow)
            .option("checkpointLocation", str(ckpt))
            .start()
        )
        deadline = time.time() + 60
        while not (marks / "started-0").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (marks / "started-0").exists()
        assert not (ckpt / "commits" / "0").exists()
        os.kill(server["proc"].pid, signal.SIGTERM)
        assert server["proc"].wait(timeout=60) == 0
    # the batch finished its work and its commit before the server went
    assert (marks / "done-0").read_text() == "1"
    assert (ckpt / "offsets" / "0").exists() and (ckpt / "commits" / "0").exists()
