"""Hot keys (seed 002's viral item: one key holding a large share of the rows). A distinct count
beside plain counts and maxima is aggregated in two levels — first on (key, distinct value),
spread over all partitions by hash, then on the key — so the hot key's distinct values are not
merged by the one partition that owns the key; `spark.spate.aggregate.splitDistinct=false`
keeps DataFusion's one-level plan. Both give the answers computed here in Python. The time
each takes on 10 million events is in bench/ (hot_key_agg, hot_key_agg_unsplit)."""

import random
from collections import defaultdict

import pytest
from pyspark.sql import functions as F

HOT = "i0"


@pytest.fixture(scope="module")
def events(spark):
    rng = random.Random(7)
    rows = []
    for n in range(3000):
        item = HOT if rng.random() < 0.3 else f"i{rng.randrange(1, 40)}"
        user = None if n % 97 == 0 else f"u{rng.randrange(0, 500)}"
        amount = None if n % 13 == 0 else round(rng.uniform(1, 100), 2)
        rows.append((user, item, amount))
    return rows, spark.createDataFrame(rows, "user_id string, item_id string, amount double")


def expected(rows):
    out = defaultdict(lambda: [0, set(), None, 0])
    for user, item, amount in rows:
        g = out[item]
        g[0] += 1
        if user is not None:
            g[1].add(user)
        if amount is not None:
            g[2] = amount if g[2] is None else max(g[2], amount)
            g[3] += 1
    return {k: (n, len(users), top, amounts) for k, (n, users, top, amounts) in out.items()}


def per_item(df):
    return df.groupBy("item_id").agg(
        F.count("*").alias("events"),
        F.countDistinct("user_id").alias("users"),
        F.max("amount").alias("max_amount"),
        F.count("amount").alias("amounts"),
    )


def aggregations(df):
    """The number of aggregation operators in the physical plan of `df`."""
    return df._explain_string(extended=False).count("AggregateExec")


@pytest.mark.parametrize("split", ["true", "false"])
def test_hot_key_distinct_aggregation(spark, events, split):
    rows, df = events
    spark.conf.set("spark.spate.aggregate.splitDistinct", split)
    try:
        q = per_item(df)
        got = {r["item_id"]: (r["events"], r["users"], r["max_amount"], r["amounts"]) for r in q.collect()}
        assert got == expected(rows)
        assert got[HOT][0] > 0.25 * len(rows)
        # two levels (partial and final on (item, user), then on item) or one
        assert aggregations(q) == (4 if split == "true" else 2)
        assert [f.dataType.simpleString() for f in q.schema.fields] == ["string", "bigint", "bigint", "double", "bigint"]
    finally:
        spark.conf.unset("spark.spate.aggregate.splitDistinct")


def test_global_distinct_aggregation_over_no_rows(spark, events):
    _, df = events
    out = df.where("item_id = 'none'").agg(F.count("*"), F.countDistinct("user_id"), F.max("amount")).collect()
    assert list(out[0]) == [0, 0, None]


def test_split_distinct_setting_is_validated(spark):
    with pytest.raises(Exception, match="INVALID_CONF_VALUE"):
        spark.conf.set("spark.spate.aggregate.splitDistinct", "maybe")
