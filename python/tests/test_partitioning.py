"""repartition / repartitionByRange / coalesce are kept in the physical plan (DataFusion would
drop a repartition nothing above needs), and sampling is deterministic for a seed."""

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
