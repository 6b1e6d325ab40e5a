"""Spark's VARIANT functions give Apache Spark 4.0.1's answers (python/spark_reference/variant.py
and its committed output): parse_json / try_parse_json and their errors, to_json of variants,
schema_of_variant and schema_of_variant_agg, variant_get / try_variant_get over paths and casts,
is_variant_null, to_variant_object; each query's column names, rows and error conditions. The
DataFrame API cases check that a variant reaches PySpark as a VariantVal and prints as JSON."""

import datetime
import decimal
import json
from pathlib import Path

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import VariantType, VariantVal

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "variant.out"
CASES = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]


def plain(v):
    """The form the reference script writes values in."""
    if isinstance(v, VariantVal):
        return {"variant": v.toJson()}
    if isinstance(v, Row):
        return {k: plain(x) for k, x in v.asDict().items()}
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, (datetime.date, datetime.datetime, decimal.Decimal)):
        return str(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


@pytest.fixture(autouse=True)
def los_angeles(spark):
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    yield
    spark.conf.unset("spark.sql.session.timeZone")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["sql"][7:60])
def test_variant_sql_is_sparks(spark, case):
    if "error" in case:
        with pytest.raises(PySparkException) as e:
            spark.sql(case["sql"]).collect()
        assert e.value.getCondition() == case["error"]
        return
    df = spark.sql(case["sql"])
    rows = [[plain(x) for x in r] for r in df.collect()]
    assert rows == case["rows"]
    assert df.columns == case["columns"]


def test_a_variant_reaches_pyspark_as_a_variant(spark):
    df = spark.createDataFrame([(1, '{"name": "Alice", "tags": [1, 2.5]}')], ("key", "value"))
    v = df.select(F.parse_json("value").alias("v"))
    assert v.schema["v"].dataType == VariantType()
    got = v.first()["v"]
    assert isinstance(got, VariantVal)
    assert got.toPython() == {"name": "Alice", "tags": [1, decimal.Decimal("2.5")]}


def test_show_prints_a_variant_as_json(spark):
    df = spark.createDataFrame([('{"b": 2, "a": [true]}',)], ["j"])
    text = df.select(F.parse_json("j")).select(
        F.col("parse_json(j)"), F.to_json("parse_json(j)").alias("t")
    )._show_string(truncate=False)
    assert text.splitlines()[1] == "|parse_json(j)     |t                 |"
    assert text.splitlines()[3] == '|{"a":[true],"b":2}|{"a":[true],"b":2}|'


def test_variant_get_takes_a_path_per_row(spark):
    df = spark.createDataFrame(
        [('{"a": 1, "b": "x"}', "$.a"), ('{"a": 1, "b": "x"}', "$.b"), ("[5, 6]", "$[1]")],
        ["j", "p"],
    )
    got = df.select(F.try_variant_get(F.parse_json("j"), F.col("p"), "int").alias("r"))
    assert [r.r for r in got.collect()] == [1, None, 6]
