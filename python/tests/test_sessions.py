"""Sessions through the real pyspark-client: fifty sessions at once, each with its own
configuration and views and the right answers; an idle session closed after Spark's
`defaultSessionTimeout` (a later request hears INVALID_HANDLE.SESSION_CLOSED); SIGTERM stops a
running query and the server exits."""

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from conftest import spawn_server


def test_fifty_sessions_at_once_each_get_their_own_answers(server):
    n = 50
    barrier = threading.Barrier(n)

    def work(i):
        spark = SparkSession.builder.remote(server["url"]).create()
        try:
            spark.conf.set("spark.sql.shuffle.partitions", str(i + 1))
            spark.range(i * 1000, (i + 1) * 1000).createOrReplaceTempView("mine")
            barrier.wait(timeout=120)  # every session exists before any queries
            total = spark.sql("SELECT sum(id) AS s, count(*) AS c FROM mine").first()
            grouped = (
                spark.table("mine")
                .groupBy((F.col("id") % 10).alias("k"))
                .agg(F.count("*").alias("c"))
                .orderBy("k")
                .collect()
            )
            return (
                spark.session_id,
                spark.conf.get("spark.sql.shuffle.partitions"),
                total.s,
                total.c,
                [r.c for r in grouped],
            )
        finally:
            spark.stop()

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(work, range(n)))
    assert len({r[0] for r in results}) == n
    for i, (_, partitions, s, c, groups) in enumerate(results):
        lo, hi = i * 1000, (i + 1) * 1000
        assert partitions == str(i + 1)
        assert (s, c) == (sum(range(lo, hi)), 1000)
        assert groups == [100] * 10


def test_a_view_of_one_session_is_not_seen_by_another(server):
    a = SparkSession.builder.remote(server["url"]).create()
    b = SparkSession.builder.remote(server["url"]).create()
    try:
        a.range(3).createOrReplaceTempView("only_in_a")
        assert a.table("only_in_a").count() == 3
        with pytest.raises(AnalysisException) as e:
            b.table("only_in_a").collect()
        assert e.value.getCondition() == "TABLE_OR_VIEW_NOT_FOUND"
    finally:
        a.stop()
        b.stop()


def test_an_idle_session_is_closed_after_the_session_timeout(tmp_path_factory):
    with spawn_server(
        tmp_path_factory,
        "--conf", "spark.connect.session.manager.defaultSessionTimeout=1s",
        "--conf", "spark.connect.session.manager.maintenanceInterval=100ms",
    ) as s:
        spark = SparkSession.builder.remote(s["url"]).create()
        assert spark.range(5).count() == 5
        time.sleep(2)
        with pytest.raises(PySparkException) as e:
            spark.range(5).count()
        assert "INVALID_HANDLE.SESSION_CLOSED" in str(e.value)
        # a new session is served
        fresh = SparkSession.builder.remote(s["url"]).create()
        assert fresh.range(7).count() == 7
        fresh.stop()


CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).create()
print("started", flush=True)
spark.range(10**12).selectExpr("sum(id % 7) AS s").collect()
"""


def test_sigterm_stops_a_running_query_and_the_server_exits(tmp_path_factory, tmp_path):
    with spawn_server(tmp_path_factory, env={"SPATE_LOG": "spate_exec=info,warn"}) as s:
        script = tmp_path / "client.py"
        script.write_text(CLIENT)
        client = subprocess.Popen([sys.executable, str(script), s["url"]], stdout=subprocess.PIPE, text=True)
        try:
            assert client.stdout.readline().strip() == "started"
            time.sleep(2)  # the query runs
            s["proc"].terminate()
            assert s["proc"].wait(timeout=30) == 0
            assert "canceled" in s["log"].read_text()
        finally:
            client.kill()
            client.wait()
