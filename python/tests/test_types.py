"""Every Spark SQL type through createDataFrame, the server and back, with the names Spark
reports in dtypes and the values PySpark returns."""

import datetime
import datetime as dt
import decimal

import pytest
from pyspark.errors import NumberFormatException

from pyspark.sql import Row
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DateType,
    DayTimeIntervalType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)


def test_all_types_round_trip(spark):
    schema = StructType(
        [
            StructField("by", ByteType()),
            StructField("sh", ShortType()),
            StructField("i", IntegerType()),
            StructField("l", LongType()),
            StructField("f", FloatType()),
            StructField("d", DoubleType()),
            StructField("dec", DecimalType(12, 3)),
            StructField("s", StringType()),
            StructField("bin", BinaryType()),
            StructField("b", BooleanType()),
            StructField("dt", DateType()),
            StructField("ts", TimestampType()),
            StructField("ntz", TimestampNTZType()),
            StructField("iv", DayTimeIntervalType()),
            StructField("arr", ArrayType(IntegerType())),
            StructField("m", MapType(StringType(), LongType())),
            StructField("st", StructType([StructField("x", IntegerType()), StructField("y", StringType())])),
        ]
    )
    row = (
        1, 2, 3, 4, 1.5, 2.25, decimal.Decimal("123.456"), "s", b"\x01\x02", True,
        datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 23, 59, 58),
        datetime.datetime(2024, 1, 1, 0, 0, 1), datetime.timedelta(days=1, seconds=5),
        [1, None, 3], {"k": 7}, Row(x=1, y="z"),
    )
    df = spark.createDataFrame([row, tuple([None] * len(row))], schema)
    assert df.dtypes == [
        ("by", "tinyint"), ("sh", "smallint"), ("i", "int"), ("l", "bigint"), ("f", "float"),
        ("d", "double"), ("dec", "decimal(12,3)"), ("s", "string"), ("bin", "binary"),
        ("b", "boolean"), ("dt", "date"), ("ts", "timestamp"), ("ntz", "timestamp_ntz"),
        ("iv", "interval day to second"), ("arr", "array<int>"), ("m", "map<string,bigint>"),
        ("st", "struct<x:int,y:string>"),
    ]
    back = df.collect()
    assert tuple(back[0]) == row
    assert all(v is None for v in back[1])


def test_nested_access(spark):
    df = spark.createDataFrame([([10, 20], {"a": 1}, Row(x=5))], "arr array<int>, m map<string,int>, st struct<x:int>")
    got = df.select(df.arr[1], df.m["a"], df.st.x).first()
    assert tuple(got) == (20, 1, 5)
    assert df.select("st.x").first().x == 5


def test_spark_type_names_and_cast_rules_in_sql_text(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    q = """select cast(2 as long) l, cast(1 as short) s, cast(1 as byte) b,
                  cast('2024-01-05 10:00:00' as timestamp) t,
                  cast('2024-01-05 10:00:00' as timestamp_ntz) n,
                  cast(cast('2024-01-05 10:00:00' as timestamp) as long) e,
                  cast(1.5 as string) str, try_cast('x' as int) bad"""
    df = spark.sql(q)
    assert [t for _, t in df.dtypes] == [
        "bigint", "smallint", "tinyint", "timestamp", "timestamp_ntz", "bigint", "string", "int",
    ]
    row = df.first()
    epoch = int(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc).timestamp())
    assert (row.l, row.s, row.b, row.e, row.str, row.bad) == (2, 1, 1, epoch, "1.5", None)
    # the same rules in expression text
    assert spark.range(1).selectExpr("cast(id + 7 as long) as x", "cast(0 as timestamp) as z").dtypes == [
        ("x", "bigint"), ("z", "timestamp"),
    ]
    # without ANSI a bad cast is null; with it (Spark 4's default) the query fails
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert spark.sql("select cast('x' as int) v").first().v is None
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "true")
    with pytest.raises(NumberFormatException) as e:
        spark.sql("select cast('x' as int) v").collect()
    assert e.value.getCondition() == "CAST_INVALID_INPUT"


def test_maps_built_from_pairs_and_select_items_without_as(spark):
    from pyspark.sql import functions as F

    df = spark.range(2).select(F.create_map(F.lit("k"), F.col("id")).alias("m"), F.create_map("id", F.lit(True)))
    assert df.dtypes == [("m", "map<string,bigint>"), ("map(id, true)", "map<bigint,boolean>")]
    assert [tuple(r) for r in df.collect()] == [({"k": 0}, {0: True}), ({"k": 1}, {1: True})]
    # map/array/struct built in SQL text; an alias may follow an expression without AS
    q = spark.sql("select map('a', 1) m, array(1, 2) x, named_struct('a', 1) s")
    assert [t.split("<")[0] for _, t in q.dtypes] == ["map", "array", "struct"]
    assert tuple(q.first()) == ({"a": 1}, [1, 2], (1,))
    e = spark.range(2).selectExpr("id * 2 doubled", "map('a', id) as m", "cast(id as string)")
    assert e.columns == ["doubled", "m", "id"]
    assert [tuple(r) for r in e.collect()] == [(0, {"a": 0}, "0"), (2, {"a": 1}, "1")]
    # a cast inside a subquery keeps the name the outer query refers to
    nested = spark.sql(
        "select s from (select cast(v * 1.5 as string) s from values (1), (2) as t(v)) where s > '2'"
    )
    assert [r.s for r in nested.collect()] == ["3.0"]


def test_casting_bytes_to_a_string_decodes_utf8_as_spark_does(spark):
    """Kafka's value is binary and users write `from_json(col("value").cast("string"), ...)`:
    the cast decodes UTF-8 (show()'s hex is only how bytes are displayed); a malformed byte
    becomes U+FFFD, as Java decodes it."""
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(bytearray(b'{"a": 1, "b": "\xc3\xa9t\xc3\xa9"}'),), (bytearray(b"x\xffy"),), (None,)], "v binary")
    texts = [r[0] for r in df.select(F.col("v").cast("string")).collect()]
    assert texts == ['{"a": 1, "b": "\u00e9t\u00e9"}', "x\ufffdy", None]
    parsed = df.select(F.from_json(F.col("v").cast("string"), "a int, b string").alias("j")).collect()
    assert (parsed[0].j.a, parsed[0].j.b) == (1, "\u00e9t\u00e9")
    assert spark.sql("SELECT CAST(X'7B7D' AS STRING) AS s").collect()[0].s == "{}"
    # show() still displays bytes as hex
    assert "[78 FF 79]" in df._show_string(truncate=False)


def test_a_null_cast_to_string_stays_null(spark):
    """`CAST(NULL AS STRING)` and `lit(None).cast("string")` are null, not the text 'NULL'."""
    from pyspark.sql import functions as F

    row = spark.sql("SELECT CAST(NULL AS STRING) AS s, CAST(NULL AS STRING) IS NULL AS n").collect()[0]
    assert (row.s, row.n) == (None, True)
    assert spark.range(1).select(F.lit(None).cast("string").alias("x")).collect()[0].x is None
