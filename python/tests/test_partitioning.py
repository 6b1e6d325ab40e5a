"""repartition / repartitionByRange / coalesce are kept in the physical plan (DataFusion would
drop a repartition nothing above needs), and sampling is deterministic for a seed."""

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F


def physical(df):
    return df._explain_string(mode="simple")


def test_requested_repartitions_stay_in_the_plan(spark):
    df = spark.range(0, 400)
    assert "RoundRobinBatch(4)" in physical(df.repartition(4))
    assert "Hash([id@0], 3)" in physical(df.repartition(3, "id"))
    assert "RoundRobinBatch(1)" in physical(df.coalesce(1))


def test_range_split_points_come_from_sorted_keys(spark):
    # 400 rows, 4 partitions: every key is looked at, so the split points are exact quartiles
    plan = physical(spark.range(0, 400).repartitionByRange(4, "id"))
    assert "Range([id@0 ASC], [(100), (200), (300)], 4)" in plan
    plan = physical(spark.range(0, 200).repartitionByRange(2, F.col("id").desc()))
    assert "Range([id@0 DESC NULLS LAST], [(99)], 2)" in plan
    # results are unchanged by repartitioning
    got = sorted(r.id for r in spark.range(0, 400).repartitionByRange(4, "id").collect())
    assert got == list(range(400))


def test_sample_is_deterministic_for_a_seed(spark):
    df = spark.range(1000)
    a = {r.id for r in df.sample(fraction=0.3, seed=7).collect()}
    b = {r.id for r in df.sample(fraction=0.3, seed=7).collect()}
    c = {r.id for r in df.sample(fraction=0.3, seed=8).collect()}
    assert a == b and a != c
    assert 200 < len(a) < 400


def test_random_split_is_disjoint_and_complete(spark):
    parts = spark.range(1000).randomSplit([0.5, 0.3, 0.2], seed=11)
    ids = [{r.id for r in p.collect()} for p in parts]
    assert sum(len(x) for x in ids) == 1000
    assert set().union(*ids) == set(range(1000))
    assert 400 < len(ids[0]) < 600


def test_sample_with_replacement_repeats_rows_poisson_times(spark):
    import math
    from collections import Counter

    n, fraction = 20_000, 2.0
    df = spark.range(n)
    ids = [r.id for r in df.sample(withReplacement=True, fraction=fraction, seed=11).collect()]
    again = [r.id for r in df.sample(withReplacement=True, fraction=fraction, seed=11).collect()]
    assert sorted(ids) == sorted(again)  # the same seed gives the same sample
    copies = Counter(ids)
    # each row appears k ~ Poisson(2) times: mean 2, P(k = 0) = e^-2, P(k = 2) = 2 e^-2
    assert abs(len(ids) / n - fraction) < 0.05
    missing = (n - len(copies)) / n
    assert abs(missing - math.exp(-fraction)) < 0.02
    twice = sum(1 for c in copies.values() if c == 2) / n
    assert abs(twice - 2 * math.exp(-fraction)) < 0.02
    small = len(df.sample(True, 0.1, 5).collect())
    assert abs(small / n - 0.1) < 0.02


# --- spark_partition_id() and monotonically_increasing_id(): expected values from Spark 4.0.1
# (python/spark_reference/partitioning.py and .out)

import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "partitioning.out"
SPARK = {c["case"]: c for c in map(json.loads, REFERENCE.read_text().splitlines())}


def test_partition_ids_are_named_and_typed_as_spark(spark):
    ids = spark.range(0, 1000).repartition(3).select(
        F.spark_partition_id(), F.monotonically_increasing_id()
    )
    expected = SPARK["id_names"]
    assert ids.columns == expected["columns"]
    assert [f.dataType.simpleString() for f in ids.schema] == expected["types"]
    assert [f.nullable for f in ids.schema] == expected["nullable"]
    sql = spark.sql("SELECT spark_partition_id(), monotonically_increasing_id() FROM range(1)")
    assert sql.columns == SPARK["sql_names"]["columns"]


def test_partition_ids_follow_repartition_and_range_partitions(spark):
    counts = sorted(
        tuple(r)
        for r in spark.range(0, 1000)
        .repartition(3)
        .groupBy(F.spark_partition_id().alias("p"))
        .count()
        .collect()
    )
    # Spark deals 333/334/333 (its round robin starts at a random partition); each gets a third
    assert [p for p, _ in counts] == [p for p, _ in SPARK["round_robin_counts"]["counts"]]
    assert all(abs(c - 1000 / 3) < 1 for _, c in counts)
    rows = (
        spark.range(0, 10, 1, 2)
        .select("id", F.spark_partition_id().alias("p"), F.monotonically_increasing_id().alias("m"))
        .collect()
    )
    assert [list(r) for r in rows] == SPARK["range_two_partitions"]["rows"]
    one = spark.range(0, 100).coalesce(1).select(F.spark_partition_id().alias("p")).distinct()
    assert [r.p for r in one.collect()] == SPARK["coalesce_one"]["ids"]


