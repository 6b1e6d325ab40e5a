"""Spark SQL through spark.sql: queries, parameters, temporary views and catalog statements."""

import pytest
from pyspark.errors import AnalysisException, ParseException


def test_query_with_arithmetic_and_literals(spark):
    row = spark.sql("SELECT 1 + 2 AS three, 'x' AS s, 1.5 AS d").first()
    assert row.three == 3 and row.s == "x"
    assert float(row.d) == 1.5


def test_temp_view_from_dataframe(spark):
    spark.createDataFrame([(1, "a"), (2, "b"), (3, "a")], ["id", "k"]).createOrReplaceTempView("t_sql")
    rows = spark.sql("SELECT k, count(*) AS n FROM t_sql GROUP BY k ORDER BY k").collect()
    assert [(r.k, r.n) for r in rows] == [("a", 2), ("b", 1)]


def test_positional_and_named_parameters(spark):
    spark.createDataFrame([(1,), (5,), (9,)], ["v"]).createOrReplaceTempView("t_params")
    assert spark.sql("SELECT v FROM t_params WHERE v > ? ORDER BY v", args=[3]).collect()[0].v == 5
    got = spark.sql("SELECT v FROM t_params WHERE v > :lo ORDER BY v", args={"lo": 6}).collect()
    assert [r.v for r in got] == [9]


def test_create_temp_view_in_sql_and_show_tables(spark):
    spark.sql("CREATE OR REPLACE TEMP VIEW v_sql AS SELECT 42 AS answer")
    assert spark.table("v_sql").first().answer == 42
    names = [r.tableName for r in spark.sql("SHOW TABLES").collect()]
    assert "v_sql" in names
    spark.sql("DROP VIEW v_sql")
    with pytest.raises(AnalysisException):
        spark.table("v_sql").collect()


def test_parse_error(spark):
    with pytest.raises(ParseException):
        spark.sql("SELEC 1").collect()


def test_missing_table(spark):
    with pytest.raises(AnalysisException) as e:
        spark.sql("SELECT * FROM no_such_table").collect()
    assert e.value.getCondition() == "TABLE_OR_VIEW_NOT_FOUND"


def test_create_table_insert_and_drop(spark):
    spark.sql("DROP TABLE IF EXISTS sql_tbl")
    spark.sql("CREATE TABLE sql_tbl USING parquet AS SELECT 1 AS id, 'a' AS k")
    spark.sql("INSERT INTO sql_tbl VALUES (2, 'b'), (3, 'a')")
    rows = spark.sql("SELECT k, sum(id) AS s FROM sql_tbl GROUP BY k ORDER BY k").collect()
    assert [(r.k, r.s) for r in rows] == [("a", 4), ("b", 2)]
    assert spark.table("sql_tbl").count() == 3
    spark.sql("INSERT OVERWRITE sql_tbl SELECT 9, 'z'")
    assert [tuple(r) for r in spark.table("sql_tbl").collect()] == [(9, "z")]
    spark.sql("DROP TABLE sql_tbl")
    assert not spark.catalog.tableExists("sql_tbl")


def test_create_empty_partitioned_table(spark):
    spark.sql("DROP TABLE IF EXISTS sql_parts")
    spark.sql("CREATE TABLE sql_parts (v INT, day STRING) USING parquet PARTITIONED BY (day)")
    assert spark.table("sql_parts").count() == 0
    spark.sql("INSERT INTO sql_parts VALUES (1, 'd1'), (2, 'd2')")
    assert sorted(tuple(r) for r in spark.table("sql_parts").collect()) == [(1, "d1"), (2, "d2")]
    assert [c.name for c in spark.catalog.listColumns("sql_parts") if c.isPartition] == ["day"]


def test_databases_in_sql(spark):
    spark.sql("CREATE DATABASE IF NOT EXISTS sales")
    assert spark.catalog.databaseExists("sales")
    spark.sql("USE sales")
    try:
        assert spark.catalog.currentDatabase() == "sales"
        spark.createDataFrame([(1,)], ["x"]).write.mode("overwrite").saveAsTable("orders")
        assert spark.table("sales.orders").count() == 1
        # Spark lists the session's temporary views in every database too.
        assert [t.name for t in spark.catalog.listTables("sales") if not t.isTemporary] == ["orders"]
    finally:
        spark.sql("USE default")


def test_division_in_sql_matches_spark(server):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import SparkSession

    s = SparkSession.builder.remote(server["url"]).create()
    try:
        assert s.sql("SELECT 1 / 2 AS h").first().h == 0.5
        with pytest.raises(ArithmeticException):
            s.sql("SELECT 1 / 0 AS z").collect()
        s.conf.set("spark.sql.ansi.enabled", "false")
        assert s.sql("SELECT 1 / 0 AS z").first().z is None
        assert s.range(1).selectExpr("id / 0 AS z").first().z is None
    finally:
        s.stop()


