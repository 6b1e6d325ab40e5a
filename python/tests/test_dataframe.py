"""Batch DataFrame relations and expressions, with results computed independently in the test
(Python over the same input rows) or taken from Spark's documented behaviour."""

import datetime
import decimal

import pandas as pd
import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

ROWS = [("BTC", 1, 100.0), ("BTC", 2, 110.0), ("ETH", 1, 10.0), ("ETH", 2, None), ("SOL", 1, 5.0)]


@pytest.fixture
def prices(spark):
    return spark.createDataFrame(ROWS, ["symbol", "t", "close"])


def test_create_dataframe_from_tuples_infers_spark_types(prices):
    assert prices.dtypes == [("symbol", "string"), ("t", "bigint"), ("close", "double")]
    assert prices.count() == len(ROWS)
    assert [tuple(r) for r in prices.collect()] == ROWS


def test_create_dataframe_with_ddl_and_struct_schema(spark):
    df = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    assert df.dtypes == [("id", "int"), ("name", "string")]
    schema = StructType([StructField("x", LongType(), False), StructField("y", DecimalType(10, 2), True)])
    df2 = spark.createDataFrame([(1, decimal.Decimal("1.25"))], schema)
    assert df2.schema == schema
    assert df2.collect() == [Row(x=1, y=decimal.Decimal("1.25"))]


def test_create_dataframe_from_pandas(spark):
    pdf = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    df = spark.createDataFrame(pdf)
    assert df.dtypes == [("a", "bigint"), ("b", "string")]
    assert df.toPandas()["a"].tolist() == [1, 2, 3]
    assert df.filter(F.col("b").isNull()).count() == 1


def test_select_names_follow_spark(prices):
    df = prices.select(
        "symbol",
        F.col("t") + 1,
        (F.col("close") * 2).alias("double_close"),
        F.col("t").cast("int"),
        F.lit(1),
        F.upper("symbol"),
        F.col("close") > 50,
        F.when(F.col("close") > 50, "high").otherwise("low"),
    )
    assert df.columns == [
        "symbol",
        "(t + 1)",
        "double_close",
        # a cast of a column is named after it (python/spark_reference/dataframe_names.out)
        "t",
        "1",
        "upper(symbol)",
        "(close > 50)",
        "CASE WHEN (close > 50) THEN high ELSE low END",
    ]


def test_cast_output_names(spark):
    # Spark 4 names an output cast of a column after the column, anything else in full
    # (python/spark_reference/dataframe_names.out)
    casts = spark.createDataFrame([(1, 1.0, "x")], ["int", "float", "s"])
    selected = casts.select(
        F.col("float").cast("int"),
        casts.s.try_cast("long"),
        (F.col("int") + 1).cast("string"),
        F.col("int").cast("string").cast("int"),
        F.lit(1).cast("string"),
        F.expr("CAST(int AS STRING)"),
        F.col("int").astype("double"),
    )
    assert selected.columns == ["float", "s", "CAST((int + 1) AS STRING)", "int", "CAST(1 AS STRING)", "int", "int"]
    assert casts.selectExpr("CAST(int AS STRING)", "cast(float as int)").columns == ["int", "float"]
    assert casts.groupBy(F.col("s").cast("string")).count().columns == ["s", "count"]
    assert casts.select(F.upper(F.col("s").cast("string"))).columns == ["upper(CAST(s AS STRING))"]


def test_filter_sort_limit_offset(prices):
    df = prices.filter(F.col("close").isNotNull()).orderBy(F.col("close").desc())
    expected = sorted([r for r in ROWS if r[2] is not None], key=lambda r: -r[2])
    assert [tuple(r) for r in df.collect()] == expected
    assert [tuple(r) for r in df.limit(2).collect()] == expected[:2]
    assert [tuple(r) for r in df.offset(1).limit(2).collect()] == expected[1:3]


def test_sort_nulls_first_and_last(prices):
    asc = [r.close for r in prices.orderBy(F.col("close").asc()).collect()]
    assert asc[0] is None  # Spark: ascending puts nulls first
    desc = [r.close for r in prices.orderBy(F.col("close").desc()).collect()]
    assert desc[-1] is None  # descending puts nulls last
    last = [r.close for r in prices.orderBy(F.col("close").asc_nulls_last()).collect()]
    assert last[-1] is None


