"""Streaming query listeners (issue 21): PySpark's client-side listener bus. A listener added
with spark.streams.addListener hears each query's start (from the start response), every
batch's progress, idle triggers and the termination, with the failure's message and error
class; removing the last listener ends the server's event stream (removeListener returns only
then)."""

import json
import os
import time

import pytest
from pyspark.sql.streaming import StreamingQueryListener


class Recorder(StreamingQueryListener):
    def __init__(self):
        self.started, self.progress, self.idle, self.terminated = [], [], [], []

    def onQueryStarted(self, event):
        self.started.append(event)

    def onQueryProgress(self, event):
        self.progress.append(event.progress)

    def onQueryIdle(self, event):
        self.idle.append(event)

    def onQueryTerminated(self, event):
        self.terminated.append(event)


def wait_for(predicate, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def write_json(directory, name, rows, mtime):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.utime(path, (mtime, mtime))


@pytest.fixture
def recorder(spark):
    r = Recorder()
    spark.streams.addListener(r)
    yield r
    spark.streams.removeListener(r)


def test_a_listener_hears_start_progress_and_termination(spark, recorder, tmp_dir):
    for i in range(3):
        write_json(tmp_dir, f"{i}.json", [{"id": i * 10 + j} for j in range(i + 1)], 1_700_000_000 + i)
    q = (
        spark.readStream.schema("id long")
        .option("maxFilesPerTrigger", 1)
        .json(str(tmp_dir))
        .writeStream.format("noop")
        .queryName("heard")
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(60)
    assert wait_for(lambda: recorder.terminated)
    [started] = recorder.started
    assert (str(started.id), str(started.runId), started.name) == (q.id, q.runId, "heard")
    mine = [p for p in recorder.progress if str(p.id) == q.id]
    assert [p.batchId for p in mine] == [0, 1, 2]
    assert [p.numInputRows for p in mine] == [1, 2, 3]
    assert all(p.name == "heard" and str(p.runId) == q.runId for p in mine)
    [end] = recorder.terminated
    assert (str(end.id), str(end.runId), end.exception, end.errorClassOnException) == (q.id, q.runId, None, None)


def test_a_failed_query_s_termination_carries_its_error(spark, recorder, tmp_dir):
    write_json(tmp_dir, "0.json", [{"s": "not a number"}], 1_700_000_000)
    q = (
        spark.readStream.schema("s string")
        .json(str(tmp_dir))
        .selectExpr("CAST(s AS INT) AS n")
        .writeStream.format("noop")
        .trigger(availableNow=True)
        .start()
    )
    with pytest.raises(Exception):
        q.awaitTermination(60)
    assert wait_for(lambda: recorder.terminated)
    [end] = recorder.terminated
    assert str(end.id) == q.id
    assert end.errorClassOnException == "CAST_INVALID_INPUT"
    assert "not a number" in end.exception


def test_a_query_without_data_reports_idle(spark, recorder, tmp_dir):
    spark.conf.set("spark.sql.streaming.noDataProgressEventInterval", "200ms")
    try:
        q = spark.readStream.schema("id long").json(str(tmp_dir)).writeStream.format("noop").start()
        try:
            assert wait_for(lambda: len(recorder.idle) >= 2)
            assert {str(e.id) for e in recorder.idle} == {q.id}
            assert all(str(e.runId) == q.runId for e in recorder.idle)
        finally:
            q.stop()
    finally:
        spark.conf.unset("spark.sql.streaming.noDataProgressEventInterval")


def test_after_removal_nothing_is_heard(spark, tmp_dir):
    r = Recorder()
    spark.streams.addListener(r)
    spark.streams.removeListener(r)  # returns once the server ended the event stream
    write_json(tmp_dir, "0.json", [{"id": 1}], 1_700_000_000)
    q = spark.readStream.schema("id long").json(str(tmp_dir)).writeStream.format("noop").trigger(availableNow=True).start()
    assert q.awaitTermination(60)
    time.sleep(0.5)
    assert (r.started, r.progress, r.terminated) == ([], [], [])