@pytest.fixture
def events(spark):
    from datetime import date

    rows = [("a", date(2024, 1, 5), None), ("a", date(2024, 3, 1), 4), ("b", date(2023, 7, 9), 2), ("b", date(2024, 2, 2), None)]
    spark.createDataFrame(rows, "k string, d date, v int").createOrReplaceTempView("ev")
    return rows


def test_spark_functions_group_filter_and_order_in_sql(spark, events):
    """Spark functions DataFusion lacks (year, first ... IGNORE NULLS, count_if with FILTER)
    work in every clause of SQL text, as in the DataFrame API."""
    rows = spark.sql(
        "SELECT year(d) AS y, count_if(v > 1) FILTER (WHERE k = 'a') AS c, first(v) IGNORE NULLS AS f "
        "FROM ev WHERE month(d) < 7 OR dayofmonth(d) = 9 GROUP BY year(d) HAVING count(*) > 0 ORDER BY year(d)"
    ).collect()
    by_year = {}
    for k, d, v in sorted(events, key=lambda r: r[1]):
        by_year.setdefault(d.year, []).append((k, v))
    expected = [
        (y, sum(1 for k, v in kv if k == "a" and v is not None and v > 1), next((v for _, v in kv if v is not None), None))
        for y, kv in sorted(by_year.items())
    ]
    assert [(r.y, r.c, r.f) for r in rows] == expected


def test_spark_functions_in_expression_strings(spark, events):
    df = spark.table("ev")
    got = df.orderBy("d").selectExpr("k", "date_format(d, 'yyyy/MM')", "nvl(v, -1)").collect()
    expected = [(k, d.strftime("%Y/%m"), -1 if v is None else v) for k, d, v in sorted(events, key=lambda r: r[1])]
    assert [tuple(r) for r in got] == expected
    assert list(got[0].asDict()) == ["k", "date_format(d, yyyy/MM)", "nvl(v, -1)"]
    agg = df.groupBy("k").agg({"v": "max"}).orderBy("k").selectExpr("k", "`max(v)` * 2 AS m").collect()
    assert [(r.k, r.m) for r in agg] == [("a", 8), ("b", 4)]


def test_rlike_and_not_rlike(spark, events):
    got = spark.sql("SELECT k, k RLIKE '^a' AS a, k NOT REGEXP '^a' AS na FROM ev ORDER BY d").collect()
    assert [(r.a, r.na) for r in got] == [(r.k == "a", r.k != "a") for r in got]


def spark_like(value, pattern):
    """Spark's LIKE, as documented, for patterns without `_` or escapes: `%` is any run of
    characters (line breaks included), the rest must match exactly, the whole value."""
    import re

    if value is None:
        return None
    regex = ".*".join(re.escape(piece) for piece in pattern.split("%"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def test_like_with_several_pieces(spark):
    # Patterns of several pieces between `%`s (TPC-H q13's and q16's) are matched by finding
    # the pieces in order; a piece may not overlap the one anchored at the end
    values = [
        "the special, careful requests sleep", "special requests", "specialrequests",
        "requests special", "special request", "special\nrequests", "aba", "abab", "ab",
        "xéyüz", "", None,
    ]
    patterns = ["%special%requests%", "special%requests", "ab%ba", "ab%ab%", "%a%%b", "%é%ü%"]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, s string")
    df.createOrReplaceTempView("t_like")
    cols = ", ".join(f"s LIKE '{p}' AS l{n}, s NOT LIKE '{p}' AS n{n}" for n, p in enumerate(patterns))
    got = spark.sql(f"SELECT i, {cols} FROM t_like ORDER BY i").collect()
    for row in got:
        for n, p in enumerate(patterns):
            want = spark_like(values[row.i], p)
            assert row[f"l{n}"] == want, (values[row.i], p)
            assert row[f"n{n}"] == (None if want is None else not want), (values[row.i], p)
    # in a filter, the plan still reads as Spark's LIKE
    q = spark.sql("SELECT i FROM t_like WHERE s NOT LIKE '%special%requests%' ORDER BY i")
    assert [r.i for r in q.collect()] == [
        i for i, v in enumerate(values) if v is not None and not spark_like(v, "%special%requests%")
    ]
    assert "NOT LIKE %special%requests%" in q._explain_string(mode="formatted")


def test_unknown_function_in_sql_is_unresolved_routine(spark):
    with pytest.raises(AnalysisException) as info:
        spark.sql("SELECT no_such_fn(1)").collect()
    assert "UNRESOLVED_ROUTINE" in str(info.value) and "no_such_fn" in str(info.value)


def test_regexp_replace_replaces_every_match_from_a_position(spark):
    # Spark 4.0.1: 'abcaxc' (the search starts at the 3rd character); position 0 is
    # DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE
    row = spark.sql("SELECT regexp_replace('abcabc', 'b', 'x') AS a, regexp_replace('abcabc', 'b', 'x', 3) AS b").first()
    assert (row.a, row.b) == ("axcaxc", "abcaxc")
    with pytest.raises(AnalysisException) as info:
        spark.sql("SELECT regexp_replace('abc', 'b', 'x', 0)").collect()
    assert "DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE" in str(info.value)