def test_tail_and_first(prices):
    ordered = prices.orderBy("symbol", "t")
    expected = sorted(ROWS, key=lambda r: (r[0], r[1]))
    assert [tuple(r) for r in ordered.tail(2)] == expected[-2:]
    assert tuple(ordered.first()) == expected[0]


def test_with_columns_rename_drop_todf(prices):
    df = prices.withColumn("t", F.col("t") * 10).withColumn("flag", F.lit(True))
    assert df.columns == ["symbol", "t", "close", "flag"]
    assert sorted(r.t for r in df.collect()) == sorted(r[1] * 10 for r in ROWS)
    df = df.withColumnRenamed("close", "price").drop("flag")
    assert df.columns == ["symbol", "t", "price"]
    assert df.toDF("a", "b", "c").columns == ["a", "b", "c"]
    assert prices.withColumns({"x": F.lit(1), "y": F.col("t")}).columns == ["symbol", "t", "close", "x", "y"]


def test_group_by_aggregates(prices):
    df = prices.groupBy("symbol").agg(
        F.count("*"), F.sum("close"), F.avg("close"), F.max("t"), F.countDistinct("t")
    )
    assert df.columns == ["symbol", "count(1)", "sum(close)", "avg(close)", "max(t)", "count(DISTINCT t)"]
    got = {r.symbol: tuple(r)[1:] for r in df.collect()}
    for sym in {r[0] for r in ROWS}:
        rows = [r for r in ROWS if r[0] == sym]
        closes = [r[2] for r in rows if r[2] is not None]
        expected = (len(rows), sum(closes), sum(closes) / len(closes), max(r[1] for r in rows), len({r[1] for r in rows}))
        assert got[sym] == pytest.approx(expected)


def test_global_aggregate_and_expression_over_aggregates(prices):
    row = prices.select(F.sum("close").alias("s"), (F.sum("close") / F.count("close")).alias("mean")).first()
    closes = [r[2] for r in ROWS if r[2] is not None]
    assert row.s == pytest.approx(sum(closes))
    assert row.mean == pytest.approx(sum(closes) / len(closes))


def test_rollup_and_cube(prices):
    rolled = prices.rollup("symbol").agg(F.count("*").alias("n")).collect()
    totals = {r.symbol: r.n for r in rolled}
    assert totals[None] == len(ROWS)
    assert totals["BTC"] == 2
    cubed = prices.cube("symbol", "t").count().collect()
    assert len(cubed) == len({(r[0], r[1]) for r in ROWS}) + 3 + 2 + 1


def test_joins(spark, prices):
    meta = spark.createDataFrame([("BTC", "bitcoin"), ("ETH", "ether"), ("DOGE", "doge")], ["symbol", "name"])
    inner = prices.join(meta, "symbol")
    assert inner.columns == ["symbol", "t", "close", "name"]
    assert inner.count() == 4
    left = prices.join(meta, on="symbol", how="left")
    assert left.filter(F.col("name").isNull()).count() == 1
    full = prices.join(meta, "symbol", "full")
    assert sorted({r.symbol for r in full.collect()}) == ["BTC", "DOGE", "ETH", "SOL"]
    semi = prices.join(meta, "symbol", "left_semi")
    assert semi.columns == prices.columns and semi.count() == 4
    anti = prices.join(meta, "symbol", "left_anti")
    assert [r.symbol for r in anti.collect()] == ["SOL"]
    cond = prices.join(meta, prices["symbol"] == meta["symbol"], "inner")
    assert cond.count() == 4 and len(cond.columns) == 5
    assert prices.crossJoin(meta).count() == len(ROWS) * 3


def test_self_join_reference_is_ambiguous(prices):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException) as e:
        prices.join(prices, prices["t"] == prices["t"]).collect()
    assert e.value.getCondition() == "AMBIGUOUS_REFERENCE"


