"""Bounded memory, through the real pyspark-client against a server started with a 256 MiB
limit: a sort, an aggregation with ten million distinct keys and a join, each over data more
than three times the limit, finish with the right answer (computed here) while the server's
resident memory stays far below the data; a query that cannot fit fails with Spark's
UNABLE_TO_ACQUIRE_MEMORY naming the limit, and the server goes on serving."""

import numpy as np
import pyarrow.compute as pc
import pytest
from pyspark.errors.exceptions.connect import SparkException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from conftest import peak_rss_mib, reset_peak_rss, spawn_server

LIMIT_MIB = 256


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    spill = tmp_path_factory.mktemp("spill")
    with spawn_server(
        tmp_path_factory, "--memory-limit", f"{LIMIT_MIB}m", "--local-dir", str(spill)
    ) as s:
        s["spill"] = spill
        yield s


@pytest.fixture(scope="module")
def spark(limited):
    session = SparkSession.builder.remote(limited["url"]).create()
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def fresh_peak(limited):
    reset_peak_rss(limited["proc"].pid)


def assert_bounded(limited, data_mib):
    peak = peak_rss_mib(limited["proc"].pid)
    print(f"\nserver peak resident memory {peak:.0f} MiB for {data_mib:.0f} MiB of data")
    assert data_mib > 3 * LIMIT_MIB
    # the limit, plus the engine itself, a few batches in flight and what the allocator keeps:
    # well below the data. Measured peaks vary from run to run (the join: 398 to 512 MiB on
    # this machine, the higher ones in the full suite), hence the margin
    assert peak < LIMIT_MIB + 320, f"peak {peak:.0f} MiB"
    assert peak < data_mib * 0.63


def test_a_sort_of_three_times_the_limit_spills_and_is_right(spark, limited):
    n = 7_000_000
    # about 120 bytes a row in Arrow: 800 MiB to sort; k is a permutation of 0..n-1
    df = spark.range(n).selectExpr(f"(id * 7919) % {n} AS k", "id", "repeat('x', 100) AS pad")
    table = df.orderBy("k").toArrow()
    assert table.num_rows == n
    assert (table.column("k").to_numpy() == np.arange(n)).all()
    ids = table.column("id").to_numpy()
    assert ((ids * 7919) % n == np.arange(n)).all()
    assert pc.all(pc.equal(pc.utf8_length(table.column("pad")), 100)).as_py()
    assert_bounded(limited, n * 120 / 2**20)


def test_an_aggregation_with_ten_million_keys_spills_and_is_right(spark, limited):
    n = 10_000_000  # ~90 bytes a row: key, id and a 50-character string
    groups = (
        spark.range(n)
        .select(((F.col("id") * 7) % n).alias("k"), F.col("id"), F.repeat(F.lit("y"), 50).alias("pad"))
        .groupBy("k")
        .agg(F.count("*").alias("c"), F.sum("id").alias("s"), F.max("pad").alias("m"))
    )
    got = groups.agg(F.count("*"), F.sum("c"), F.sum("s"), F.min("m"), F.max("k")).first()
    assert tuple(got) == (n, n, n * (n - 1) // 2, "y" * 50, n - 1)
    assert_bounded(limited, n * 90 / 2**20)


def test_a_join_of_three_times_the_limit_is_right(spark, limited):
    n = 4_000_000
    left = spark.range(n).selectExpr("id", "repeat('a', 100) AS pa")
    right = spark.range(n).selectExpr("id * 2 AS id", "repeat('b', 100) AS pb")
    joined = left.join(right, "id").where("length(pa) + length(pb) = 200")
    got = joined.agg(F.count("*"), F.sum("id"), F.max("id")).first()
    # the even ids below n
    evens = range(0, n, 2)
    assert tuple(got) == (len(evens), sum(evens), evens[-1])
    assert_bounded(limited, 2 * n * 120 / 2**20)


def test_a_query_that_cannot_fit_fails_naming_the_limit_and_the_server_goes_on(spark, limited):
    # one group holding every row: nothing to spill
    df = spark.range(5_000_000).agg(F.collect_list(F.repeat(F.lit("z"), 100)).alias("all"))
    with pytest.raises(SparkException) as e:
        df.collect()
    assert e.value.getCondition() == "UNABLE_TO_ACQUIRE_MEMORY"
    assert e.value.getSqlState() == "53200"
    assert f"{LIMIT_MIB}.0 MiB" in str(e.value)
    assert limited["proc"].poll() is None
    assert spark.range(1000).agg(F.sum("id")).first()[0] == 499500