def test_partition_ids_in_filters_and_sql(spark):
    df = spark.range(0, 1000).repartition(4)
    assert df.filter(F.spark_partition_id() == 1).count() == 250
    got = spark.sql(
        "SELECT spark_partition_id() AS p, count(*) AS n FROM range(0, 100, 1, 4) GROUP BY 1 ORDER BY 1"
    ).collect()
    assert [(r.p, r.n) for r in got] == [(0, 25), (1, 25), (2, 25), (3, 25)]
    # ids are unique and increase within a partition: partition << 33 | row number
    m = [r.m for r in spark.range(0, 20, 1, 2).select(F.monotonically_increasing_id().alias("m")).collect()]
    assert m == list(range(10)) + [(1 << 33) + i for i in range(10)]


def test_shuffle_partitions_bounds_partitions_after_a_shuffle(spark):
    df = spark.range(0, 10000).withColumn("k", F.col("id") % 100)

    def partitions():
        agg = df.groupBy("k").count().select(F.spark_partition_id().alias("p")).distinct()
        return len(agg.collect())

    cores = len(os.sched_getaffinity(0))  # the CPUs the server may use, as Rust counts them
    try:
        for n in (1, 2):
            spark.conf.set("spark.sql.shuffle.partitions", str(n))
            assert partitions() == min(n, cores)
    finally:
        spark.conf.unset("spark.sql.shuffle.partitions")
    # the default (200) is coalesced to the cores, as adaptive execution coalesces small shuffles
    assert partitions() == min(200, cores)


def test_seeded_samples_keep_sparks_rows(spark):
    # Spark's samplers per partition: Bernoulli over XORShiftRandom(seed + partition), Poisson
    # over Commons Math's Well19937c seeded from java.util.Random(seed), sampleBy over rand(seed)
    three = spark.range(0, 30, 1, 3)
    rows = [r.id for r in three.sample(fraction=0.4, seed=7).collect()]
    assert rows == SPARK["sample_rows"]["rows"]
    rows = [r.id for r in three.sample(withReplacement=True, fraction=0.8, seed=11).collect()]
    assert rows == SPARK["sample_replacement_rows"]["rows"]
    keyed = spark.range(0, 60, 1, 2).select("id", (F.col("id") % 3).alias("key"))
    rows = [r.id for r in keyed.sampleBy("key", {0: 0.5, 2: 0.3}, seed=5).collect()]
    assert rows == SPARK["sample_by_rows"]["rows"]
    splits = [[r.id for r in s.collect()] for s in three.randomSplit([1.0, 2.0], 24)]
    assert splits == SPARK["random_split_rows"]["rows"]


def test_range_partitions_put_a_bound_key_below(spark):
    dup = spark.createDataFrame([(k,) for k in [1, 1, 1, 2, 3, 3, 5, 8, 8]], "k int")
    got = dup.repartitionByRange(3, "k").select("k", F.spark_partition_id()).collect()
    assert sorted([list(r) for r in got]) == SPARK["range_partition_of_keys"]["rows"]


def test_sort_within_partitions_keeps_the_partitions(spark):
    # Spark's local sort: partition 0 holds 0..4 and partition 1 holds 5..9, each sorted alone
    df = spark.range(0, 10, 1, 2).sortWithinPartitions(F.col("id").desc())
    got = [list(r) for r in df.select("id", F.spark_partition_id()).collect()]
    assert got == [[i, 0] for i in range(4, -1, -1)] + [[i, 1] for i in range(9, 4, -1)]


def test_repartition_by_id_places_rows_by_their_number(spark):
    # Spark's repartitionById: partition pmod(id, n); a null id goes to partition 0
    df = spark.createDataFrame([(i, p) for i, p in enumerate([2, 0, -1, None, 7, 1])], "i int, p int")
    got = df.repartitionById(3, "p").select("i", F.spark_partition_id().alias("part")).collect()
    placed = {r.i: r.part for r in got}
    assert placed == {0: 2, 1: 0, 2: 2, 3: 0, 4: 1, 5: 1}
    with pytest.raises(AnalysisException):
        spark.range(3).withColumn("p", F.lit(1.5)).repartitionById(2, "p").collect()


def test_local_checkpoint_keeps_the_rows_computed_once(spark):
    # rand() in SQL text draws a new seed each time the plan is resolved...
    df = spark.range(0, 6, 1, 2).select("id", F.expr("rand()").alias("r"))
    assert [tuple(r) for r in df.collect()] != [tuple(r) for r in df.collect()]
    # ...the checkpoint computed it once
    kept = df.localCheckpoint()
    first = [tuple(r) for r in kept.collect()]
    assert [tuple(r) for r in kept.collect()] == first
    assert [r.id for r in kept.orderBy("id").collect()] == list(range(6))
    assert kept.filter("id > 3").count() == 2


def test_shuffle_with_a_seed_gives_sparks_permutations(spark):
    # one Mersenne Twister per partition (seed + partition index), drawn row after row
    arrays = spark.range(0, 6, 1, 2).select(
        F.shuffle(F.array(*[F.lit(i) for i in range(1, 6)]), F.lit(11)).alias("s")
    )
    assert [r.s for r in arrays.collect()] == SPARK["shuffle_rows"]["rows"]
    # Spark's documented examples (a null element moves like any other)
    one = spark.sql("SELECT ARRAY(1, 20, NULL, 5) AS data").select(F.shuffle("data", 234))
    assert one.columns == ["shuffle(data)"]
    assert one.first()[0] == [None, 5, 20, 1]
    assert spark.sql("SELECT CAST(NULL AS ARRAY<INT>) a").select(F.shuffle("a", 1)).first()[0] is None
