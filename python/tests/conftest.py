"""Fixtures: a real `spate serve` process on a free loopback port, and a PySpark Connect
session (pyspark-client) pointed at it. Nothing is mocked: every test drives the server
through the same client users run."""

import itertools
import os
import socket
import subprocess
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


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    port = free_port()
    warehouse = tmp_path_factory.mktemp("warehouse")
    log = open(tmp_path_factory.mktemp("logs") / "server.log", "w")
    proc = subprocess.Popen(
        [spate_binary(), "serve", "--port", str(port), "--warehouse", str(warehouse)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"spate serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    yield {"url": f"sc://127.0.0.1:{port}", "warehouse": warehouse, "proc": proc}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
