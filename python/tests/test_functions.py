"""Spark's function library, family by family (function_cases.py): every expression is evaluated by
Spate and compared with Apache Spark 4.0.1's column name, type and values (python/spark_reference/
functions.py and .out). Expressions Spate does not yet get right are listed in GAPS and run as
strict xfails, so the list shrinks as they are fixed."""

import json
import math
from pathlib import Path

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from function_cases import CASES, ROWS, SCHEMA, SQL_CASES, plain, sql_query

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "functions.out"
SPARK = {(c["family"], c["expr"]): c for c in map(json.loads, REFERENCE.read_text().splitlines()) if "expr" in c}

# (family, expression) -> what is wrong today
GAPS = {
}


def same(a, b):
    if isinstance(a, float) and isinstance(b, (float, int)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def params(cases, gaps, prefix=""):
    for family, kind, text in cases:
        marks = [pytest.mark.xfail(strict=True, reason=gaps[(family, text)])] if (family, text) in gaps else []
        yield pytest.param(family, kind, text, id=f"{prefix}{family}:{text}", marks=marks)


def check(expected, make):
    """Runs one case (`make` builds its DataFrame) and compares it with Spark's answer."""
    if "error" in expected:
        with pytest.raises(Exception) as info:
            make().collect()
        assert expected["error"] in str(info.value)
        return
    out = make()
    values = [plain(r[0]) for r in out.collect()]
    field = out.schema.fields[0]
    assert (field.name, field.dataType.simpleString()) == (expected["name"], expected["type"])
    assert same(values, expected["values"]), values


@pytest.fixture(scope="module")
def table(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark.createDataFrame(ROWS, SCHEMA)


@pytest.mark.parametrize("family,kind,text", list(params(CASES, GAPS)))
def test_function_matches_spark(table, family, kind, text):
    expr = eval(text, {"F": F, "Window": Window})
    check(SPARK[(family, text)], lambda: table.agg(expr) if kind == "agg" else table.orderBy("i").select(expr))


def test_unknown_function_is_unresolved_routine(spark):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException) as info:
        spark.range(1).select(F.call_function("no_such_function", F.col("id"))).collect()
    assert "UNRESOLVED_ROUTINE" in str(info.value)


SQL_SPARK = {(c["family"], c["sql"]): c for c in map(json.loads, REFERENCE.read_text().splitlines()) if "sql" in c}
# (family, select item) -> what is wrong today
SQL_GAPS = {
    ("string", "trim(BOTH 'a' FROM g)"): "the TRIM syntax with a side is planned as btrim/ltrim/rtrim and named so",
    ("string", "trim(LEADING 'H' FROM s)"): "the TRIM syntax with a side is planned as btrim/ltrim/rtrim and named so",
    ("collection", "transform(arr, x -> x * 2)"): "lambdas keep DataFusion's names and bigint literals inside them",
    ("collection", "filter(arr, x -> x > 1)"): "lambdas keep DataFusion's names",
}


@pytest.mark.parametrize("family,kind,item", list(params(SQL_CASES, SQL_GAPS, "sql-")))
def test_sql_function_matches_spark(table, family, kind, item):
    """The same families through spark.sql: SQL text resolves a name as the DataFrame API does."""
    table.createOrReplaceTempView("fn")
    check(SQL_SPARK[(family, item)], lambda: table.sparkSession.sql(sql_query(kind, item)))


def test_percentiles_of_a_group_without_values_are_null(spark):
    """Spark: percentile and percentile_approx of a group whose values are all null are null."""
    df = spark.createDataFrame([("a", None), ("a", None), ("b", 4)], "g string, v int")
    got = {
        r["g"]: (r["p"], r["q"], r["qs"])
        for r in df.groupBy("g").agg(
            F.percentile("v", 0.5).alias("p"),
            F.percentile_approx("v", 0.5).alias("q"),
            F.percentile_approx("v", [0.1, 0.9]).alias("qs"),
        ).collect()
    }
    assert got == {"a": (None, None, None), "b": (4.0, 4, [4, 4])}


def test_try_arithmetic_is_null_where_the_operator_fails(spark):
    import datetime
    import sys

    big = sys.maxsize  # Long.MaxValue
    df = spark.createDataFrame([(big, 1, 0, 6000, 15)], "l bigint, one bigint, z int, a int, b int")
    row = df.select(
        F.try_add("l", "one").alias("add_over"),
        F.try_subtract(F.lit(-big - 1), "one").alias("sub_over"),
        F.try_multiply("l", F.lit(2)).alias("mul_over"),
        F.try_multiply("a", "b").alias("mul"),
        F.try_add("a", "b").alias("add"),
        F.try_divide("a", "b").alias("div"),
        F.try_divide("a", "z").alias("div_zero"),
        F.try_multiply(F.lit(2**31 - 1), F.lit(2)).alias("int_over"),
    ).first()
    assert row.asDict() == {
        "add_over": None, "sub_over": None, "mul_over": None, "mul": 90000, "add": 6015,
        "div": 400.0, "div_zero": None, "int_over": None,
    }
    # int stays int: an int result past 2^31 - 1 is an overflow even though a long would hold it
    assert dict(df.select(F.try_multiply("a", "b")).dtypes) == {"try_multiply(a, b)": "int"}
    # dates plus and minus days
    d = spark.createDataFrame([(datetime.date(2015, 9, 30),)], ["d"])
    got = d.select(F.try_add("d", F.lit(1)), F.try_subtract("d", F.lit(30))).first()
    assert tuple(got) == (datetime.date(2015, 10, 1), datetime.date(2015, 8, 31))
    # intervals scaled as Spark does: 4 years 3 months * 4 = 17 years; 1 year / 2 = 6 months
    iv = spark.range(1).select(F.make_interval(F.lit(4), F.lit(3)).alias("i"), F.make_interval(F.lit(1)).alias("y"))
    shown = iv.select(F.try_multiply("i", F.lit(4)), F.try_divide("y", F.lit(2)), F.try_divide("y", F.lit(0)))
    cells = [c.strip() for c in shown._show_string().splitlines()[3].split("|")[1:-1]]
    assert cells == ["17 years", "6 months", "NULL"]


def test_year_month_intervals_are_sparks(spark):
    # Spark 4.2.1's names, types and shown values (python/spark_reference/intervals.py)
    reference = Path(__file__).resolve().parents[1] / "spark_reference" / "intervals.out"
    cases = {c["case"]: c for c in map(json.loads, reference.read_text().splitlines())}
    literals = "SELECT INTERVAL 1 YEAR, INTERVAL '1-2' YEAR TO MONTH, INTERVAL 3 MONTH, " \
        "INTERVAL -2 YEAR, INTERVAL '-1-2' YEAR TO MONTH, INTERVAL '14' MONTH"
    values = "SELECT * FROM VALUES (DATE'2015-09-30', INTERVAL 1 YEAR, INTERVAL 2 YEAR) AS t(d, a, b)"
    tried = spark.sql(values).select(
        F.try_add("d", "a"), F.try_subtract("d", "a"), F.try_add("a", "b"), F.try_subtract("a", "b")
    )
    for name, df in {"literals": spark.sql(literals), "values": spark.sql(values), "try": tried}.items():
        assert df.columns == cases[name]["columns"], name
        assert [f.dataType.simpleString() for f in df.schema] == cases[name]["types"], name
        assert df._show_string() == cases[name]["show"], name