def test_set_operations(spark):
    a = spark.createDataFrame([(1,), (2,), (2,), (3,)], ["x"])
    b = spark.createDataFrame([(2,), (3,), (4,)], ["x"])
    assert sorted(r.x for r in a.union(b).collect()) == [1, 2, 2, 2, 3, 3, 4]
    assert sorted(r.x for r in a.intersect(b).collect()) == [2, 3]
    assert sorted(r.x for r in a.subtract(b).collect()) == [1]
    assert sorted(r.x for r in a.exceptAll(b).collect()) == [1, 2]
    assert sorted(r.x for r in a.intersectAll(b).collect()) == [2, 3]
    c = spark.createDataFrame([(5, "z")], ["y", "x"])
    by_name = a.select(F.col("x").cast("string").alias("x"), F.lit(0).alias("y")).unionByName(c)
    assert by_name.columns == ["x", "y"]
    assert ("z", 5) in [tuple(r) for r in by_name.collect()]


def test_distinct_and_drop_duplicates(prices):
    assert prices.select("symbol").distinct().count() == 3
    dedup = prices.dropDuplicates(["symbol"])
    assert dedup.count() == 3
    assert dedup.columns == prices.columns


def test_range(spark):
    df = spark.range(0, 10, 3)
    assert df.dtypes == [("id", "bigint")]
    assert [r.id for r in df.collect()] == [0, 3, 6, 9]
    assert spark.range(5).count() == 5


def test_show_string(spark, capsys):
    spark.createDataFrame([(1, "a"), (22, None)], ["id", "name"]).show()
    out = capsys.readouterr().out
    assert out == (
        "+---+----+\n"
        "| id|name|\n"
        "+---+----+\n"
        "|  1|   a|\n"
        "| 22|NULL|\n"
        "+---+----+\n\n"
    )


def test_show_truncates_and_limits(spark, capsys):
    spark.createDataFrame([("x" * 30,), ("y",)], ["s"]).show(1)
    out = capsys.readouterr().out
    assert "|xxxxxxxxxxxxxxxxx...|" in out
    assert "only showing top 1 row" in out


def test_schema_and_print_schema(spark, capsys):
    df = spark.createDataFrame([(1, "a", 1.5)], "id INT, name STRING, score DOUBLE")
    df.printSchema()
    out = capsys.readouterr().out
    assert out == (
        "root\n"
        " |-- id: integer (nullable = true)\n"
        " |-- name: string (nullable = true)\n"
        " |-- score: double (nullable = true)\n\n"
    )
    assert df.schema == StructType(
        [StructField("id", IntegerType()), StructField("name", StringType()), StructField("score", DoubleType())]
    )


def test_select_expr_and_expr(prices):
    df = prices.selectExpr("symbol", "t * 2 AS t2", "upper(symbol) AS up")
    assert df.columns == ["symbol", "t2", "up"]
    assert sorted(r.t2 for r in df.collect()) == sorted(r[1] * 2 for r in ROWS)
    assert prices.filter(F.expr("close > 50")).count() == 2


def test_dates_and_timestamps_round_trip(spark):
    d = datetime.date(2024, 3, 1)
    ts = datetime.datetime(2024, 3, 1, 12, 30, 15)
    df = spark.createDataFrame([(d, ts)], ["d", "ts"])
    assert df.dtypes == [("d", "date"), ("ts", "timestamp")]
    row = df.collect()[0]
    assert row.d == d and row.ts == ts
    parts = df.select(F.year("d"), F.month("d"), F.hour("ts"), F.dayofweek("d")).first()
    assert tuple(parts) == (2024, 3, 12, d.isoweekday() % 7 + 1)


def test_fillna_and_dropna(prices):
    filled = prices.fillna(0.0)
    assert filled.filter(F.col("close").isNull()).count() == 0
    assert prices.dropna().count() == len([r for r in ROWS if None not in r])


def test_repartition_and_coalesce_keep_rows(prices):
    assert prices.repartition(4).count() == len(ROWS)
    assert prices.repartition(3, "symbol").count() == len(ROWS)
    assert prices.coalesce(1).count() == len(ROWS)


def test_to_schema_reorders_and_casts(spark):
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    df = spark.createDataFrame([("a", 1)], "s STRING, i INT")
    target = StructType([StructField("i", LongType()), StructField("s", StringType())])
    out = df.to(target)
    assert out.dtypes == [("i", "bigint"), ("s", "string")]
    assert tuple(out.first()) == (1, "a")


