"""Fixtures: a real `spate serve` process on a free loopback port, and a PySpark Connect
session (pyspark-client) pointed at it. Nothing is mocked: every test drives the server
through the same client users run."""

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[2]


def spate_binary() -> str:
    if os.environ.get("SPATE_BIN"):
        return os.environ["SPATE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "spate-target"))
    return str(Path(target) / "debug" / "spate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(proc, port, log_path, what):
    """Waits (up to a minute) until `proc` listens on loopback `port`; its log if it exits."""
    deadline = time.time() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def spawn_server(tmp_path_factory, *args, env=None):
    """A `spate serve` process with extra command-line arguments (and environment), yielding
    its url, warehouse, process and log path; terminated afterwards."""
    port = free_port()
    warehouse = tmp_path_factory.mktemp("warehouse")
    log_path = tmp_path_factory.mktemp("logs") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [spate_binary(), "serve", "--port", str(port), "--warehouse", str(warehouse), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        # the foreachBatch worker runs with the client's Python, as Spark Connect's does
        env={**os.environ, "PYSPARK_PYTHON": sys.executable, **(env or {})},
    )
    wait_for_port(proc, port, log_path, "spate serve")
    try:
        yield {
            "url": f"sc://127.0.0.1:{port}",
            "port": port,
            "warehouse": warehouse,
            "proc": proc,
            "log": log_path,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def abandon(spark):
    """Closes the channel of a session whose server was killed, without a call to it: else
    pyspark-client's exit hook retries its clean-up calls against the dead port for minutes."""
    spark.client.close()


def tansu_binary() -> str:
    """The Kafka-compatible test broker (.ci/tansu.sh installs it into the tools cache)."""
    if os.environ.get("SPATE_TANSU"):
        return os.environ["SPATE_TANSU"]
    tools = os.environ.get("SPATE_TOOLS", str(Path.home() / ".cache" / "spate-tools"))
    return str(Path(tools) / "tansu" / "bin" / "tansu")


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """A real Kafka-compatible broker (tansu, in memory) on a free loopback port, for the
    session: yields its bootstrap address."""
    binary = tansu_binary()
    if not os.path.exists(binary):
        raise RuntimeError(f"no Kafka test broker at {binary}: run .ci/tansu.sh (./test.sh does)")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("kafka") / "broker.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(proc, port, log_path, "the Kafka test broker")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with spawn_server(tmp_path_factory) as s:
        yield s


def peak_rss_mib(pid):
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak_rss(pid):
    """Starts a new peak-resident-memory measurement for the process (Linux clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mib(pid):
    """The process's resident memory now (VmRSS) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    """User plus system CPU time the process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="session")
def spark(server):
    session = SparkSession.builder.remote(server["url"]).getOrCreate()
    yield session
    session.stop()


@pytest.fixture
def tmp_dir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


_table_names = itertools.count()


@pytest.fixture
def table(spark):
    """A fresh warehouse table name, dropped afterwards."""
    name = f"t_{os.getpid()}_{next(_table_names)}"
    yield name
    spark.sql(f"DROP TABLE IF EXISTS {name}")


def delta_location(spark, name):
    """Where a Delta table's files are, as DESCRIBE DETAIL gives it (without `file:`)."""
    return spark.sql(f"DESCRIBE DETAIL {name}").collect()[0]["location"].removeprefix("file:")


def datafusion_plan(df) -> str:
    """DataFusion's own description of each operator of the physical plan of `df`, one a line,
    top down: the details part of `explain(mode="formatted")` (the other modes draw the plan in
    Spark's words)."""
    text = df._explain_string(mode="formatted")
    details = text.split("\n\n", 1)[1]
    return "\n".join(line for line in details.splitlines() if line and not line.startswith("("))
