"""Generators — explode, posexplode, inline, stack and their _outer forms — in the DataFrame API
and in SQL text (generator_cases.py): each case's output columns (name and type) and rows are
compared with Apache Spark 4.0.1's (python/spark_reference/generators.py and .out), errors by
their Spark error class."""

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from generator_cases import CASES, ROWS, SCHEMA, SQL_CASES, answer

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "generators.out"
SPARK = {c.get("expr") or c["sql"]: c for c in map(json.loads, REFERENCE.read_text().splitlines())}

# case -> what is wrong today
GAPS = {}


@pytest.fixture(scope="module")
def df(spark):
    frame = spark.createDataFrame(ROWS, SCHEMA)
    frame.createOrReplaceTempView("g")
    return frame


def check(expected, make):
    if "error" in expected:
        with pytest.raises(Exception) as info:
            make().collect()
        assert expected["error"] in str(info.value)
        return
    got = answer(make())
    assert got["columns"] == expected["columns"]
    assert got["rows"] == expected["rows"]


def cases(texts):
    out = []
    for text in texts:
        marks = [pytest.mark.xfail(strict=True, reason=GAPS[text])] if text in GAPS else []
        out.append(pytest.param(text, id=text, marks=marks))
    return out


@pytest.mark.parametrize("text", cases(CASES))
def test_dataframe_generator(df, text):
    check(SPARK[text], lambda: eval(text, {"F": F, "df": df}))


@pytest.mark.parametrize("query", cases(SQL_CASES))
def test_sql_generator(spark, df, query):
    check(SPARK[query], lambda: spark.sql(query))


def test_salted_join_spreads_the_hot_key(spark):
    """Seed 002's salting fix: the small side is exploded over the salt values and joined on
    (key, salt); the join's answer is the unsalted join's."""
    events = spark.range(0, 1000).select(
        F.when(F.col("id") % 10 < 7, F.lit(1)).otherwise(F.col("id") % 50).alias("item_id"),
        F.col("id").alias("event_id"),
    )
    items = spark.range(0, 50).select(F.col("id").alias("item_id"), (F.col("id") * 2).alias("price"))
    salted_events = events.withColumn("salt", (F.col("event_id") % 4).cast("int"))
    salted_items = items.withColumn("salt", F.explode(F.array(*[F.lit(i) for i in range(4)])))
    salted = salted_events.join(salted_items, ["item_id", "salt"]).groupBy("item_id").agg(F.sum("price").alias("p"))
    plain = events.join(items, "item_id").groupBy("item_id").agg(F.sum("price").alias("p"))
    expected = {}
    for e in range(1000):
        item = 1 if e % 10 < 7 else e % 50
        expected[item] = expected.get(item, 0) + item * 2
    assert {r["item_id"]: r["p"] for r in salted.collect()} == expected
    assert {r["item_id"]: r["p"] for r in plain.collect()} == expected