def test_union_by_name_allow_missing_columns_fills_both_sides(spark):
    # the example in PySpark's documentation of unionByName
    df1 = spark.createDataFrame([[1, 2, 3]], ["col0", "col1", "col2"])
    df2 = spark.createDataFrame([[4, 5, 6]], ["col1", "col2", "col3"])
    out = df1.unionByName(df2, allowMissingColumns=True)
    assert out.columns == ["col0", "col1", "col2", "col3"]
    assert sorted((tuple(r) for r in out.collect()), key=str) == sorted([(1, 2, 3, None), (None, 4, 5, 6)], key=str)


def test_repeated_output_names(spark):
    # Spark keeps both columns under one name (python/spark_reference/dataframe_names.out).
    rows = spark.range(3).select("id", "id").collect()
    assert [list(r) for r in rows] == [[0, 0], [1, 1], [2, 2]]
    assert spark.range(3).select("id", "id").columns == ["id", "id"]
    counted = spark.range(3).groupBy().agg(F.count("id"), F.count("id"))
    assert counted.columns == ["count(id)", "count(id)"]
    assert list(counted.first()) == [3, 3]
    # Two different columns under one name: a later reference to it is ambiguous.
    two = spark.range(3).select("id", (F.col("id") + 1).alias("id"))
    with pytest.raises(AnalysisException) as e:
        two.select("id").collect()
    assert e.value.getCondition() == "AMBIGUOUS_REFERENCE"


def test_struct_field_names(spark):
    # Fields are named after columns, else col1, col2, ... (python/spark_reference/dataframe_names.out).
    df = spark.createDataFrame([(1, "x")], "id int, n string")
    expected = "struct<struct(id, n):struct<id:int,n:string>,struct((id + 1)):struct<col1:int>>"
    assert df.select(F.struct("id", "n"), F.struct(F.col("id") + 1)).schema.simpleString() == expected
    assert df.selectExpr("struct(id, n)", "id + 1").schema.simpleString() == (
        "struct<struct(id, n):struct<id:int,n:string>,(id + 1):int>"
    )
    assert df.select(F.struct("id", "n").alias("s")).first().s.asDict() == {"id": 1, "n": "x"}


def test_collect_returns_rows_in_partition_order(spark, tmp_path):
    # Spark's collect concatenates partitions in order: a union's left rows come first, and a
    # filtered file or local relation keeps its row order.
    assert [r.id for r in spark.range(0, 3).union(spark.range(10, 13)).collect()] == [0, 1, 2, 10, 11, 12]
    values = [(i * 7919) % 10007 for i in range(20000)]
    df = spark.createDataFrame([(v,) for v in values], "v int")
    assert [r.v for r in df.filter("v % 2 = 0").collect()] == [v for v in values if v % 2 == 0]
    path = tmp_path / "ordered.csv"
    path.write_text("v\n" + "\n".join(str(v) for v in values) + "\n")
    read = spark.read.option("header", True).schema("v int").csv(str(path))
    assert [r.v for r in read.filter("v > 100").collect()] == [v for v in values if v > 100]


def test_column_metadata_follows_the_column(spark):
    # Spark keeps an alias's metadata on the column, through later projections and filters;
    # withMetadata sets it on an existing column
    df = spark.createDataFrame([(2, "Alice"), (5, "Bob")], ["age", "name"])
    meta = {"max": 99, "unit": "years", "tags": ["a", "b"]}
    aliased = df.select(df.age.alias("age3", metadata=meta), "name")
    assert aliased.schema["age3"].metadata == meta
    later = aliased.filter(F.col("age3") > 3).select("age3")
    assert later.schema["age3"].metadata == meta
    assert [r.age3 for r in later.collect()] == [5]
    assert df.withMetadata("age", {"foo": "bar"}).schema["age"].metadata == {"foo": "bar"}
    assert df.schema["age"].metadata == {}


