"""Results as Spark Connect streams them, through the real pyspark-client against a real
server: rows arrive while the query runs, Arrow batch messages keep to Spark's limits, progress
is reported, a broken connection is resumed where it broke, a client that goes away has its
query canceled, and a 2 GiB `toPandas()` passes through the server in a few batches of memory.
Expected values are computed here (closed forms over `range`)."""

import socket
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc, relations_pb2

from conftest import cpu_seconds, peak_rss_mib, rss_mib, spawn_server


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A server that reports progress often and gives up on detached clients quickly."""
    with spawn_server(
        tmp_path_factory,
        "--conf", "spark.connect.progress.reportInterval=100ms",
        "--conf", "spark.connect.execute.manager.detachedTimeout=1s",
        "--conf", "spark.connect.session.manager.maintenanceInterval=200ms",
        env={"SPATE_LOG": "spate_session=info,spate_exec=info,warn"},
    ) as s:
        yield s


@pytest.fixture
def tuned_spark(tuned):
    session = SparkSession.builder.remote(tuned["url"]).create()
    yield session
    session.stop()


def test_the_first_rows_arrive_while_the_query_is_still_running(spark):
    # a trillion rows: a server that computes the whole result before sending any never answers
    it = spark.range(10**12).selectExpr("id", "id * 3 AS t").toLocalIterator()
    got = []

    def first_rows():
        for row in it:
            got.append((row.id, row.t))
            if len(got) == 5:
                return

    reader = threading.Thread(target=first_rows, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "no rows within 60 s"
    assert got == [(i, 3 * i) for i in range(5)]
    it.close()


def rows_and_sizes(responses):
    batches = [r.arrow_batch for r in responses if r.HasField("arrow_batch")]
    return batches


def stub_for(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server['url'].rsplit(':', 1)[1]}")
    return channel, base_pb2_grpc.SparkConnectServiceStub(channel)


def test_arrow_batches_keep_to_sparks_row_and_size_limits(server):
    channel, stub = stub_for(server)
    session = str(uuid.uuid4())
    ctx = {"session_id": session, "user_context": base_pb2.UserContext(user_id="t")}
    n = 100_000
    # about 200 bytes a row: 20 MB in all, which must be cut into messages of at most 4 MiB
    sql = f"SELECT id, repeat('x', 200) AS pad FROM range({n})"
    plan = base_pb2.Plan(root=relations_pb2.Relation(sql=relations_pb2.SQL(query=sql)))
    responses = list(stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, **ctx)))
    batches = rows_and_sizes(responses)
    assert all(len(b.data) <= 4 * 1024 * 1024 for b in batches)
    assert all(b.row_count <= 10_000 for b in batches)
    offsets = [b.start_offset for b in batches]
    counts = [b.row_count for b in batches]
    assert offsets == [sum(counts[:i]) for i in range(len(counts))]
    table = pa.concat_tables([pa.ipc.open_stream(b.data).read_all() for b in batches])
    assert table.num_rows == n
    assert table.column("id").to_pylist() == list(range(n))
    assert responses[-1].HasField("result_complete")

    # the row limit is the session's spark.sql.execution.arrow.maxRecordsPerBatch
    conf = base_pb2.ConfigRequest(
        operation=base_pb2.ConfigRequest.Operation(
            set=base_pb2.ConfigRequest.Set(
                pairs=[base_pb2.KeyValue(key="spark.sql.execution.arrow.maxRecordsPerBatch", value="1000")]
            )
        ),
        **ctx,
    )
    stub.Config(conf)
    responses = list(stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, **ctx)))
    counts = [b.row_count for b in rows_and_sizes(responses)]
    assert counts == [1000] * 100
    channel.close()


def test_progress_is_reported_per_stage_while_a_query_runs(tuned_spark, tmp_path):
    path = str(tmp_path / "t")
    tuned_spark.range(3_000_000).selectExpr("id", "id % 1000 AS k").write.parquet(path)
    seen = []

    def handler(stages, inflight_tasks, operation_id, done):
        seen.append(([(s.stage_id, s.num_tasks, s.num_completed_tasks, s.num_bytes_read, s.done) for s in stages], done))

    tuned_spark.registerProgressHandler(handler)
    try:
        rows = (
            tuned_spark.read.parquet(path)
            .groupBy("k")
            .agg(F.count("*").alias("n"), F.sum("id").alias("s"))
            .orderBy("k")
            .collect()
        )
    finally:
        tuned_spark.clearProgressHandlers()
    assert [r.k for r in rows] == list(range(1000))
    assert all(r.n == 3000 for r in rows)
    assert sum(r.s for r in rows) == 3_000_000 * 2_999_999 // 2
    reports = [stages for stages, _ in seen if stages]
    assert reports, "no progress was reported"
    final = reports[-1]
    # an aggregation with a shuffle and a final sort runs in several stages, all done at the end
    assert len(final) >= 2
    assert all(total > 0 and completed == total and done for _, total, completed, _, done in final)
    # the scan's stage read the parquet files' bytes
    assert max(read for _, _, _, read, _ in final) > 0
    ids = [stage_id for stage_id, *_ in final]
    assert ids == sorted(ids)


class CuttingProxy:
    """A TCP proxy to the server that drops the first connection after passing `cut_after`
    bytes from the server to the client, and passes later connections whole."""

    def __init__(self, port, cut_after):
        self.target = port
        self.cut_after = cut_after
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.cut = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            limit = self.cut_after if self.connections == 1 else None
            threading.Thread(target=self.pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, limit), daemon=True).start()

    def pump(self, src, dst, limit):
        passed = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                passed += len(data)
                if limit is not None and passed >= limit:
                    self.cut = True
                    break
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def test_a_dropped_connection_is_resumed_where_it_broke(server):
    proxy = CuttingProxy(server["port"], cut_after=3_000_000)
    spark = SparkSession.builder.remote(f"sc://127.0.0.1:{proxy.port}").create()
    try:
        n = 2_000_000
        pdf = spark.range(n).selectExpr("id", "id * 2 AS d", "cast(id AS string) AS s").toPandas()
        assert proxy.cut, "the proxy never cut the stream"
        assert proxy.connections >= 2, "the client did not reconnect"
        assert len(pdf) == n
        assert pdf["id"].tolist() == list(range(n))
        assert int(pdf["d"].sum()) == n * (n - 1)
        assert pdf["s"].iloc[1_234_567] == "1234567"
    finally:
        spark.stop()
        proxy.close()


CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).create()
print("started", flush=True)
spark.range(10**12).selectExpr("sum(id * id % 7) AS s").collect()
"""


