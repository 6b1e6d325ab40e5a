"""VARIANT values through the DataFrame API: a variant reaches PySpark as a VariantVal of the
right type, show() prints it as JSON, variant_get takes a path per row. (Spark's answers for the
variant functions in SQL are in test_sql_cases.py, topic `variant`.)"""

import decimal

from pyspark.sql import functions as F
from pyspark.sql.types import VariantType, VariantVal


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