def test_mode_is_the_most_frequent_value_lowest_on_ties(spark):
    import collections

    rows = [(k, v) for k, v in zip("abcabcabcaab", [3, 1, 2, 3, 1, 5, 4, 5, 5, None, 4, None])]
    df = spark.createDataFrame(rows, "k string, v int")
    got = {r.k: r.m for r in df.groupBy("k").agg(F.mode("v").alias("m")).collect()}
    expected = {}
    for k in {k for k, _ in rows}:
        counts = collections.Counter(v for kk, v in rows if kk == k and v is not None)
        top = max(counts.values())
        expected[k] = min(v for v, c in counts.items() if c == top)
    assert got == expected
    assert df.filter(F.col("v").isNull()).select(F.mode("v")).first()[0] is None


def test_arrays_overlap_follows_sparks_null_rule(spark):
    # Spark: true when a non-null element is in both; else null when both are non-empty and
    # either holds a null; else false (a null array gives null)
    rows = [
        ([1, 2], [2, 3]),
        ([1, None], [3, None]),
        ([1], [2, 3]),
        ([], [None]),
        (None, [1]),
        ([None, 4], [4]),
    ]
    df = spark.createDataFrame(rows, "x array<int>, y array<int>")
    got = [r[0] for r in df.select(F.arrays_overlap("x", "y")).collect()]

    def spark_rule(x, y):
        if x is None or y is None:
            return None
        if {v for v in x if v is not None} & {v for v in y if v is not None}:
            return True
        if x and y and (None in x or None in y):
            return None
        return False

    assert got == [spark_rule(x, y) for x, y in rows]


def test_zip_with_index_numbers_rows_in_partition_order(spark):
    df = spark.createDataFrame([("a", 1), ("b", 2), ("c", 3)], ["letter", "number"])
    assert [tuple(r) for r in df.zipWithIndex().collect()] == [("a", 1, 0), ("b", 2, 1), ("c", 3, 2)]
    assert df.zipWithIndex("row_id").columns == ["letter", "number", "row_id"]
    # over 8 partitions of a range the index is the row's position, which is its id
    rows = spark.range(0, 1000, 1, 8).zipWithIndex("i").collect()
    assert all(r.id == r.i for r in rows) and len(rows) == 1000
    # after a shuffle: 0..n-1, and the rows of each partition (as they were when numbered)
    # hold one run of consecutive indexes, the partitions' runs in partition order
    shuffled = (
        spark.range(0, 1000, 1, 8).repartition(5).withColumn("p", F.spark_partition_id()).zipWithIndex("i")
    )
    by_part = {}
    for r in shuffled.collect():
        by_part.setdefault(r.p, []).append(r.i)
    assert sorted(i for part in by_part.values() for i in part) == list(range(1000))
    assert len(by_part) == 5
    start = 0
    for p in sorted(by_part):
        assert sorted(by_part[p]) == list(range(start, start + len(by_part[p])))
        start += len(by_part[p])


def test_transpose_is_sparks(spark):
    # python/spark_reference/transpose.out: index values sorted into columns, values widened
    df = spark.createDataFrame([("B", 1, 2.5), ("A", 3, 4.0), ("C", None, 1.0)], ["id", "val1", "val2"])
    t = df.transpose()
    assert t.dtypes == [("key", "string"), ("A", "double"), ("B", "double"), ("C", "double")]
    assert [tuple(r) for r in t.collect()] == [("val1", 3.0, 1.0, None), ("val2", 4.0, 2.5, 1.0)]
    df = spark.createDataFrame([(2, "x", "y"), (1, "z", None)], ["k", "a", "b"])
    t = df.transpose()
    assert t.dtypes == [("key", "string"), ("1", "string"), ("2", "string")]
    assert [tuple(r) for r in t.collect()] == [("a", "z", "x"), ("b", None, "y")]
    with pytest.raises(AnalysisException) as e:
        df.transpose(df.a).collect()
    assert e.value.getCondition() == "TRANSPOSE_NO_LEAST_COMMON_TYPE"


def test_col_regex_selects_whole_name_matches(spark):
    # Java regular expressions, matched against whole names (python/spark_reference/transpose.out)
    df = spark.createDataFrame([("a", 1, 2)], ["Col1", "Col2", "C3"])
    assert df.select(df.colRegex("`(Col1)?+.+`")).columns == ["Col2", "C3"]
    assert df.select(df.colRegex("`Col.`")).columns == ["Col1", "Col2"]
    assert df.select(df.colRegex("`C`")).columns == []