def test_a_query_whose_client_went_away_is_canceled(tuned, tmp_path):
    pid = tuned["proc"].pid
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    client = subprocess.Popen(
        [sys.executable, str(script), tuned["url"]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert client.stdout.readline().strip() == "started"
        time.sleep(3)  # the query is running
        before = cpu_seconds(pid)
        time.sleep(1)
        busy = cpu_seconds(pid) - before
        assert busy > 0.5, f"the server used {busy:.2f} s of CPU in 1 s: the query is not running"
    finally:
        client.kill()  # gone without a word: no ReleaseExecute, no interrupt
        client.wait()
    # the detached timeout is 1 s and maintenance runs every 200 ms
    deadline = time.time() + 30
    log = ""
    while time.time() < deadline:
        log = tuned["log"].read_text()
        if "canceled" in log:
            break
        time.sleep(0.2)
    assert "no client attached" in log, log[-2000:]
    time.sleep(1)
    before = cpu_seconds(pid)
    time.sleep(2)
    idle = cpu_seconds(pid) - before
    assert idle < 0.3, f"the server still used {idle:.2f} s of CPU in 2 s after the cancel"


def test_the_server_answers_handles_it_does_not_know_as_spark_does(server):
    channel, stub = stub_for(server)
    session = str(uuid.uuid4())
    ctx = {"session_id": session, "user_context": base_pb2.UserContext(user_id="t")}
    plan = base_pb2.Plan(root=relations_pb2.Relation(range=relations_pb2.Range(start=0, end=10, step=1)))
    op = str(uuid.uuid4())
    list(stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, operation_id=op, **ctx)))

    def error_class(call):
        with pytest.raises(grpc.RpcError) as e:
            list(call())
        return e.value.details().split("]")[0].lstrip("[")

    # the same operation id twice
    assert (
        error_class(lambda: stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, operation_id=op, **ctx)))
        == "INVALID_HANDLE.OPERATION_ALREADY_EXISTS"
    )
    # a cursor the operation never had
    assert (
        error_class(
            lambda: stub.ReattachExecute(
                base_pb2.ReattachExecuteRequest(operation_id=op, last_response_id="nope", **ctx)
            )
        )
        == "INVALID_CURSOR.POSITION_NOT_FOUND"
    )
    assert (
        error_class(
            lambda: stub.ReattachExecute(base_pb2.ReattachExecuteRequest(operation_id=str(uuid.uuid4()), **ctx))
        )
        == "INVALID_HANDLE.OPERATION_NOT_FOUND"
    )
    # an operation id that is not a UUID
    assert (
        error_class(lambda: stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, operation_id="x", **ctx)))
        == "INVALID_HANDLE.FORMAT"
    )
    # a released session stays closed
    stub.ReleaseSession(base_pb2.ReleaseSessionRequest(**ctx))
    assert (
        error_class(lambda: stub.ExecutePlan(base_pb2.ExecutePlanRequest(plan=plan, **ctx)))
        == "INVALID_HANDLE.SESSION_CLOSED"
    )
    channel.close()


def test_a_two_gib_topandas_passes_through_the_server_in_a_few_batches(tmp_path_factory):
    with spawn_server(tmp_path_factory) as s:
        spark = SparkSession.builder.remote(s["url"]).create()
        try:
            spark.range(10).collect()  # warm up: the session exists
            base = rss_mib(s["proc"].pid)
            n = 54_000_000  # five 8-byte columns: 2.0 GiB of Arrow data
            pdf = spark.range(n).selectExpr(
                "id", "id * 2 AS a", "cast(id AS double) AS b", "id % 7 AS c", "id + 1 AS d"
            ).toPandas()
            peak = peak_rss_mib(s["proc"].pid)
            result_mib = pdf.memory_usage(index=False).sum() / 2**20
            assert result_mib >= 2000
            assert len(pdf) == n
            assert int(pdf["id"].sum()) == n * (n - 1) // 2
            assert int(pdf["a"].sum()) == n * (n - 1)
            assert float(pdf["b"].iloc[-1]) == n - 1
            assert int(pdf["d"].iloc[123_456]) == 123_457
            assert int((pdf["c"] == 3).sum()) == len(range(3, n, 7))
            growth = peak - base
            print(f"\n2 GiB toPandas: server resident memory {base:.0f} MiB before, peak {peak:.0f} MiB "
                  f"(+{growth:.0f} MiB for a {result_mib:.0f} MiB result)")
            assert growth < 256, f"the server grew by {growth:.0f} MiB for a {result_mib:.0f} MiB result"
        finally:
            spark.stop()
